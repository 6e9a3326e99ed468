from energy_clients import KalibrateClient, KalibrateError
from energy_clients.kalibrate import USER_AGENT

import pytest
from conftest import CLIENT, SCOPE, TENANT


def client_of(mock, **options):
    """The client pointed at the mock's URLs (a run's, or the server's), trusting its CA."""
    return KalibrateClient(TENANT, *CLIENT, SCOPE, login_url=mock.url("kalibrate.login"),
                           data_url=mock.url("kalibrate.data"), verify=mock.ca_path, **options)


def test_status_with_one_token_and_our_user_agent(mock_run):
    client = client_of(mock_run)
    first = client.status()
    assert first["clientId"] == CLIENT[0]
    assert client.status()["token"] == first["token"]  # the token is reused
    assert len(mock_run.events(kind="token.issued")) == 1
    calls = [e for e in mock_run.events(kind="http.exchange") if e["path"].endswith("/api/status")]
    assert [(c["status"], c["user_agent"]) for c in calls] == [(200, USER_AGENT)] * 2


def test_token_endpoint_unavailable_then_retried_after_what_it_said(mock_run):
    mock_run.add_fault({"provider": "kalibrate", "service": "login", "route": "/*/oauth2/v2.0/token", "times": 1,
                        "action": {"status": 503, "headers": {"Retry-After": "7"},
                                   "body": {"error": "temporarily_unavailable"}}})
    slept = []
    client = client_of(mock_run, sleep=slept.append)
    assert client.status()["clientId"] == CLIENT[0]
    assert slept == [7.0]
    assert len(mock_run.events(kind="fault.applied")) == 1
    assert len(mock_run.events(kind="token.issued")) == 1


def test_token_endpoint_down_for_good_is_an_error(mock_run):
    mock_run.add_fault({"provider": "kalibrate", "service": "login",
                        "action": {"status": 503, "headers": {"Retry-After": "1"}}})
    with pytest.raises(KalibrateError, match="token request refused: 503"):
        client_of(mock_run, sleep=lambda seconds: None, retries=2).status()
    assert len(mock_run.events(kind="fault.applied")) == 3


def test_an_expired_token_is_replaced(mock_run):
    client = client_of(mock_run)
    client.status()
    mock_run.advance_clock(2 * 3600)  # past the token's expiry, without waiting
    client.status()
    assert len(mock_run.events(kind="token.issued")) == 2
    [denied] = mock_run.events(kind="api.denied")
    assert "expired" in denied["reason"]


def test_the_real_urls_through_the_proxy(mock_proxy):
    # No URL, no CA given: what the application runs with in production.
    client = KalibrateClient(TENANT, *CLIENT, SCOPE)
    assert client.status()["clientId"] == CLIENT[0]
    hosts = {e["host"] for e in mock_proxy.events(kind="http.exchange") if e["method"] != "CONNECT"}
    assert hosts == {"login.microsoftonline.com", "dev.data.thekalibratecloud.com"}
