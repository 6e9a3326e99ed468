"""`GET /__admin/events/stream`: the journal as server-sent events, read over a real socket
(requests, streaming) as any tool would: kept events first, then new ones as they happen,
filtered like `GET /__admin/events`, resumable with `Last-Event-ID`, bounded in number."""

import json
import time
import uuid

import pytest
import requests

from conftest import READ_CLIENT, SANDPIT_SCOPE

TIMEOUT = 10


def token(mock, secret=None, token_url=None):
    return requests.post(
        token_url or mock.token_url(),
        data={"grant_type": "client_credentials", "client_id": READ_CLIENT[0],
              "client_secret": secret or READ_CLIENT[1], "scope": SANDPIT_SCOPE},
        timeout=TIMEOUT,
    )


class Stream:
    """One open stream, read message by message (`event`, `id`, `data` fields)."""

    def __init__(self, url, headers=None):
        self.response = requests.get(url, stream=True, timeout=TIMEOUT, headers=headers or {})
        self.lines = self.response.iter_lines(chunk_size=1, decode_unicode=True)

    def next(self):
        message = {}
        for line in self.lines:
            if line == "":
                if "event" in message or "data" in message:
                    return message
                continue
            if line.startswith(":"):
                continue  # keep-alive comment
            field, _, value = line.partition(":")
            message[field] = value[1:] if value.startswith(" ") else value
        raise EOFError("the stream ended")

    def close(self):
        self.response.close()


@pytest.fixture
def streams():
    opened = []
    yield lambda url, headers=None: opened.append(Stream(url, headers)) or opened[-1]
    for s in opened:
        s.close()


def test_a_new_event_arrives_without_polling_and_filters_narrow(mock, streams):
    assert token(mock).status_code == 200  # kept before the stream opens
    issued = streams(f"{mock.admin}/events/stream?kind=token.issued")
    assert issued.response.status_code == 200
    assert issued.response.headers["content-type"].startswith("text/event-stream")
    kept = issued.next()
    assert kept["event"] == "journal" and json.loads(kept["data"])["kind"] == "token.issued"

    assert token(mock, secret="wrong").status_code == 401  # token.rejected: filtered out
    assert token(mock).status_code == 200
    live = issued.next()
    event = json.loads(live["data"])
    assert event["kind"] == "token.issued" and live["id"] == str(event["seq"])
    assert event["seq"] > int(kept["id"])
    assert event == mock.events(kind="token.issued")[-1]


def test_last_event_id_resumes_after_that_event(mock, streams):
    for _ in range(3):
        assert token(mock).status_code == 200
    seqs = [e["seq"] for e in mock.events(kind="token.issued")]
    resumed = streams(f"{mock.admin}/events/stream?kind=token.issued", {"Last-Event-ID": str(seqs[-2])})
    assert int(resumed.next()["id"]) == seqs[-1], "only what came after the given event"


def test_a_cleared_journal_is_said(mock, streams):
    s = streams(f"{mock.admin}/events/stream?kind=no.such.kind")
    assert requests.delete(f"{mock.admin}/events", timeout=TIMEOUT).status_code == 204
    assert s.next()["event"] == "cleared"


def test_bad_input_gets_the_admin_apis_json_error(mock):
    for url, headers in [(f"{mock.admin}/events/stream?since=soon", {}),
                         (f"{mock.admin}/events/stream", {"Last-Event-ID": "yesterday"})]:
        r = requests.get(url, headers=headers, timeout=TIMEOUT)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["error"] == "bad_request"


def test_a_runs_stream_sees_only_its_run(mock, streams):
    run_id = f"stream-{uuid.uuid4().hex[:8]}"
    created = requests.post(f"{mock.admin}/runs", json={"id": run_id}, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    run = created.json()["endpoints"]
    try:
        s = streams(f"{run['admin']}/events/stream?kind=token.")
        assert token(mock).status_code == 200  # the default namespace
        run_token_url = mock.token_url().replace(mock.service("kalibrate.login"), run["services"]["kalibrate.login"])
        assert token(mock, token_url=run_token_url).status_code == 200
        event = json.loads(s.next()["data"])
        assert event == mock_events_of(run["admin"])[-1]
    finally:
        requests.delete(f"{mock.admin}/runs/{run_id}", timeout=TIMEOUT)


def mock_events_of(admin):
    return requests.get(f"{admin}/events?kind=token.", timeout=TIMEOUT).json()["events"]


def test_the_number_of_streams_is_bounded(mock, streams):
    opened = [streams(f"{mock.admin}/events/stream?kind=no.such.kind") for _ in range(64)]
    assert all(s.response.status_code == 200 for s in opened)
    refused = requests.get(f"{mock.admin}/events/stream", timeout=TIMEOUT)
    assert refused.status_code == 503 and refused.json()["error"] == "too_many_streams"
    opened[0].close()
    for _ in range(50):  # the server notices the closed socket at its next write or poll
        again = requests.get(f"{mock.admin}/events/stream?kind=no.such.kind", stream=True, timeout=TIMEOUT)
        if again.status_code == 200:
            again.close()
            break
        time.sleep(0.1)
    else:
        pytest.fail("a closed stream never gave its place back")
