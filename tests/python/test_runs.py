"""Runs: isolated namespaces on one server (`POST /__admin/runs`), each a whole world of its own
(journal, faults, clock, fixtures, tokens and stored data), named by the path prefix
`/__run/{id}`, the `X-Mock-Run` header or the proxy credentials' user name.

Real clients (MSAL, requests, requests-oauthlib, the knoema package, the conformance runner)
work in one run and the tests check that nothing of it shows in another run or in the default
namespace. conftest resets only the default namespace between tests: every run made here has a
unique id and is deleted at the end of its test (the `new_run` fixture).
"""

import base64
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import msal
import pytest
import requests
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

import knoema_support
from conftest import READ_CLIENT, ROOT, SANDPIT_SCOPE, SANDPIT_TENANT, Mock, clear_proxy_env, raw_exchange, serving

RUNNER = ROOT / "target" / "debug" / "conformance"
CLIENTS = ROOT / "conformance" / "clients"
KALIBRATE_REQUESTS = CLIENTS / "kalibrate" / "requests_client.py"
KALIBRATE_MSAL = CLIENTS / "kalibrate" / "msal_client.py"
OPINUM_REFERENCE = CLIENTS / "opinum" / "requests_oauthlib_client.py"
DEFAULT_FIXTURES = (ROOT / "mock-server" / "fixtures" / "default.toml").read_text()

LOGIN = "https://login.microsoftonline.com"
OPINUM_CLIENT = ("opinum-demo-client", "opinum-demo-secret")
OPINUM_PUSHER = ("pusher@demo-energy.example", "pusher-password")
API_CLIENT = {"User-Agent": "API-CLIENT"}
RUN_ADMIN_LINE = re.compile(r"\(server (\S+), run (conformance-\d+-[0-9a-f]{8})\)")


class Run(Mock):
    """A run's handle: the conftest `Mock` helpers over the run's own endpoints document."""

    def __init__(self, created: dict, server: Mock):
        super().__init__(created["endpoints"], server.process, server.log_path)
        self.id = created["id"]
        self.created = created

    def clock(self) -> dict:
        return requests.get(f"{self.admin}/clock", timeout=10).json()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_run(admin: str, run_id: str | None = None) -> requests.Response:
    if run_id is None:
        return requests.post(f"{admin}/runs", timeout=10)
    return requests.post(f"{admin}/runs", json={"id": run_id}, timeout=10)


@pytest.fixture
def new_run(mock):
    """Makes runs with unique ids on the session server and deletes them after the test."""
    made = []

    def make(prefix: str = "t") -> Run:
        run_id = unique(prefix)
        r = create_run(mock.admin, run_id)
        assert r.status_code == 201, r.text
        made.append(run_id)
        return Run(r.json(), mock)

    yield make
    for run_id in made:
        r = requests.delete(f"{mock.admin}/runs/{run_id}", timeout=10)
        assert r.status_code in (204, 404), r.text


def kinds(target: Mock) -> list:
    """The journal's event kinds, without the per-request `http.exchange` lines."""
    return [e["kind"] for e in target.events() if e["kind"] != "http.exchange"]


def run_ids(mock) -> list:
    r = requests.get(f"{mock.admin}/runs", timeout=10)
    assert r.status_code == 200, r.text
    return [run["id"] for run in r.json()["runs"]]


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def kalibrate_token(target: Mock, secret: str = READ_CLIENT[1], **kwargs) -> requests.Response:
    """Kalibrate's documented requests token call (docs/providers/kalibrate.md#token-request) against `target`'s token URL."""
    return requests.post(target.token_url(), timeout=30, data={
        "client_id": READ_CLIENT[0], "client_secret": secret, "scope": SANDPIT_SCOPE,
        "grant_type": "client_credentials"}, **kwargs)


def status(target: Mock, token: str, **headers) -> requests.Response:
    return requests.get(target.data_url("/api/status"), timeout=30,
                        headers={"Authorization": f"Bearer {token}", **API_CLIENT, **headers})


def msal_token(authority: str, **kwargs) -> dict:
    app = msal.ConfidentialClientApplication(READ_CLIENT[0], client_credential=READ_CLIENT[1], authority=authority, **kwargs)
    return app.acquire_token_for_client(scopes=[SANDPIT_SCOPE])


def opinum_token(target: Mock) -> dict:
    """Opinum's documented requests-oauthlib password grant (docs/providers/opinum.md#token-request; test_opinum_identity.py), at `target`."""
    oauth = OAuth2Session(client=LegacyApplicationClient(client_id=OPINUM_CLIENT[0]))
    return oauth.fetch_token(token_url=target.opinum("identity", "/connect/token"), client_secret=OPINUM_CLIENT[1],
                             scope=["datahub-api", "push-data"], username=OPINUM_PUSHER[0], password=OPINUM_PUSHER[1],
                             client_id=OPINUM_CLIENT[0])


