from datetime import datetime

import pytest
from conftest import OPINUM_CLIENT, PUSHER
from energy_clients import OpinumClient, OpinumError

POINTS = [(datetime(2024, 1, 1, 0, 0), 1.5), (datetime(2024, 1, 1, 0, 15), 1.75)]


def client_of(mock, password=PUSHER[1]):
    return OpinumClient(*OPINUM_CLIENT, PUSHER[0], password, identity_url=mock.url("opinum.identity"),
                        push_url=mock.url("opinum.push"), verify=mock.ca_path)


def test_push_is_stored(mock_server):
    # The session's server is shared by the tests of this worker: read only what happens next.
    since = mock_server.next_seq() - 1
    client_of(mock_server).push("SN-0001", "ActiveEnergy", POINTS)
    [written] = mock_server.events(kind="data.written", since=since)
    assert written["count"] == 2
    assert mock_server.events(kind="push.unmapped", since=since) == []


def test_a_push_that_maps_to_nothing_is_lost_silently(mock_run):
    client_of(mock_run).push("SN-NOT-THERE", "ActiveEnergy", POINTS)  # 200, as at Opinum
    [lost] = mock_run.events(kind="push.unmapped")
    assert lost["points"] == 2


def test_a_wrong_password_is_reported(mock_run):
    with pytest.raises(OpinumError, match="login refused: invalid_grant"):
        client_of(mock_run, password="not-the-password").connect()
    [rejected] = mock_run.events(kind="token.rejected")
    assert rejected["grant"] == "password"


def test_the_real_urls_through_the_proxy(mock_proxy):
    OpinumClient(*OPINUM_CLIENT, *PUSHER).push("SN-0001", "ActiveEnergy", POINTS)
    assert len(mock_proxy.events(kind="data.written")) == 1
    hosts = {e["host"] for e in mock_proxy.events(kind="http.exchange") if e["method"] != "CONNECT"}
    assert hosts == {"identity.opinum.com", "push.opinum.com"}
