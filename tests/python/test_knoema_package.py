"""The real `knoema` package (PyPI) against the mock, pointed at it only through KNOEMA_HOST.

The package takes a host, not a base URL: it is served from the knoema.api service's own
listener (the endpoints file's `services["knoema.api"]`, `http://127.0.0.1:PORT`). It signs its
requests with the real UTC hour, so these tests leave the virtual clock at real time unless they
move it on purpose.
"""

import os
import subprocess
import sys
import urllib.error
from datetime import datetime

import pytest
import requests

knoema = pytest.importorskip("knoema")

import knoema_support  # noqa: E402 (after the importorskip above)
from knoema_support import DEMO_APP  # noqa: E402
UNKNOWN = "Requested dataset doesn't exist or you don't have access to it."


@pytest.fixture
def host(mock, monkeypatch):
    """KNOEMA_HOST set as a user would; the package's ApiConfig singleton re-reads it."""
    url = mock.service("knoema.api")
    monkeypatch.setenv("KNOEMA_HOST", url)
    with knoema_support.fresh_config():
        yield url


def sign_in(app_id, secret):
    config = knoema.ApiConfig()
    config.app_id = app_id
    config.app_secret = secret


def column(frame, *labels):
    """Values of one series column, by its (dimension members..., frequency) labels."""
    return [None if v != v else round(float(v), 4) for v in frame[labels].tolist()]


def test_service_url_is_a_bare_host_for_the_package(mock):
    url = mock.service("knoema.api")
    assert url.startswith("http://127.0.0.1:") and url.count("/") == 2, url
    # The same service under its prefix on the shared listeners.
    meta = requests.get(mock.endpoints["https"] + "/knoema/api/api/1.0/meta/dataset/IMFWEO2024Oct", timeout=10)
    assert meta.status_code == 200 and meta.json()["id"] == "IMFWEO2024Oct"
    meta = requests.get(mock.endpoints["http"] + "/knoema/api/api/1.0/meta/dataset/IMFWEO2024Oct", timeout=10)
    assert meta.json()["type"] == "Regular"


def test_get_anonymously_returns_the_fixture_values(host, mock):
    frame = knoema.get("IMFWEO2024Oct", country="Albania;US", subject="NGDPD")
    assert list(frame.columns.names) == ["Country", "Subject", "Frequency"]
    gdp = "Gross domestic product, current prices (U.S. dollars)"
    assert column(frame, "Albania", gdp, "A") == [15.16, 15.40, 15.16, 18.26, 19.02, 23.00]
    assert column(frame, "United States", gdp, "A") == [20533.1, 21381.0, 21060.5, 23315.1, 25744.1, 27357.8]
    assert [d.year for d in frame.index] == list(range(2018, 2024))
    authorized = mock.events(provider="knoema", kind="api.authorized")
    assert authorized and all(e["client_id"] == "anonymous" for e in authorized)


def test_get_with_app_id_and_secret_signs_and_sees_private_data(host, mock):
    with pytest.raises(ValueError, match=UNKNOWN):
        knoema.get("DEMOSALES", region="North")
    sign_in(*DEMO_APP)
    frame = knoema.get("DEMOSALES", region="North")
    assert column(frame, "North", "Q") == [120.5, 131.0, 128.4, 140.2, 133.9, 145.1]
    assert frame.index[0] == datetime(2023, 1, 1) and frame.index[-1] == datetime(2024, 4, 1)
    signed = [e for e in mock.events(provider="knoema", kind="api.authorized") if e["client_id"] == "demo-app"]
    assert signed and all(e["token_id"].startswith("signature:") for e in signed)
    exchange = [e for e in mock.events(provider="knoema", kind="http.exchange") if e["auth_scheme"] == "Knoema"]
    assert exchange, "the package sent the signed Knoema header"
    assert all("demo-app-secret" not in str(e) for e in mock.events())


def test_whole_dataset_comes_through_continuation_tokens(host, mock):
    frame = knoema.get("IMFWEO2024Oct", subject="LP;PCPIPCH;NGDPD")
    assert frame.shape == (6, 12)
    pages = [e for e in mock.events(provider="knoema", kind="http.exchange") if e["path"] == "/api/1.0/data/raw/"]
    assert len(pages) == 2, "12 series at 5 a page: one data call and two continuation pages"
    # A missing value stays missing.
    assert column(frame, "Afghanistan", "Gross domestic product, current prices (U.S. dollars)", "A")[-1] is None


def test_monthly_and_flat_datasets_and_time_filters(host):
    gold = knoema.get("COMMODITY2023M", commodity="XAU", timerange="2023M3-2023M5")
    assert column(gold, "Gold", "M") == [1912.0, 1999.0, 1991.0]
    last = knoema.get("COMMODITY2023M", commodity="Brent crude oil", timelast="2")
    assert column(last, "Brent crude oil", "M") == [83.2, 77.9]
    plants = knoema.get("POWERPLANTS", country="France")
    assert list(plants.columns) == ["Country", "Fuel", "Plant", "Capacity (MW)", "Commissioned"]
    assert sorted(plants["Plant"]) == ["Cestas", "Flamanville"]
    assert sorted(plants["Capacity (MW)"]) == [300.0, 2660.0]


