"""The Data Hub API as its .NET and Python clients use it: sites, sources, variables (JSON Patch
in UTF-16 too), variable types, data with aggregation, deletion and storage."""

import json

import pytest
import requests

from test_opinum_identity import PUSHER, get_datahub_token


@pytest.fixture
def api(mock):
    token = get_datahub_token(mock, *PUSHER)[1]["access_token"]
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "X-Opisense-Api-Version": "1.0"})
    base = mock.opinum("api")
    session.url = lambda path: base + path
    session.push = lambda body: requests.post(mock.opinum("push", "/api/data"), json=body, timeout=10,
                                              headers={"Authorization": f"Bearer {token}"})
    return session


def test_build_a_structure_then_push_into_it(api):
    site_id = api.post(api.url("/sites"), json={"Name": "New plant", "TimeZoneId": "GMT Standard Time", "City": "Leeds"}).json()
    assert isinstance(site_id, int), "POST sites answers the new id as a bare integer"
    source = api.post(api.url("/sources"), json={"name": "Plant meter", "siteId": site_id, "serialNumber": "SN-NEW"}).json()
    assert source["siteName"] == "New plant" and source["timeZoneId"] == "GMT Standard Time"
    variable = api.post(api.url(f"/variables/source/{source['id']}"), json={"Name": "Energy", "MappingConfig": "E", "Granularity": 15, "GranularityTimeBase": 2}).json()
    assert variable["sourceId"] == source["id"] and variable["mappingConfig"] == "E"

    # Before the structure existed the data would have been lost; now it lands.
    assert api.push([{"sourceSerialNumber": "SN-NEW", "mappingConfig": "E", "data": [{"date": "2024-05-01T00:00:00Z", "value": 4}]}]).status_code == 200
    rows = api.get(api.url("/data"), params={"filter.variableId": variable["id"], "filter.from": "2024-05-01", "filter.to": "2024-05-02"}).json()
    assert [r["rawValue"] for r in rows] == [4]

    listed = api.get(api.url("/sources"), params={"siteId": site_id}).json()
    assert [s["id"] for s in listed] == [source["id"]]
    assert [v["id"] for v in api.get(api.url(f"/variables/source/{source['id']}")).json()] == [variable["id"]]
    assert api.get(api.url("/api/sites"), params={"siteIds": site_id}).json()[0]["city"] == "Leeds", "the /api prefix works too"


def test_json_patch_in_utf16_as_the_dotnet_sample_sends_it(api):
    patch = json.dumps([{"op": "replace", "path": "/Name", "value": "Siège social"}, {"op": "replace", "path": "/city", "value": "Liège"}])
    r = api.patch(api.url("/sites/1"), data=patch.encode("utf-16"), headers={"Content-Type": "application/json-patch+json; charset=utf-16"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["city"]) == ("Siège social", "Liège")
    assert api.get(api.url("/sources"), params={"ids": 10}).json()[0]["siteName"] == "Siège social"
    bad = api.patch(api.url("/sites/1"), data=b'[{"op": "replace", "path": "/typeId", "value": "not a number"}]')
    assert bad.status_code == 400 and "invalid property value" in bad.json()["detail"]
    assert api.patch(api.url("/sites/2"), json=[]).status_code == 404, "site 2 belongs to another account"


def test_sources_and_variables_update_and_delete(api):
    r = api.put(api.url("/sources/11"), json={"name": "Gas meter (new)", "siteId": 1, "meterNumber": "M-0002"})
    assert r.status_code == 200 and r.json()["name"] == "Gas meter (new)"
    r = api.patch(api.url("/sources/11/variables/110"), json=[{"op": "replace", "path": "/mappingConfig", "value": "Gas"}])
    assert r.json()["mappingConfig"] == "Gas"
    r = api.put(api.url("/sources/11/variables/110"), json={"name": "Gas", "mappingConfig": "Gas2", "granularityTimeBase": 9})
    assert r.status_code == 400 and "granularityTimeBase" in r.json()["detail"]
    assert api.delete(api.url("/sources/11")).status_code == 204
    assert api.get(api.url("/variables"), params={"sourceId": 11}).json() == []
    assert api.delete(api.url("/sources/11")).status_code == 404
    assert api.delete(api.url("/sites/1")).status_code == 400, "a site with sources cannot go"
    assert api.post(api.url("/sources"), json={"name": "x", "siteId": 2}).status_code == 400, "site 2 is another account's"
    assert api.post(api.url("/sites"), json={"city": "no name"}).status_code == 400


def test_data_aggregation_and_deletion(api):
    points = [{"date": f"2024-01-01T{h:02}:{m:02}:00Z", "value": h + m / 60} for h in range(3) for m in (0, 30)]
    assert api.push([{"variableId": 100, "data": points}]).status_code == 200
    hourly = api.get(api.url("/data"), params={"variableId": 100, "granularity": "Hour", "aggregation": "MAX"}).json()
    assert [(r["date"][11:16], r["rawValue"], r["countValue"]) for r in hourly] == [("00:00", 0.5, 2), ("01:00", 1.5, 2), ("02:00", 2.5, 2)]
    daily = api.get(api.url("/data"), params={"variableId": "100,101", "granularity": "Day"}).json()
    assert len(daily) == 1 and daily[0]["sumValue"] == pytest.approx(sum(p["value"] for p in points))
    what_if = api.delete(api.url("/data"), params={"variableIds": 100, "fromDateUtc": "2024-01-01T01:00:00Z", "toDateUtc": "2024-01-01T02:00:00Z", "whatIf": "true"})
    assert what_if.json() == {"results": [{"variableId": 100, "datapointCount": 2}]}
    assert len(api.get(api.url("/data"), params={"variableId": 100}).json()) == 6
    api.delete(api.url("/data"), params={"variableIds": 100, "fromDateUtc": "2024-01-01T01:00:00Z", "toDateUtc": "2024-01-01T02:00:00Z"})
    assert len(api.get(api.url("/data"), params={"variableId": 100}).json()) == 4
    for params, needle in [({}, "variableId is required"), ({"variableId": "x"}, "not an integer"),
                           ({"variableId": 100, "from": "soon"}, "not an ISO 8601 date"), ({"variableId": 100, "granularity": "Fortnight"}, "granularity")]:
        r = api.get(api.url("/data"), params=params)
        assert r.status_code == 400 and needle in r.json()["detail"], (params, r.text)
    assert api.get(api.url("/data"), params={"variableId": 200}).status_code == 404


def test_variable_types_and_storage(api):
    types = api.get(api.url("/variableTypes")).json()
    assert {"id", "name", "aggregate"} <= set(types[0])
    r = api.post(api.url("/storage"), params={"filename": "readings.csv"}, files={"data": ("readings.csv", b"a;b\n1;2\n")})
    assert r.status_code == 200, r.text
    stored = api.get(api.url(f"/storage/{r.json()}"))
    assert stored.content == b"a;b\n1;2\n" and "readings.csv" in stored.headers["Content-Disposition"]
    assert api.post(api.url("/storage"), data=b"not multipart").status_code == 400
    assert api.get(api.url("/storage/nope")).status_code == 404
    assert api.delete(api.url("/variableTypes")).status_code == 405
