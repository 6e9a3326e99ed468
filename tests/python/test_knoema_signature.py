"""The signed `Knoema` header, made by hand as Knoema documents it (docs/providers/knoema.md#signed-header), against a frozen
virtual clock: current and previous UTC hour accepted; a header signed two hours ago, one with
key and message swapped, one with a wrong secret rejected with 403, each journal event naming
the likely cause."""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest
import requests

NOW = datetime(2024, 1, 2, 3, 20, tzinfo=timezone.utc)
APP, SECRET = "demo-app", "demo-app-secret"


def hour(at):
    return at.strftime("%d-%m-%y-%H")


def header(app, digest):
    return f"Knoema {app}:{base64.b64encode(digest).decode()}:1.2"


def signed(at, secret=SECRET, app=APP):
    return header(app, hmac.new(hour(at).encode(), secret.encode(), hashlib.sha1).digest())


@pytest.fixture
def api(mock):
    requests.post(f"{mock.admin}/clock", json={"set": NOW.isoformat(), "freeze": True}, timeout=10).raise_for_status()
    base = mock.service("knoema.api")

    def call(authorization):
        return requests.get(f"{base}/api/1.0/meta/dataset/DEMOSALES", headers={"Authorization": authorization}, timeout=10)

    return call


def last_denial(mock):
    denied = mock.events(provider="knoema", kind="api.denied")
    assert denied, "no api.denied event"
    return denied[-1]


def test_contract_test_vector():
    assert signed(datetime(2024, 1, 2, 3, 41), secret="s3cr3t").split(":")[1] == "b/6yWnLv5KieYNXaGNCYAjGxxhI="


def test_current_and_previous_hour_are_accepted(api, mock):
    for at in (NOW, NOW - timedelta(hours=1)):
        r = api(signed(at))
        assert r.status_code == 200, r.text
        assert r.json()["id"] == "DEMOSALES"
    assert [e["token_id"] for e in mock.events(provider="knoema", kind="api.authorized")] == ["signature:02-01-24-03"] * 2


def test_signed_two_hours_ago_is_rejected_as_stale(api, mock):
    r = api(signed(NOW - timedelta(hours=2)))
    assert r.status_code == 403
    assert "02-01-24" not in r.text, "the answer says nothing; the journal does"
    e = last_denial(mock)
    assert e["status"] == 403 and e["client_id"] == APP
    assert "stale hour" in e["reason"]
    assert "'02-01-24-01' (2 hours ago)" in e["reason"]
    assert "'02-01-24-03' (current UTC hour)" in e["reason"] and "'02-01-24-02' (previous)" in e["reason"]


def test_key_and_message_swapped_is_rejected_and_named(api, mock):
    swapped = header(APP, hmac.new(SECRET.encode(), hour(NOW).encode(), hashlib.sha1).digest())
    assert api(swapped).status_code == 403
    reason = last_denial(mock)["reason"]
    assert "key and message swapped" in reason and "HMAC-SHA1(key = \"dd-MM-yy-HH\" in UTC, message = app secret)" in reason


def test_wrong_secret_is_rejected_and_named(api, mock):
    assert api(signed(NOW, secret="not-the-secret")).status_code == 403
    assert "wrong secret" in last_denial(mock)["reason"]


def test_local_time_instead_of_utc_is_named(api, mock):
    assert api(signed(NOW + timedelta(hours=2))).status_code == 403
    reason = last_denial(mock)["reason"]
    assert "local time instead of UTC" in reason and "UTC+2" in reason


def test_other_apps_secret_and_unknown_app_and_bad_version(api, mock):
    assert api(signed(NOW, secret="open-app-secret")).status_code == 403
    assert "another app's secret" in last_denial(mock)["reason"]
    assert api(signed(NOW, app="nobody")).status_code == 403
    assert "unknown app 'nobody'" in last_denial(mock)["reason"]
    assert api(signed(NOW).replace(":1.2", ":1.1")).status_code == 403
    assert "must end with ':1.2'" in last_denial(mock)["reason"]


def test_client_id_without_secret_sees_only_public_data(mock):
    base = mock.service("knoema.api")
    r = requests.get(f"{base}/api/1.0/meta/dataset/DEMOSALES?client_id={APP}", timeout=10)
    assert r.status_code == 200 and r.json() == "Requested dataset doesn't exist or you don't have access to it."
    r = requests.get(f"{base}/api/1.0/meta/dataset/IMFWEO2024Oct", headers={"Authorization": f"Knoema {APP}"}, timeout=10)
    assert r.status_code == 200 and r.json()["id"] == "IMFWEO2024Oct"
    r = requests.get(f"{base}/api/1.0/meta/dataset/IMFWEO2024Oct?client_id=nobody", timeout=10)
    assert r.status_code == 403
