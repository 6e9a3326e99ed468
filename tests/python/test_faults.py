"""Fault rules armed through the admin API, met by real clients."""

import msal
import requests

from conftest import READ_CLIENT, SANDPIT_SCOPE
from test_kalibrate_requests import example_token


def test_503_with_retry_after_is_applied_once_and_recorded(mock):
    [rule] = mock.add_fault({
        "provider": "kalibrate", "service": "login", "method": "POST", "route": "/*/oauth2/v2.0/token",
        "times": 1,
        "action": {"status": 503, "headers": {"Retry-After": "7"},
                   "body": {"error": "temporarily_unavailable", "error_description": "AADSTS90033: busy"}},
    })
    first = example_token(mock)
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "7"
    assert first.json()["error"] == "temporarily_unavailable"
    second = example_token(mock)
    assert second.status_code == 200, second.text

    applied = mock.events(kind="fault.applied")
    assert len(applied) == 1 and applied[0]["rule_id"] == rule["id"]
    assert [f["fired"] for f in mock.faults()] == [1]
    statuses = [e["status"] for e in mock.events(kind="http.exchange") if e["path"].endswith("/token")]
    assert statuses == [503, 200]


def test_msal_honours_retry_after_without_calling_again(mock):
    # MSAL replays a 5xx with Retry-After from its own throttling cache.
    mock.add_fault({"provider": "kalibrate", "service": "login", "route": "/*/oauth2/v2.0/token", "times": 1,
                    "action": {"status": 503, "headers": {"Retry-After": "30"}, "body": {"error": "temporarily_unavailable"}}})
    app = msal.ConfidentialClientApplication(READ_CLIENT[0], client_credential=READ_CLIENT[1],
                                             authority=mock.authority(), instance_discovery=False)
    for _ in range(2):
        try:
            app.acquire_token_for_client(scopes=[SANDPIT_SCOPE])
        except Exception:
            pass
    token_calls = [e for e in mock.events(kind="http.exchange") if e["path"].endswith("/token")]
    assert len(token_calls) == 1


def test_dropped_connection_and_truncated_body(mock):
    mock.add_fault({"provider": "kalibrate", "service": "data", "route": "/api/status", "times": 1,
                    "action": {"drop_connection": True}})
    try:
        requests.get(mock.data_url("/api/status"), headers={"User-Agent": "x"}, timeout=10)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the connection should have been dropped")

    mock.add_fault({"provider": "kalibrate", "service": "login", "route": "/*/oauth2/v2.0/token", "times": 1,
                    "action": {"truncate_body": True}})
    try:
        truncated = example_token(mock)
    except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as e:
        assert "IncompleteRead" in repr(e) or "Connection broken" in repr(e), repr(e)
    else:
        # urllib3 1.x does not enforce Content-Length: the short body then arrives as it is.
        assert len(truncated.content) < int(truncated.headers["Content-Length"]), truncated.text
    assert [e["action"] for e in mock.events(kind="fault.applied")] == ["drop connection", "truncate body"]


def test_bad_fault_rules_get_a_json_error(mock):
    r = requests.post(f"{mock.admin}/faults", json={"action": {"status": 999}}, timeout=10)
    assert r.status_code == 400 and "status" in r.json()["message"]
    r = requests.post(f"{mock.admin}/faults", data="{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]


def test_a_clock_step_at_an_exact_point_expires_the_token(mock):
    # The second status call moves the clock one hour on before it is handled.
    mock.add_fault({"provider": "kalibrate", "service": "data", "route": "/api/status", "after": 1, "times": 1,
                    "action": {"advance_clock_seconds": 3600}})
    token = example_token(mock).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "API-CLIENT"}
    statuses = [requests.get(mock.data_url("/api/status"), headers=headers, timeout=10).status_code for _ in range(2)]
    assert statuses == [200, 401]
    clock = requests.get(f"{mock.admin}/clock", timeout=10).json()
    assert 3599 <= clock["offset_seconds"] <= 3601