def test_raw_path_with_columns_and_mnemonics(host):
    frame = knoema.get("IMFWEO2024Oct", country="DEU", subject="LP", columns="Unit")
    assert column(frame, "Germany", "Population (Persons)", "A") == [82.9, 83.1, 83.2, 83.2, 83.8, 84.5]
    both = knoema.get(mnemonics="WEO.ALB.NGDPD;CMD.BRENT.M")
    assert sorted(both.columns) == ["CMD.BRENT.M", "WEO.ALB.NGDPD"]
    assert both["CMD.BRENT.M"].dropna().tolist()[:2] == [83.9, 83.5]


def test_dataset_and_dimension_metadata(host):
    meta = knoema.dataset("IMFWEO2024Oct")
    assert meta["id"] == "IMFWEO2024Oct" and meta["type"] == "Regular"
    assert meta["startDate"] == datetime(2018, 1, 1) and meta["endDate"] == datetime(2023, 1, 1)
    assert meta["frequencies"] == ["A"]
    assert meta["publicationDate"] == datetime(2024, 10, 22)
    assert meta["lastUpdate"] == datetime(2024, 10, 22, 9, 30)
    assert [d["id"] for d in meta["dimensions"]] == ["country", "subject"]

    dim = knoema.dimension("IMFWEO2024Oct", "country")
    assert dim.name == "Country" and dim.isGeo is True and dim.datasetId == "IMFWEO2024Oct"
    members = dim.members
    assert members["name"].tolist() == ["Europe", "Albania", "Germany", "Asia", "Afghanistan", "Americas", "United States"]
    albania = members[members["name"] == "Albania"].iloc[0]
    assert albania["parent name"] == "Europe" and albania["regionid"] == "AL" and bool(albania["hasdata"])
    assert not bool(members[members["name"] == "Europe"].iloc[0]["hasdata"])


def test_unknown_dataset_and_bad_filter_raise_the_packages_value_error(host):
    with pytest.raises(ValueError) as unknown:
        knoema.get("NO_SUCH_DATASET", country="x")
    assert str(unknown.value) == UNKNOWN
    with pytest.raises(ValueError, match=UNKNOWN):
        knoema.dataset("NO_SUCH_DATASET")
    # A member the service does not know: 400 with a text body, raised as ValueError.
    with pytest.raises(ValueError, match="Selection for dimension Country contains invalid elements: 'Atlantis'"):
        knoema.get("IMFWEO2024Oct", country="Atlantis")


def test_wrong_secret_gives_403(host, mock):
    sign_in("demo-app", "not-the-secret")
    with pytest.raises(urllib.error.HTTPError) as e:
        knoema.get("IMFWEO2024Oct", country="AL", subject="LP")
    assert e.value.code == 403
    denied = mock.events(provider="knoema", kind="api.denied")
    assert denied[-1]["client_id"] == "demo-app" and "wrong secret" in denied[-1]["reason"]


def test_a_real_hour_behind_the_virtual_clock_is_a_stale_signature(host, mock):
    """The package signs with the real UTC hour; two virtual hours later that hour is stale."""
    mock.advance_clock(2 * 3600)
    sign_in(*DEMO_APP)
    with pytest.raises(urllib.error.HTTPError) as e:
        knoema.dataset("IMFWEO2024Oct")
    assert e.value.code == 403
    reason = mock.events(provider="knoema", kind="api.denied")[-1]["reason"]
    assert "stale hour" in reason and "2 hours ago" in reason, reason


def test_upload_verify_and_delete(host, mock, tmp_path):
    sign_in(*DEMO_APP)
    csv = tmp_path / "plants.csv"
    csv.write_text("Country,Fuel,Capacity,Opened\nGermany,Wind,295,2015-05-01\nFrance,Solar,300,2015-10-01\n")
    dataset_id = knoema.upload(str(csv), name="My plants")
    assert dataset_id and dataset_id.isalpha()
    frame = knoema.get(dataset_id, Fuel="Solar")
    assert frame["Country"].tolist() == ["France"] and frame["Capacity"].tolist() == [300.0]
    written = mock.events(provider="knoema", kind="data.written")
    assert written[-1]["collection"] == dataset_id and written[-1]["count"] == 2
    knoema.verify(dataset_id, datetime(2024, 5, 1), "Demo source", "https://example.com/plants")
    assert knoema.delete(dataset_id) == f"Dataset {dataset_id} has been deleted successfully"
    with pytest.raises(ValueError, match=UNKNOWN):
        knoema.dataset(dataset_id)
    with pytest.raises(urllib.error.HTTPError) as again:
        knoema.delete(dataset_id)
    assert again.value.code == 400


def test_anonymous_callers_may_not_write(host, mock, tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\nx,1\n")
    with pytest.raises(urllib.error.HTTPError) as e:
        knoema.upload(str(csv))
    assert e.value.code == 403
    assert "need a signed request" in mock.events(provider="knoema", kind="api.denied")[-1]["reason"]


def test_a_user_script_configured_only_by_environment(mock):
    script = (
        "import knoema\n"
        "frame = knoema.get('COMMODITY2023M', commodity='PNGASEU', timesince='2023M11')\n"
        "print(frame.iloc[:, 0].tolist())\n"
    )
    env = {**os.environ, "KNOEMA_HOST": mock.service("knoema.api")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[13.6, 11.6]"
