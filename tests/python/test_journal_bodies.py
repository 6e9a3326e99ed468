"""Bodies in the journal, opt-in (`--journal-bodies`, or `[journal] bodies = true` in the
fixtures) and redacted: real token requests (Kalibrate client credentials, Opinum password and
refresh grants) are recorded with their request and response bodies, and no secret they carried
or received (client secret, password, access token, refresh token) appears anywhere in the
journal. Without the option the fields are absent."""

import json
import uuid

import requests

from conftest import READ_CLIENT, ROOT, SANDPIT_SCOPE, serving

OPINUM_CLIENT = ("opinum-demo-client", "opinum-demo-secret")
PUSHER = ("pusher@demo-energy.example", "pusher-password")


def kalibrate_token(token_url, ca=True):
    form = {"grant_type": "client_credentials", "client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1],
            "scope": SANDPIT_SCOPE}
    answer = requests.post(token_url, data=form, timeout=10, verify=ca)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def exchanges(admin, path_part):
    events = requests.get(f"{admin}/events?kind=http.exchange", timeout=10).json()["events"]
    return [e for e in events if path_part in e["path"]]


def test_bodies_are_recorded_with_every_secret_redacted(tmp_path):
    with serving(tmp_path, "--journal-bodies") as server:
        access = kalibrate_token(server.token_url(), server.ca)
        opinum = server.opinum("identity", "/connect/token")
        form = {"grant_type": "password", "username": PUSHER[0], "password": PUSHER[1],
                "client_id": OPINUM_CLIENT[0], "client_secret": OPINUM_CLIENT[1], "scope": "datahub-api offline_access"}
        first = requests.post(opinum, data=form, timeout=10, verify=server.ca).json()
        refreshed = requests.post(opinum, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                                "client_id": OPINUM_CLIENT[0], "client_secret": OPINUM_CLIENT[1]},
                                  timeout=10, verify=server.ca).json()
        assert refreshed.get("access_token"), refreshed

        token = exchanges(server.admin, "oauth2/v2.0/token")[-1]
        assert "grant_type=client_credentials" in token["request_body"]
        assert "client_secret=%5Bredacted%5D" in token["request_body"]
        response = json.loads(token["response_body"])
        assert response["token_type"] == "Bearer" and response["access_token"] == "[redacted]"
        password_grant = exchanges(server.admin, "connect/token")[0]
        assert "password=%5Bredacted%5D" in password_grant["request_body"]
        assert "username=pusher%40demo-energy.example" in password_grant["request_body"]

        journal = requests.get(f"{server.admin}/events", timeout=10).text
        secrets = [READ_CLIENT[1], OPINUM_CLIENT[1], PUSHER[1], access, first["access_token"], first["refresh_token"],
                   refreshed["access_token"], refreshed.get("refresh_token") or first["refresh_token"]]
        for secret in secrets:
            assert secret not in journal, "a secret reached the journal"


def test_the_environment_variable_turns_it_on_and_long_bodies_are_cut(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCK_SERVER_JOURNAL_BODIES", "1")
    with serving(tmp_path) as server:
        # The secret first, then more than 16 KiB: the start kept is redacted, the rest counted.
        form = {"client_secret": READ_CLIENT[1], "grant_type": "client_credentials", "client_id": READ_CLIENT[0],
                "pad": "p" * 20000}
        requests.post(server.token_url(), data=form, timeout=10, verify=server.ca)
        token = exchanges(server.admin, "oauth2/v2.0/token")[-1]
        body = token["request_body"]
        assert body.startswith("client_secret=%5Bredacted%5D&grant_type=client_credentials"), body[:80]
        assert body.endswith(" more bytes not kept]") and len(body) < 16 * 1024 + 64, body[-80:]
        assert READ_CLIENT[1] not in requests.get(f"{server.admin}/events", timeout=10).text


def test_the_environment_variable_can_say_off(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCK_SERVER_JOURNAL_BODIES", "off")
    with serving(tmp_path) as server:
        kalibrate_token(server.token_url(), server.ca)
        token = exchanges(server.admin, "oauth2/v2.0/token")[-1]
        assert "request_body" not in token and "response_body" not in token


def test_without_the_option_no_body_is_recorded(mock):
    kalibrate_token(mock.token_url())
    token = exchanges(mock.admin, "oauth2/v2.0/token")[-1]
    assert "request_body" not in token and "response_body" not in token


def test_the_fixtures_can_ask_for_bodies(mock):
    run_id = f"bodies-{uuid.uuid4().hex[:8]}"
    created = requests.post(f"{mock.admin}/runs", json={"id": run_id}, timeout=10)
    assert created.status_code == 201, created.text
    run = created.json()["endpoints"]
    try:
        fixtures = (ROOT / "mock-server" / "fixtures" / "default.toml").read_text()
        fixtures = fixtures.replace("[journal]\n", "[journal]\nbodies = true\n", 1)
        put = requests.put(f"{run['admin']}/fixtures", data=fixtures.encode(), timeout=10)
        assert put.status_code == 200, put.text
        run_token_url = mock.token_url().replace(mock.service("kalibrate.login"), run["services"]["kalibrate.login"])
        kalibrate_token(run_token_url)
        token = exchanges(run["admin"], "oauth2/v2.0/token")[-1]
        assert "client_secret=%5Bredacted%5D" in token["request_body"]
        assert READ_CLIENT[1] not in json.dumps(token)
    finally:
        requests.delete(f"{mock.admin}/runs/{run_id}", timeout=10)
