"""Opinum push (standard, 2019, custom) and the Data Hub API, read back through GET data."""

import json

import pytest
import requests

from test_opinum_identity import PUSHER, READER, get_datahub_token


@pytest.fixture
def token(mock):
    return get_datahub_token(mock, *PUSHER)[1]["access_token"]


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def push(mock, token, body, path="/api/data"):
    return requests.post(mock.opinum("push", path), json=body, headers=auth(token), timeout=10)


def read(mock, token, variable, **params):
    r = requests.get(mock.opinum("api", "/data"), params={"variableId": variable, **params}, headers=auth(token), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("identifier,variable", [
    ({"variableId": 101}, 101),
    ({"sourceId": 10, "mappingConfig": "ReactiveEnergy"}, 101),
    ({"sourceSerialNumber": "SN-0002", "mappingConfig": "GasVolume"}, 110),
    ({"sourceEan": "541448820000000017", "mappingConfig": "ActiveEnergy"}, 100),
    ({"sourceName": "Gas meter", "mappingConfig": "GasVolume"}, 110),
    ({"meterNumber": "M-0001", "mappingConfig": "ActiveEnergy"}, 100),
])
def test_every_identifier_kind_lands_and_reads_back(mock, token, identifier, variable):
    body = [{**identifier, "data": [{"date": "2024-03-01T00:00:00", "value": 1.5}, {"date": "2024-03-01T00:15:00Z", "value": 2.5}]}]
    r = push(mock, token, body)
    assert r.status_code == 200, r.text
    rows = read(mock, token, variable)
    assert [(row["date"], row["rawValue"]) for row in rows] == [("2024-03-01T00:00:00Z", 1.5), ("2024-03-01T00:15:00Z", 2.5)]
    assert set(rows[0]) == {"variableId", "date", "rawValue", "minValue", "maxValue", "countValue", "avgValue",
                            "stdevValue", "varianceValue", "sumValue"}
    [written] = mock.events(kind="data.written")
    assert written["count"] == 2
    assert mock.events(kind="push.unmapped") == []


def test_a_push_to_a_missing_structure_is_lost_and_recorded(mock, token):
    body = [{"sourceSerialNumber": "SN-DOES-NOT-EXIST", "mappingConfig": "ActiveEnergy",
             "data": [{"date": "2024-03-01T00:00:00", "value": 9}] * 3},
            {"sourceSerialNumber": "SN-0001", "mappingConfig": "NoSuchVariable", "data": [{"date": "2024-03-01", "value": 1}]},
            {"sourceSerialNumber": "SN-9000", "mappingConfig": "ActiveEnergy", "data": [{"date": "2024-03-01", "value": 1}]},
            {"variableId": 100, "data": [{"date": "2024-03-01", "value": 1}]}]
    r = push(mock, token, body)
    assert r.status_code == 200 and r.content == b"", "Opinum answers success even when the data is lost"
    assert read(mock, token, 100) == [] and read(mock, token, 101) == []
    lost = mock.events(kind="push.unmapped")
    assert [(e["points"], e["reason"].split(":")[0]) for e in lost] == [
        (3, "unknown source"), (1, "unknown variable"), (1, "the source with sourceSerialNumber 'SN-9000' belongs to another account"),
        (1, "its identifier kind differs from the first series' (mixing kinds is not supported)")]
    assert mock.events(kind="data.written") == []


def test_a_series_that_names_nothing_is_lost_for_that_reason_even_first(mock, token):
    """A null `variableId` names no variable: that series is lost, and the next series, the first
    with an identifier, sets the kind for the rest."""
    body = [{"variableId": None, "data": [{"date": "2024-03-02", "value": 1}]},
            {"sourceSerialNumber": "SN-0001", "mappingConfig": "ActiveEnergy", "data": [{"date": "2024-03-02", "value": 2}]},
            {"variableId": 100, "data": [{"date": "2024-03-02", "value": 3}]}]
    r = push(mock, token, body)
    assert r.status_code == 200 and r.content == b""
    lost = mock.events(kind="push.unmapped")
    assert [(e["points"], e["reason"]) for e in lost] == [
        (1, "it names no variable or source: variableId, sourceId, sourceSerialNumber, sourceEan, "
            "sourceName and meterNumber are all missing or null"),
        (1, "its identifier kind differs from the first series' (mixing kinds is not supported): "
            "that one used sourceSerialNumber")]
    [written] = mock.events(kind="data.written")
    assert written["count"] == 1


def test_the_2019_format_and_case_insensitive_names(mock, token):
    r = push(mock, token, {"Data": [{"VariableId": 110, "Date": "2024-01-01T10:00:00", "Value": 7}]}, path="/api/standard")
    assert r.status_code == 200, r.text
    r = push(mock, token, [{"VARIABLEID": 110, "DATA": [{"DATE": "2024-01-01T11:00:00", "VALUE": "8.5"}], "unknownField": True}], path="/api/data/")
    assert r.status_code == 200
    assert [row["rawValue"] for row in read(mock, token, 110)] == [7, 8.5]


def test_custom_push_by_guid(mock, token):
    json_guid, csv_guid = "3f2b8c1e-4d5a-4e6f-9a7b-8c9d0e1f2a3b", "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
    r = requests.post(mock.opinum("push", f"/api/generic/{json_guid}/"), headers=auth(token), timeout=10,
                      json={"readings": [{"meter": "SN-0001", "timestamp": "2024-02-01T00:00:00Z", "kwh": 12.5},
                                         {"meter": "SN-0404", "timestamp": "2024-02-01T00:00:00Z", "kwh": 1}]})
    assert r.status_code == 200
    assert [row["rawValue"] for row in read(mock, token, 100)] == [12.5]
    csv = "Meter;Date;Volume\nM-0002;2024-02-01 06:00:00;3,25\nM-0002;not a date;1\n"
    r = requests.post(mock.opinum("push", f"/api/generic/{csv_guid}"), data=csv, timeout=10,
                      headers={**auth(token), "Content-Type": "text/plain"})
    assert r.status_code == 200
    assert [row["rawValue"] for row in read(mock, token, 110)] == [3.25]
    reasons = [e["reason"] for e in mock.events(kind="push.unmapped")]
    assert any("unknown source" in x for x in reasons) and any("is not a date" in x for x in reasons)
    unknown = requests.post(mock.opinum("push", "/api/generic/00000000-0000-0000-0000-000000000000/"), data="x",
                            headers=auth(token), timeout=10)
    assert unknown.status_code == 404 and unknown.json()["status"] == 404


def test_scopes_and_expiry_are_enforced(mock, token):
    reader = get_datahub_token(mock, *READER, scope=("datahub-api",))[1]["access_token"]
    assert push(mock, reader, [{"variableId": 100, "data": []}]).status_code == 403
    pusher_only = get_datahub_token(mock, *PUSHER, scope=("push-data",))[1]["access_token"]
    assert requests.get(mock.opinum("api", "/sites"), headers=auth(pusher_only), timeout=10).status_code == 403
    assert requests.get(mock.opinum("api", "/sites"), timeout=10).status_code == 401
    mock.advance_clock(3601)
    for r in (push(mock, token, []), requests.get(mock.opinum("api", "/sites"), headers=auth(token), timeout=10)):
        assert r.status_code == 401
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"] and "expired" in r.headers["WWW-Authenticate"]
    # A Kalibrate token is worthless here.
    assert push(mock, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", []).status_code == 401


@pytest.mark.parametrize("body,status,needle", [
    (b'{"variableId": 100}', 400, "must be a JSON array"),
    (b"[1, 2]", 400, "item 0: a time series must be a JSON object"),
    (b'[{"variableId": "one", "data": []}]', 400, "variableId must be an integer"),
    (b'[{"variableId": 100, "data": [{"date": "yesterday", "value": 1}]}]', 400, "item 0, point 0: date"),
    (b'[{"variableId": 100, "data": [{"date": "2024-01-01", "value": [1]}]}]', 400, "is not a number"),
    (b'[{"variableId": 100, "data": {"date": "2024-01-01"}}]', 400, "data must be an array"),
    (b"not json", 400, "not JSON"),
    (b"\xff\xfe\x00", 400, "not JSON"),
])
def test_bad_pushes_get_a_problem_not_a_crash(mock, token, body, status, needle):
    r = requests.post(mock.opinum("push", "/api/data"), data=body, headers={**auth(token), "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == status and needle in r.json()["detail"], r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_a_ten_megabyte_push_is_refused_with_a_message(mock, token):
    big = json.dumps([{"variableId": 100, "data": [{"date": "2024-01-01T00:00:00", "value": 1.0}] * 300_000}])
    assert len(big) > 10_000_000
    r = requests.post(mock.opinum("push", "/api/data"), data=big, headers={**auth(token), "Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413 and "split it" in r.json()["detail"]