def with_prefix(url: str, run_id: str) -> str:
    """`url` with `/__run/{id}` inserted after its authority."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/__run/{run_id}{parts.path}"


def proxy_address(mock):
    parts = urlsplit(mock.endpoints["http"])
    return parts.hostname, parts.port


# 1. Lifecycle of a run through /__admin/runs.

def test_create_list_show_and_delete_a_run(mock):
    run_id = unique("life")
    created = create_run(mock.admin, run_id)
    try:
        assert created.status_code == 201, created.text
        assert created.headers["Location"] == f"/__admin/runs/{run_id}"
        body = created.json()
        assert set(body) == {"id", "created", "idle_seconds", "events", "endpoints"}
        assert body["id"] == run_id and body["events"] == 0
        assert 0 <= body["idle_seconds"] < 5
        made = datetime.fromisoformat(body["created"].replace("Z", "+00:00"))
        assert abs(datetime.now(timezone.utc) - made) < timedelta(seconds=30)

        # The endpoints document as the run sees it.
        server, seen = mock.endpoints, body["endpoints"]
        assert seen["run"] == run_id
        assert seen["admin"] == f"{server['http']}/__run/{run_id}/__admin"
        http = urlsplit(server["http"])
        assert seen["proxy"] == f"http://{run_id}:run@{http.hostname}:{http.port}"
        assert {k: seen[k] for k in ("http", "https", "mtls", "ca")} == {k: server[k] for k in ("http", "https", "mtls", "ca")}
        assert set(seen["services"]) == set(server["services"])
        for key, url in server["services"].items():
            assert seen["services"][key] == with_prefix(url, run_id), key
        assert seen["services"]["knoema.api"] == f"{server['services']['knoema.api']}/__run/{run_id}"
        assert seen["services"]["kalibrate.login"] == f"{server['https']}/__run/{run_id}/kalibrate/login"
        # ...and the run's own admin API answers the same document.
        assert requests.get(f"{seen['admin']}/endpoints", timeout=10).json() == seen

        listed = requests.get(f"{mock.admin}/runs", timeout=10)
        assert listed.status_code == 200
        assert listed.json()["limit"] == 64
        [mine] = [r for r in listed.json()["runs"] if r["id"] == run_id]
        assert mine["endpoints"] == seen and mine["created"] == body["created"]

        # Requests in the run are journaled in the run: its event count grows, the default's does not.
        run = Run(body, mock)
        assert kalibrate_token(run).status_code == 200
        shown = requests.get(f"{mock.admin}/runs/{run_id}", timeout=10)
        assert shown.status_code == 200
        assert shown.json()["id"] == run_id and shown.json()["endpoints"] == seen
        assert shown.json()["events"] == len(run.events()) >= 2  # the exchange and token.issued
        assert mock.events() == []

        duplicate = create_run(mock.admin, run_id)
        assert duplicate.status_code == 409
        assert duplicate.json()["error"] == "run_exists" and run_id in duplicate.json()["message"]
        # The duplicate did not replace the run: its journal is intact.
        assert "token.issued" in kinds(run)

        deleted = requests.delete(f"{mock.admin}/runs/{run_id}", timeout=10)
        assert deleted.status_code == 204 and deleted.content == b""
        assert run_id not in run_ids(mock)
        for gone in (requests.get(f"{mock.admin}/runs/{run_id}", timeout=10),
                     requests.delete(f"{mock.admin}/runs/{run_id}", timeout=10),
                     requests.get(f"{run.admin}/events", timeout=10),
                     requests.get(run.data_url("/api/status"), headers=API_CLIENT, timeout=10),
                     kalibrate_token(run)):
            assert gone.status_code == 404, (gone.request.method, gone.url, gone.text)
            assert gone.json()["error"] == "unknown_run"
            assert f"'{run_id}'" in gone.json()["message"]
        assert mock.events() == [], "requests to a deleted run are not journaled in the default namespace"
    finally:
        requests.delete(f"{mock.admin}/runs/{run_id}", timeout=10)


def test_bad_run_ids_are_refused_and_a_generated_id_is_given_without_a_body(mock):
    before = run_ids(mock)
    for bad in ("bad id", "a" * 65, "a/b", ""):
        r = create_run(mock.admin, bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"] == "bad_run", bad
        assert "1 to 64 letters, digits" in r.json()["message"]
    assert run_ids(mock) == before

    longest = "L" * 63 + "."
    generated = None
    try:
        r = create_run(mock.admin, longest)
        assert r.status_code == 201, r.text
        r = create_run(mock.admin)
        assert r.status_code == 201, r.text
        generated = r.json()["id"]
        assert re.fullmatch(r"run-[0-9a-f]{8}", generated), generated
        assert r.headers["Location"] == f"/__admin/runs/{generated}"
        assert r.json()["endpoints"]["run"] == generated
        assert {longest, generated} <= set(run_ids(mock))
    finally:
        for run_id in (longest, generated):
            if run_id:
                requests.delete(f"{mock.admin}/runs/{run_id}", timeout=10)

    # A request naming a bad id, by path or header, is a 400 too, and not journaled anywhere.
    for r in (requests.get(f"{mock.endpoints['http']}/__run/a%20b/__admin/events", timeout=10),
              requests.get(f"{mock.admin}/events", headers={"X-Mock-Run": "a/b"}, timeout=10),
              requests.get(f"{mock.admin}/events", headers={"X-Mock-Run": "x" * 65}, timeout=10)):
        assert r.status_code == 400, (r.url, r.text)
        assert r.json()["error"] == "bad_run"
    # A run that does not exist, by path or header: 404.
    for r in (requests.get(f"{mock.endpoints['http']}/__run/{unique('never')}/__admin/events", timeout=10),
              requests.get(f"{mock.admin}/events", headers={"X-Mock-Run": unique("never")}, timeout=10)):
        assert r.status_code == 404 and r.json()["error"] == "unknown_run", r.text
    assert mock.events() == []


# 2. Isolation through real clients.

def test_tokens_events_and_acceptance_stay_in_their_run(mock, new_run):
    a, b = new_run("a"), new_run("b")

    result = msal_token(a.authority(), instance_discovery=False)
    assert "access_token" in result, result
    assert result["token_source"] == "identity_provider"
    msal_jwt = result["access_token"]
    plain = kalibrate_token(a)
    assert plain.status_code == 200, plain.text
    requests_jwt = plain.json()["access_token"]
    assert claims(msal_jwt)["mock_run"] == claims(requests_jwt)["mock_run"] == a.id

    # MSAL read the run's discovery document, which sent it to the run's token endpoint.
    served = [(e["method"], e["path"], e["status"]) for e in a.events(kind="http.exchange")]
    assert served == [("GET", f"/kalibrate/login/{SANDPIT_TENANT}/v2.0/.well-known/openid-configuration", 200),
                      ("POST", f"/kalibrate/login/{SANDPIT_TENANT}/oauth2/v2.0/token", 200),
                      ("POST", f"/kalibrate/login/{SANDPIT_TENANT}/oauth2/v2.0/token", 200)]
    issued = a.events(kind="token.issued")
    assert [(e["provider"], e["client_id"]) for e in issued] == [("kalibrate", READ_CLIENT[0])] * 2
    assert b.events() == [] and mock.events() == []

    # A's tokens are good in A only; a default-namespace token is good in the default only.
    default_jwt = kalibrate_token(mock).json()["access_token"]
    assert "mock_run" not in claims(default_jwt)
    for token in (msal_jwt, requests_jwt):
        ok = status(a, token)
        assert ok.status_code == 200, ok.text
        assert ok.json()["token"] == token and ok.json()["clientId"] == READ_CLIENT[0]
        for elsewhere in (b, mock):
            refused = status(elsewhere, token)
            assert refused.status_code == 401, (elsewhere.admin, refused.text)
            assert refused.json() == {"message": "Unauthorized. Access token is missing or invalid.", "statusCode": 401}
    assert status(mock, default_jwt).status_code == 200
    refused = status(a, default_jwt)
    assert refused.status_code == 401, "a token of the default namespace is not one of run A's"
    assert status(b, default_jwt).status_code == 401

    assert kinds(a) == ["token.issued", "token.issued", "api.authorized", "api.authorized", "api.denied"]
    assert kinds(b) == ["api.denied"] * 3
    assert kinds(mock) == ["token.issued", "api.denied", "api.denied", "api.authorized"]


def test_faults_fire_only_in_the_run_that_armed_them(mock, new_run):
    a, b = new_run("a"), new_run("b")
    [rule] = a.add_fault({
        "provider": "kalibrate", "service": "login", "method": "POST", "route": "/*/oauth2/v2.0/token", "times": 1,
        "action": {"status": 503, "headers": {"Retry-After": "7"},
                   "body": {"error": "temporarily_unavailable", "error_description": "AADSTS90033: busy"}},
    })
    assert b.faults() == [] and mock.faults() == []

    for elsewhere in (b, mock):
        r = kalibrate_token(elsewhere)
        assert r.status_code == 200, r.text
    first = kalibrate_token(a)
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "7" and first.json()["error"] == "temporarily_unavailable"
    assert kalibrate_token(a).status_code == 200

    assert [(f["id"], f["fired"]) for f in a.faults()] == [(rule["id"], 1)]
    assert [e["rule_id"] for e in a.events(kind="fault.applied")] == [rule["id"]]
    for elsewhere in (b, mock):
        assert elsewhere.events(kind="fault.applied") == []
        assert [e["status"] for e in elsewhere.events(kind="http.exchange")] == [200]
    assert [e["status"] for e in a.events(kind="http.exchange")] == [503, 200]

    # MSAL in A with a fresh rule: it replays the 503 from its throttling cache, once on the wire.
    a.add_fault({"provider": "kalibrate", "service": "login", "route": "/*/oauth2/v2.0/token", "times": 1,
                 "action": {"status": 503, "headers": {"Retry-After": "30"}, "body": {"error": "temporarily_unavailable"}}})
    app = msal.ConfidentialClientApplication(READ_CLIENT[0], client_credential=READ_CLIENT[1], authority=a.authority(),
                                             instance_discovery=False)
    for _ in range(2):
        try:
            result = app.acquire_token_for_client(scopes=[SANDPIT_SCOPE])
        except Exception:  # MSAL raises or answers an error dict, by version
            continue
        assert "access_token" not in result, result
    assert len([e for e in a.events(kind="http.exchange") if e["path"].endswith("/token")]) == 3
    assert "access_token" in msal_token(b.authority(), instance_discovery=False), "B has no such rule"


def test_a_clock_step_expires_tokens_in_its_run_only(mock, new_run):
    a = new_run("a")
    a_jwt = kalibrate_token(a).json()["access_token"]
    default_jwt = kalibrate_token(mock).json()["access_token"]
    assert status(a, a_jwt).status_code == 200

    stepped = requests.post(f"{a.admin}/clock", json={"advance_seconds": 7200}, timeout=10)
    assert stepped.status_code == 200, stepped.text
    assert a.clock()["offset_seconds"] == 7200
    default_clock = requests.get(f"{mock.admin}/clock", timeout=10).json()
    assert default_clock["offset_seconds"] == 0 and default_clock["frozen"] is False
    a_now = datetime.fromisoformat(a.clock()["now"].replace("Z", "+00:00"))
    assert a_now - datetime.now(timezone.utc) > timedelta(seconds=7100)

    expired = status(a, a_jwt)
    assert expired.status_code == 401, expired.text
    assert "expired" in a.events(kind="api.denied")[-1]["reason"].lower()
    assert status(mock, default_jwt).status_code == 200, "the default clock did not move"
    # A token A issues now is good for an hour of A's clock.
    assert status(a, kalibrate_token(a).json()["access_token"]).status_code == 200


def test_fixtures_put_in_one_run_are_its_own(mock, new_run):
    a, b = new_run("a"), new_run("b")
    assert DEFAULT_FIXTURES.count('secret = "sandpit-read-secret"') == 1
    text = DEFAULT_FIXTURES.replace('secret = "sandpit-read-secret"', 'secret = "run-a-only-secret"')
    put = requests.put(f"{a.admin}/fixtures", data=text.encode(), headers={"Content-Type": "application/toml"}, timeout=10)
    assert put.status_code == 200, put.text

    def secrets(target):
        fixtures = requests.get(f"{target.admin}/fixtures", timeout=10).json()["fixtures"]
        return {c["client_id"]: c["secret"] for t in fixtures["kalibrate"]["tenants"] for c in t["clients"]}

    assert secrets(a)[READ_CLIENT[0]] == "run-a-only-secret"
    assert secrets(b)[READ_CLIENT[0]] == secrets(mock)[READ_CLIENT[0]] == "sandpit-read-secret"

    assert kalibrate_token(a, secret="run-a-only-secret").status_code == 200
    old_in_a = kalibrate_token(a)
    assert old_in_a.status_code == 401 and old_in_a.json()["error_codes"] == [7000215]
    for elsewhere in (b, mock):
        assert kalibrate_token(elsewhere).status_code == 200
        new_elsewhere = kalibrate_token(elsewhere, secret="run-a-only-secret")
        assert new_elsewhere.status_code == 401 and new_elsewhere.json()["error_codes"] == [7000215]

    # A reset in A brings back the server's starting fixtures there, and touches nothing in B.
    b_events = b.events()
    assert requests.post(f"{a.admin}/reset", timeout=10).status_code == 200
    assert secrets(a)[READ_CLIENT[0]] == "sandpit-read-secret" and a.events() == []
    assert b.events() == b_events


def test_opinum_tokens_and_pushed_data_stay_in_their_run(mock, new_run):
    a, b = new_run("a"), new_run("b")
    token = opinum_token(a)
    assert claims(token["access_token"])["mock_run"] == a.id
    bearer = {"Authorization": "Bearer " + token["access_token"]}

    sites = requests.get(a.opinum("api", "/sites"), headers=bearer, timeout=30)
    assert sites.status_code == 200, sites.text
    assert [s["name"] for s in sites.json()] == ["Head office"]
    for elsewhere in (b, mock):
        refused = requests.get(elsewhere.opinum("api", "/sites"), headers=bearer, timeout=30)
        assert refused.status_code == 401, (elsewhere.admin, refused.text)

    pushed = requests.post(a.opinum("push", "/api/data"), headers=bearer, timeout=30,
                           json=[{"sourceSerialNumber": "SN-0001", "mappingConfig": "ActiveEnergy",
                                  "data": [{"date": "2024-01-01T00:00:00", "value": 1.5}]}])
    assert pushed.status_code == 200, pushed.text
    rows = requests.get(a.opinum("api", "/data"), params={"variableId": 100}, headers=bearer, timeout=30)
    assert [(r["date"], r["rawValue"]) for r in rows.json()] == [("2024-01-01T00:00:00Z", 1.5)]
    # B's own token sees B's (untouched) copy of the data.
    b_bearer = {"Authorization": "Bearer " + opinum_token(b)["access_token"]}
    b_rows = requests.get(b.opinum("api", "/data"), params={"variableId": 100}, headers=b_bearer, timeout=30)
    assert b_rows.status_code == 200 and b_rows.json() == [], b_rows.text

    assert [e["grant"] for e in a.events(kind="token.issued")] == ["password"]
    assert a.events(kind="data.written")[0]["count"] == 1
    assert b.events(kind="data.written") == [] and [e["grant"] for e in b.events(kind="token.issued")] == ["password"]
    assert mock.events(kind="token.issued") == [] and mock.events(kind="data.written") == []


def test_discovery_documents_keep_the_run_prefix_over_http1_and_http2(mock, new_run):
    """MSAL and azure-identity follow these URLs: a run's must send them back to the run, with
    the listener's real authority. curl speaks HTTP/2 (ALPN) to the TLS listener, where the
    authority comes as `:authority` (the request URI), not as a Host header."""
    curl = shutil.which("curl")
    if not curl:
        pytest.skip("curl (the HTTP/2 client here) is not installed")
    a = new_run("a")
    wrong = []
    for target in (mock, a):
        authority = target.authority()
        for version, path, token_path in (("v2.0", "/v2.0/.well-known/openid-configuration", "/oauth2/v2.0/token"),
                                          ("v1.0", "/.well-known/openid-configuration", "/oauth2/token")):
            http1 = requests.get(authority + path, timeout=10).json()
            out = subprocess.run([curl, "-sS", "--http2", "--cacert", mock.ca, "-w", "\n%{http_version}", authority + path],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            document, _, http_version = out.stdout.rpartition("\n")
            assert http_version == "2", f"curl spoke HTTP/{http_version}"
            for client, config in (("HTTP/1.1", http1), ("HTTP/2", json.loads(document))):
                if config["token_endpoint"] != authority + token_path or not config["jwks_uri"].startswith(authority + "/discovery/"):
                    wrong.append((target.admin, version, client, config["token_endpoint"], config["jwks_uri"]))
    hosts = {e["host"] for e in a.events(kind="http.exchange")}
    assert wrong == [], "\n".join(map(str, wrong))
    assert hosts == {urlsplit(mock.endpoints["https"]).netloc}, hosts


# 3. The header form and the proxy form.

def test_the_x_mock_run_header_names_the_run(mock, new_run):
    a = new_run("a")
    header = {"X-Mock-Run": a.id}
    token = kalibrate_token(mock, headers=header)
    assert token.status_code == 200, token.text
    jwt_ = token.json()["access_token"]
    assert claims(jwt_)["mock_run"] == a.id
    assert status(mock, jwt_, **header).status_code == 200
    assert status(mock, jwt_).status_code == 401, "without the header the request is the default namespace's"
    assert kinds(a) == ["token.issued", "api.authorized"]
    assert kinds(mock) == ["api.denied"]
    # The admin API too: the default admin URL with the header is the run's admin API.
    via_header = requests.get(f"{mock.admin}/events", params={"kind": "token.issued"}, headers=header, timeout=10).json()
    assert [e["seq"] for e in via_header["events"]] == [e["seq"] for e in a.events(kind="token.issued")]


def test_msal_with_default_arguments_through_the_runs_proxy_credentials(mock, new_run, monkeypatch):
    a = new_run("a")
    clear_proxy_env(monkeypatch, mock)
    monkeypatch.setenv("HTTPS_PROXY", a.endpoints["proxy"])
    result = msal_token(f"{LOGIN}/{SANDPIT_TENANT}")
    assert "access_token" in result, result
    assert claims(result["access_token"])["mock_run"] == a.id
    assert claims(result["access_token"])["iss"] == f"https://sts.windows.net/{SANDPIT_TENANT}/"

    [issued] = a.events(kind="token.issued")
    assert issued["client_id"] == READ_CLIENT[0] and issued["provider"] == "kalibrate"
    exchanges = a.events(kind="http.exchange")
    assert {(e["path"], e["status"]) for e in exchanges if e["method"] == "CONNECT"} == {("login.microsoftonline.com:443", 200)}
    inside = [(e["host"], e["method"], e["path"], e["status"]) for e in exchanges if e["method"] != "CONNECT"]
    assert inside[:2] == [("login.microsoftonline.com", "GET", f"/{SANDPIT_TENANT}/v2.0/.well-known/openid-configuration", 200),
                          ("login.microsoftonline.com", "POST", f"/{SANDPIT_TENANT}/oauth2/v2.0/token", 200)]
    assert mock.events() == []

    # The same token at the real data host through the same proxy: accepted (the tunnel is A's).
    data = requests.get("https://dev.data.thekalibratecloud.com/api/status", timeout=30,
                        headers={"Authorization": f"Bearer {result['access_token']}", **API_CLIENT})
    assert data.status_code == 200, data.text
    # Through the default proxy URL (no credentials) it is the default namespace's, which refuses it.
    monkeypatch.setenv("HTTPS_PROXY", mock.endpoints["proxy"])
    data = requests.get("https://dev.data.thekalibratecloud.com/api/status", timeout=30,
                        headers={"Authorization": f"Bearer {result['access_token']}", **API_CLIENT})
    assert data.status_code == 401, data.text
    assert kinds(a) == ["token.issued", "api.authorized"] and kinds(mock) == ["api.denied"]


@pytest.fixture
def knoema_package():
    """The knoema package with its ApiConfig made afresh, so KNOEMA_HOST is read again."""
    with knoema_support.fresh_config() as knoema:
        yield knoema


def test_the_knoema_package_through_the_runs_dedicated_url(mock, new_run, monkeypatch, knoema_package):
    knoema = knoema_package
    a = new_run("a")
    clear_proxy_env(monkeypatch, mock)
    url = a.service("knoema.api")
    assert url == f"{mock.service('knoema.api')}/__run/{a.id}"
    host = url.removeprefix("http://")
    monkeypatch.setenv("KNOEMA_HOST", host)
    assert knoema.ApiConfig().host == host

    knoema_support.read_demo_datasets()

    seen = a.events(provider="knoema", kind="http.exchange")
    assert seen and all(e["status"] == 200 for e in seen)
    assert [e["path"] for e in seen] == ["/api/1.0/meta/dataset/IMFWEO2024Oct", "/api/2.0/data",
                                         "/api/1.0/meta/dataset/DEMOSALES", "/api/2.0/data"]
    clients = [e["client_id"] for e in a.events(provider="knoema", kind="api.authorized")]
    assert clients == ["anonymous", "anonymous", "demo-app", "demo-app"]
    assert mock.events() == []


# 4. An unknown run named by the proxy credentials.

def test_connect_naming_an_unknown_run_is_a_404_and_journals_nothing(mock, monkeypatch):
    missing = unique("missing")
    credentials = base64.b64encode(f"{missing}:run".encode()).decode()
    status_, headers, body = raw_exchange(proxy_address(mock), (
        f"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n"
        f"Proxy-Authorization: Basic {credentials}\r\n\r\n").encode())
    assert status_ == 404, body
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert answer["error"] == "unknown_run" and f"'{missing}'" in answer["message"]
    assert "POST /__admin/runs" in answer["message"]

    # A bad id in the credentials is a 400.
    bad = base64.b64encode(b"a b:run").decode()
    status_, _, body = raw_exchange(proxy_address(mock), (
        "CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n"
        f"Proxy-Authorization: Basic {bad}\r\n\r\n").encode())
    assert status_ == 400 and json.loads(body)["error"] == "bad_run", body

    # requests in proxy mode sees the refusal as a ProxyError naming the 404.
    clear_proxy_env(monkeypatch, mock)
    http = urlsplit(mock.endpoints["http"])
    monkeypatch.setenv("HTTPS_PROXY", f"http://{missing}:run@{http.hostname}:{http.port}")
    with pytest.raises(requests.exceptions.ProxyError) as raised:
        requests.get(f"{LOGIN}/{SANDPIT_TENANT}/v2.0/.well-known/openid-configuration", timeout=10)
    assert "404" in str(raised.value)
    assert mock.events() == []
    assert missing not in run_ids(mock), "naming a run never creates it"


# 5. Eviction: the run unused for longest goes when the limit is reached.

@pytest.fixture
def small_server(tmp_path):
    """A second mock-server with `--max-runs 2`, on free ports, stopped after the test."""
    with serving(tmp_path, "--max-runs", "2") as server:
        yield server


def test_the_least_recently_used_run_is_evicted_at_the_limit(small_server, monkeypatch):
    server = small_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca)  # its own dev CA
    listed = requests.get(f"{server.admin}/runs", timeout=10).json()
    assert listed == {"runs": [], "limit": 2}

    def alive(run_id):
        r = requests.get(f"{server.endpoints['http']}/__run/{run_id}/__admin/clock", timeout=10)
        assert r.status_code in (200, 404), r.text
        return r.status_code == 200

    for run_id in ("r1", "r2"):
        assert create_run(server.admin, run_id).status_code == 201
    time.sleep(0.01)
    # r1 is used (a service URL under its prefix): r2 becomes the one unused for longest.
    r1 = Run(requests.get(f"{server.admin}/runs/r1", timeout=10).json(), server)
    assert kalibrate_token(r1).status_code == 200
    assert create_run(server.admin, "r3").status_code == 201
    assert sorted(r["id"] for r in requests.get(f"{server.admin}/runs", timeout=10).json()["runs"]) == ["r1", "r3"]
    gone = requests.get(f"{server.admin}/runs/r2", timeout=10)
    assert gone.status_code == 404 and gone.json()["error"] == "unknown_run"
    assert "evicted" in gone.json()["message"]
    r2_service = requests.get(with_prefix(server.service("kalibrate.data"), "r2") + "/api/status", headers=API_CLIENT, timeout=10)
    assert r2_service.status_code == 404 and r2_service.json()["error"] == "unknown_run"
    # r1 kept its state through the eviction of r2.
    assert "token.issued" in kinds(r1)

    # Using a run by the header counts too: r3 now, so r1 goes next.
    time.sleep(0.01)
    assert requests.get(f"{server.admin}/clock", headers={"X-Mock-Run": "r3"}, timeout=10).status_code == 200
    assert create_run(server.admin, "r4").status_code == 201
    assert [alive(r) for r in ("r1", "r2", "r3", "r4")] == [False, False, True, True]
    evicted = [line for line in server.log_path.read_text().splitlines() if "evicted" in line]
    assert len(evicted) == 2 and "r2" in evicted[0] and "r1" in evicted[1], evicted


# 6. Conformance runs in parallel on one server.

BARRIER = r'''
"""Runs the client command after it; in scenario SYNC, only once all PEERS wrappers have
reached the same point (start, then end), so that their clients overlap exactly."""
import os, pathlib, subprocess, sys, time
directory, name, peers, sync, *client = sys.argv[1:]
scenario = os.environ["CONFORMANCE_SCENARIO"]

def meet(stage):
    here = pathlib.Path(directory) / stage
    here.mkdir(parents=True, exist_ok=True)
    (here / name).touch()
    deadline = time.monotonic() + 8
    while len(list(here.iterdir())) < int(peers):
        if time.monotonic() > deadline:
            sys.exit(f"barrier: the other clients never reached the {stage} of {scenario}")
        time.sleep(0.01)

if scenario != sync:
    os.execv(client[0], client)
meet("start")
code = subprocess.call(client)
meet("end")
sys.exit(code)
'''
SYNCED_SCENARIO = "kalibrate/basic-token-reused"


def conformance(server_admin, suite, client, report, barrier=None, name=None, peers=2):
    """Starts `conformance run`; with `barrier`, its client meets `peers` others in SYNCED_SCENARIO."""
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(client))}"
    if barrier:
        command = " ".join(shlex.quote(str(p)) for p in (sys.executable, barrier["script"], barrier["dir"], name, peers,
                                                         SYNCED_SCENARIO, sys.executable, client))
    return subprocess.Popen([str(RUNNER), "run", "--server", server_admin, "--suite", suite, "--client", command,
                             "--json", str(report)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    stdout, stderr = process.communicate(timeout=120)
    return {"exit": process.returncode, "stdout": stdout, "stderr": stderr}


@pytest.fixture
def barrier(tmp_path):
    script = tmp_path / "barrier.py"
    script.write_text(BARRIER)
    (tmp_path / "barrier").mkdir()
    return {"script": script, "dir": tmp_path / "barrier"}


def statuses(report):
    return {c["status"] for s in report["scenarios"] for c in s["checks"]}


def test_parallel_conformance_runs_on_one_server_each_get_a_run_of_their_own(mock, tmp_path, barrier):
    assert RUNNER.exists(), f"{RUNNER}: cargo build --workspace --bins"
    before = run_ids(mock)
    reports = {name: tmp_path / f"{name}.json" for name in ("kalibrate-requests", "kalibrate-msal", "opinum")}
    started = {
        "kalibrate-requests": conformance(mock.admin, "kalibrate", KALIBRATE_REQUESTS, reports["kalibrate-requests"],
                                          barrier, "requests"),
        "kalibrate-msal": conformance(mock.admin, "kalibrate", KALIBRATE_MSAL, reports["kalibrate-msal"], barrier, "msal"),
        "opinum": conformance(mock.admin, "opinum", OPINUM_REFERENCE, reports["opinum"]),
    }
    done = {name: finish(p) for name, p in started.items()}

    expected_scenarios = {"kalibrate-requests": 8, "kalibrate-msal": 8, "opinum": 7}
    runs = {}
    for name, outcome in done.items():
        assert outcome["exit"] == 0, f"{name}:\n{outcome['stderr']}"
        assert "CERTIFIED" in outcome["stdout"], name
        report = json.loads(reports[name].read_text())
        assert len(report["scenarios"]) == expected_scenarios[name], name
        assert statuses(report) == {"PASSED"}, f"{name}:\n{outcome['stderr']}"
        [(admin, run_id)] = RUN_ADMIN_LINE.findall(outcome["stderr"])
        assert admin == f"{mock.endpoints['http']}/__run/{run_id}/__admin" == report["server"]
        runs[name] = run_id
    assert len(set(runs.values())) == 3, runs
    # The two Kalibrate clients met in the synchronised scenario: they did run at the same time.
    for stage in ("start", "end"):
        assert sorted(p.name for p in (barrier["dir"] / stage).iterdir()) == ["msal", "requests"]

    assert run_ids(mock) == before, "every runner deleted its run"
    for run_id in runs.values():
        r = requests.get(f"{mock.admin}/runs/{run_id}", timeout=10)
        assert r.status_code == 404, r.text
    assert mock.events(kind="token.issued") == []
    assert mock.events() == [], "nothing of the three runs reached the default namespace"


def test_the_same_runs_in_one_shared_namespace_interfere(mock, tmp_path, barrier):
    """The negative control: the same two Kalibrate runners given one pre-created run's admin
    URL (used as it is) share a journal; the barrier makes their clients overlap in
    basic-token-reused (at most one token in the scenario's journal), so at least one must fail.
    Without the barrier they overlap only by luck of timing."""
    shared = unique("shared")
    created = create_run(mock.admin, shared)
    assert created.status_code == 201, created.text
    try:
        shared_admin = created.json()["endpoints"]["admin"]
        reports = {name: tmp_path / f"{name}.json" for name in ("requests", "msal")}
        started = {name: conformance(shared_admin, "kalibrate", client, reports[name], barrier, name)
                   for name, client in (("requests", KALIBRATE_REQUESTS), ("msal", KALIBRATE_MSAL))}
        done = {name: finish(p) for name, p in started.items()}

        for name, outcome in done.items():
            assert outcome["exit"] in (0, 1), f"{name}:\n{outcome['stderr']}"
            assert ", run conformance-" not in outcome["stderr"], "a run's admin URL is used as it is"
            assert f"(server {shared_admin}" in outcome["stderr"], outcome["stderr"][:500]
            assert json.loads(reports[name].read_text())["server"] == shared_admin
        assert 1 in {o["exit"] for o in done.values()}, "sharing a namespace went unnoticed:\n" + "\n".join(
            o["stderr"] for o in done.values())
        failed = {(s["id"], c["name"]) for name in reports for s in json.loads(reports[name].read_text())["scenarios"]
                  for c in s["checks"] if c["status"] == "FAILED"}
        # Deterministic: both clients ended (the barrier) before either runner judged, and the
        # first runner to judge saw both clients' tokens in the one journal.
        assert (SYNCED_SCENARIO, "kalibrate.token-reused") in failed, failed
        for stage in ("start", "end"):
            assert sorted(p.name for p in (barrier["dir"] / stage).iterdir()) == ["msal", "requests"]
        # The runners did not delete a run they did not create.
        assert shared in run_ids(mock)
    finally:
        requests.delete(f"{mock.admin}/runs/{shared}", timeout=10)
    assert mock.events() == []


REFERENCE_DISPATCHER = CLIENTS / "reference.py"


def test_every_suite_certifies_in_a_run_of_its_own_in_parallel(mock, tmp_path):
    """Every provider's suites at once on one server, MQTT ones included, each runner in a run
    of its own: each certifies its reference client, and the default namespace sees nothing."""
    suites = ["kalibrate", "opinum", "openenergy", "knoema", "iotopen"]
    reports = {suite: tmp_path / f"{suite}.json" for suite in suites}
    started = {suite: conformance(mock.admin, suite, REFERENCE_DISPATCHER, reports[suite]) for suite in suites}
    done = {suite: finish(p) for suite, p in started.items()}
    runs = set()
    for suite, outcome in done.items():
        assert outcome["exit"] == 0, f"{suite}:\n{outcome['stderr']}"
        assert statuses(json.loads(reports[suite].read_text())) <= {"PASSED", "SKIPPED"}, suite
        [(_, run_id)] = RUN_ADMIN_LINE.findall(outcome["stderr"])
        runs.add(run_id)
    assert len(runs) == len(suites)
    assert mock.events() == [], "nothing of the runs reached the default namespace"
    assert run_ids(mock) == []


def test_mqtt_clients_of_two_runs_never_meet(mock, new_run):
    """paho-mqtt in two runs and in the default namespace, the same client id and topic in each:
    a message published in run A reaches A's subscriber only, and the events stay in A."""
    import paho.mqtt.client as paho

    a, b = new_run("mqtt-a"), new_run("mqtt-b")
    namespaces = {"default": mock, "a": a, "b": b}
    received = {name: [] for name in namespaces}
    clients = {}
    for name, target in namespaces.items():
        host, port = urlsplit(target.endpoints["mqtt"]["tcp"]).hostname, urlsplit(target.endpoints["mqtt"]["tcp"]).port
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="same-client")
        client.username_pw_set("anyone", "f7650807dffc43c98710bdd942d78b68")
        subscribed = []
        client.on_subscribe = lambda c, userdata, mid, codes, props, s=subscribed: s.append(codes)
        client.on_message = lambda c, userdata, msg, n=name: received[n].append((msg.topic, msg.payload))
        client.connect(host, port)
        client.loop_start()
        client.subscribe("1001/#", qos=1)
        deadline = time.monotonic() + 5
        while not subscribed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert subscribed, f"{name}: no SUBACK"
        clients[name] = client
    try:
        info = clients["a"].publish("1001/obj/zwave/12/temperature", b'{"timestamp": 1700000000, "value": 21.5}', qos=1)
        info.wait_for_publish(5)
        deadline = time.monotonic() + 5
        while not received["a"] and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        assert received["a"] == [("1001/obj/zwave/12/temperature", b'{"timestamp": 1700000000, "value": 21.5}')]
        assert received["default"] == [] and received["b"] == []
    finally:
        for client in clients.values():
            client.loop_stop()
            client.disconnect()
    assert len(a.events(kind="mqtt.published")) == 1
    assert b.events(kind="mqtt.published") == [] and mock.events(kind="mqtt.published") == []
    assert [e["client_id"] for e in a.events(kind="mqtt.connected")] == ["same-client"]


def test_a_default_namespace_wildcard_never_receives_a_runs_messages(mock, new_run):
    """In the one shared engine a default-namespace `#` matches a run's topics (`__run/{run}/...`);
    the gate withholds them. The key may subscribe to `#` (Demo Housing's integration key), and
    it still receives its own namespace's message published after the run's."""
    import paho.mqtt.client as paho

    run = new_run("mqtt-wild")
    received = []
    subscribed = threading.Event()
    watcher = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="watcher", protocol=paho.MQTTv5)
    watcher.username_pw_set("apikey", "6e78f2f2df7b3aaa1938fc22b32d9089")
    watcher.on_subscribe = lambda c, u, mid, codes, props: subscribed.set()
    watcher.on_message = lambda c, u, msg: received.append(msg.topic)
    url = urlsplit(mock.endpoints["mqtt"]["tcp"])
    watcher.connect(url.hostname, url.port)
    watcher.loop_start()
    publishers = []
    try:
        watcher.subscribe("#", qos=1)
        assert subscribed.wait(5)
        for target in (run, mock):
            publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="publisher")
            publisher.username_pw_set("apikey", "f7650807dffc43c98710bdd942d78b68")
            url = urlsplit(target.endpoints["mqtt"]["tcp"])
            publisher.connect(url.hostname, url.port)
            publisher.loop_start()
            publishers.append(publisher)
            topic = "1001/obj/in-the-run" if target is run else "1001/obj/in-the-default-namespace"
            publisher.publish(topic, b'{"value": 1}', qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        assert received == ["1001/obj/in-the-default-namespace"]
    finally:
        for c in [watcher, *publishers]:
            c.loop_stop()
            c.disconnect()
    assert [e["topic"] for e in run.events(kind="mqtt.published")] == ["1001/obj/in-the-run"]


def test_a_default_namespace_client_cannot_take_over_a_run_client_by_its_engine_id(mock, new_run):
    """In the engine a run's client ids carry the run's prefix (`__run:{run}:`); in the default
    namespace, whose ids pass unchanged, such an id is refused (CONNACK "client identifier not
    valid", [MQTT-3.1.3-9]) instead of disconnecting the run's client and taking its session."""
    import paho.mqtt.client as paho

    run = new_run("mqtt-victim")
    key = "f7650807dffc43c98710bdd942d78b68"
    events = {"victim": []}

    def client(target, client_id, name, protocol):
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        c.username_pw_set("apikey", key)
        c.reconnect_delay_set(60, 60)
        c.on_connect = lambda cl, u, flags, rc, props: events[name].append(("connack", rc))
        c.on_disconnect = lambda cl, u, flags, rc, props: events[name].append(("disconnect", rc))
        c.on_message = lambda cl, u, msg: events[name].append(("message", msg.topic))
        url = urlsplit(target.endpoints["mqtt"]["tcp"])
        c.connect(url.hostname, url.port)
        c.loop_start()
        return c

    def wait_for(name, n):
        deadline = time.monotonic() + 5
        while len(events[name]) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    victim = client(run, "victim", "victim", paho.MQTTv311)
    wait_for("victim", 1)
    subscribed = threading.Event()
    victim.on_subscribe = lambda c, u, mid, codes, props: subscribed.set()
    victim.subscribe("1001/obj/#", qos=1)
    assert subscribed.wait(5), "no SUBACK"
    thieves = []
    try:
        for protocol in (paho.MQTTv311, paho.MQTTv5):
            # Each thief its own list: the first one's disconnection may be told late.
            thief = f"thief-{protocol}"
            events[thief] = []
            thieves.append(client(mock, f"__run:{run.id}:victim", thief, protocol))
            wait_for(thief, 1)
            kind, rc = events[thief][0]
            assert kind == "connack" and rc.is_failure and rc == paho.ReasonCode(paho.PacketTypes.CONNACK, "Client identifier not valid")
        refused = mock.events(kind="mqtt.refused")
        assert [e["code"] for e in refused[-2:]] == [0x02, 0x85]
        # The run's client is still connected and still receives.
        info = victim.publish("1001/obj/still-here", b'{"value": 1}', qos=1)
        info.wait_for_publish(5)
        wait_for("victim", 2)
        assert events["victim"] == [("connack", paho.ReasonCode(paho.PacketTypes.CONNACK, "Success")), ("message", "1001/obj/still-here")]
    finally:
        for c in [victim, *thieves]:
            c.loop_stop()
            c.disconnect()
