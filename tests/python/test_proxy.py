"""Proxy mode: unchanged clients, with their real provider URLs, reach the mock with nothing but
`HTTPS_PROXY` / `HTTP_PROXY` set to the mock's plain HTTP listener (and our dev CA trusted).

The listener answers `CONNECT <real host>:443` with 200 and terminates TLS itself with a
certificate for that host signed by the dev CA (asking for a client certificate for the Open
Energy matls-* hosts); `CONNECT` to one of its own listeners is served as that listener;
absolute-form plain-http requests are routed by host. Everything else is refused with 403, and
nothing is ever forwarded: the last tests run a listener of their own and check that the mock
never connected to it.
"""

import base64
import json
import select
import socket
from urllib.parse import urlsplit

import jwt
import msal
import pytest
import requests
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

import conftest
import knoema_support
from conftest import READ_CLIENT, SANDPIT_AUDIENCE, SANDPIT_SCOPE, SANDPIT_TENANT, clear_proxy_env
LOGIN = "https://login.microsoftonline.com"
KALIBRATE_TOKEN_URL = f"{LOGIN}/{SANDPIT_TENANT}/oauth2/v2.0/token"
KALIBRATE_STATUS_URL = "https://dev.data.thekalibratecloud.com/api/status"
OPINUM_TOKEN_URL = "https://identity.opinum.com/connect/token"
OPINUM_CLIENT = ("opinum-demo-client", "opinum-demo-secret")
OPINUM_PUSHER = ("pusher@demo-energy.example", "pusher-password")
OPEN_ENERGY_ISSUER = "https://matls-auth.directory.energydata.org.uk/"


def use_proxy(monkeypatch, mock, https=True, http=True):
    """The environment a user sets for proxy mode; monkeypatch restores it after the test."""
    clear_proxy_env(monkeypatch, mock)
    if https:
        monkeypatch.setenv("HTTPS_PROXY", mock.endpoints["http"])
    if http:
        monkeypatch.setenv("HTTP_PROXY", mock.endpoints["http"])


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def exchanges(mock):
    return mock.events(kind="http.exchange")


def connects(mock):
    """`(authority, status)` of every CONNECT the proxy answered, in order."""
    return [(e["path"], e["status"]) for e in exchanges(mock) if e["method"] == "CONNECT"]


def authority(url):
    """`host:port` of a URL, as a CONNECT names it."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 443}"


def proxy_address(mock):
    parts = urlsplit(mock.endpoints["http"])
    return parts.hostname, parts.port


def raw_exchange(mock, request: bytes, timeout=5.0):
    """One request to the proxy listener over a bare socket, one response."""
    return conftest.raw_exchange(proxy_address(mock), request, timeout)


# 1. MSAL with default arguments and the real authority.

def test_msal_with_default_arguments_and_the_real_authority(mock, monkeypatch):
    use_proxy(monkeypatch, mock)
    app = msal.ConfidentialClientApplication(READ_CLIENT[0], client_credential=READ_CLIENT[1],
                                             authority=f"{LOGIN}/{SANDPIT_TENANT}")
    result = app.acquire_token_for_client(scopes=[SANDPIT_SCOPE])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3500
    assert result["token_source"] == "identity_provider"

    token = claims(result["access_token"])
    assert token["iss"] == f"https://sts.windows.net/{SANDPIT_TENANT}/"
    assert token["aud"] == SANDPIT_AUDIENCE
    assert token["tid"] == SANDPIT_TENANT and token["appid"] == READ_CLIENT[0]
    assert token["ver"] == "1.0" and token["roles"] == ["Read"]
    assert token["exp"] - token["iat"] >= 3599

    # The token verifies against the keys the (proxied) real discovery document points to.
    config = requests.get(f"{LOGIN}/{SANDPIT_TENANT}/v2.0/.well-known/openid-configuration", timeout=30).json()
    assert config["token_endpoint"] == KALIBRATE_TOKEN_URL
    assert urlsplit(config["jwks_uri"]).hostname == "login.microsoftonline.com"
    keys = jwt.PyJWKSet.from_dict(requests.get(config["jwks_uri"], timeout=30).json())
    kid = jwt.get_unverified_header(result["access_token"])["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    jwt.decode(result["access_token"], key.key, algorithms=["RS256"], audience=SANDPIT_AUDIENCE,
               issuer=f"https://sts.windows.net/{SANDPIT_TENANT}/")

    seen = connects(mock)
    assert seen and set(seen) == {("login.microsoftonline.com:443", 200)}, seen
    [issued] = mock.events(kind="token.issued")
    assert issued["client_id"] == READ_CLIENT[0] and issued["provider"] == "kalibrate"
    inside = [e for e in exchanges(mock) if e["method"] != "CONNECT"]
    msal_calls = [(e["method"], e["path"], e["status"]) for e in inside if e["host"] == "login.microsoftonline.com"]
    assert msal_calls[:2] == [("GET", f"/{SANDPIT_TENANT}/v2.0/.well-known/openid-configuration", 200),
                              ("POST", f"/{SANDPIT_TENANT}/oauth2/v2.0/token", 200)]
    assert all(e["listener"] == "https" for e in inside), "served inside the tunnel, as TLS"
    assert not any("discovery/instance" in e["path"] for e in inside), "MSAL trusts the well-known host"


def test_msal_wrong_secret_through_the_proxy_gives_7000215(mock, monkeypatch):
    use_proxy(monkeypatch, mock)
    app = msal.ConfidentialClientApplication(READ_CLIENT[0], client_credential="not-the-secret",
                                             authority=f"{LOGIN}/{SANDPIT_TENANT}")
    result = app.acquire_token_for_client(scopes=[SANDPIT_SCOPE])
    assert "access_token" not in result
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert [e["code"] for e in mock.events(kind="token.rejected")] == [7000215]
    # After an error MSAL asks the instance discovery endpoint about the authority: answered too.
    instance = [e for e in exchanges(mock) if e["path"] == "/common/discovery/instance"]
    assert [(e["host"], e["status"]) for e in instance] == [("login.microsoftonline.com", 200)], instance
    assert set(connects(mock)) == {("login.microsoftonline.com:443", 200)}


# 2. Kalibrate's documented requests script (docs/providers/kalibrate.md#requests), real URLs, HTTPS_PROXY only.

def test_the_kalibrate_example_script_with_its_real_urls(mock, monkeypatch):
    use_proxy(monkeypatch, mock, http=False)
    post_body = {"client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE,
                 "grant_type": "client_credentials"}
    resp = requests.post(KALIBRATE_TOKEN_URL, data=post_body, timeout=60)
    assert resp.status_code == 200, resp.text
    jsonbody = json.loads(resp.text)
    assert jsonbody["token_type"] == "Bearer" and jsonbody["expires_in"] == 3599
    token = jsonbody["access_token"]

    auth_header = {"Authorization": "Bearer %s" % token, "User-Agent": "API-CLIENT"}
    response = requests.get(KALIBRATE_STATUS_URL, headers=auth_header, timeout=60)
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["token"] == token
    assert status["audience"] == SANDPIT_AUDIENCE
    assert status["issuer"] == f"https://sts.windows.net/{SANDPIT_TENANT}/"
    assert status["clientId"] == READ_CLIENT[0]
    assert status["tenantId"] == "c770a337-3c7e-4bbe-a8cb-2fbc9601b94f"

    # The gateway still rejects requests' default User-Agent at the real host.
    assert requests.get(KALIBRATE_STATUS_URL, headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code == 403

    assert connects(mock) == [("login.microsoftonline.com:443", 200), ("dev.data.thekalibratecloud.com:443", 200),
                              ("dev.data.thekalibratecloud.com:443", 200)]
    served = [(e["host"], e["path"], e["status"]) for e in exchanges(mock) if e["method"] != "CONNECT"]
    assert served == [("login.microsoftonline.com", f"/{SANDPIT_TENANT}/oauth2/v2.0/token", 200),
                      ("dev.data.thekalibratecloud.com", "/api/status", 200),
                      ("dev.data.thekalibratecloud.com", "/api/status", 403)]
    kinds = [e["kind"] for e in mock.events(provider="kalibrate") if e["kind"] != "http.exchange"]
    assert kinds == ["token.issued", "api.authorized", "api.denied"]


# 3. Opinum: its documented requests-oauthlib flow (docs/providers/opinum.md#client-libraries), then the real API and push hosts.

def test_the_opinum_example_flow_with_the_real_hosts(mock, monkeypatch):
    use_proxy(monkeypatch, mock, http=False)
    oauth = OAuth2Session(client=LegacyApplicationClient(client_id=OPINUM_CLIENT[0]))
    token = oauth.fetch_token(token_url=OPINUM_TOKEN_URL, client_secret=OPINUM_CLIENT[1], scope=["datahub-api", "push-data"],
                              username=OPINUM_PUSHER[0], password=OPINUM_PUSHER[1], client_id=OPINUM_CLIENT[0])
    assert token["token_type"] == "Bearer" and sorted(token["scope"]) == ["datahub-api", "push-data"]
    c = claims(token["access_token"])
    assert c["client_id"] == OPINUM_CLIENT[0] and c["account"] == 1001

    sites = oauth.get("https://api.opinum.com/sites", timeout=30)
    assert sites.status_code == 200, sites.text
    assert [s["name"] for s in sites.json()] == ["Head office"]

    bearer = {"Authorization": "Bearer " + token["access_token"]}
    pushed = requests.post("https://push.opinum.com/api/data", headers=bearer, timeout=30,
                           json=[{"sourceSerialNumber": "SN-0001", "mappingConfig": "ActiveEnergy",
                                  "data": [{"date": "2024-01-01T00:00:00", "value": 1.5}]}])
    assert pushed.status_code == 200, pushed.text
    rows = oauth.get("https://api.opinum.com/data", params={"variableId": 100}, timeout=30)
    assert rows.status_code == 200, rows.text
    assert [(r["date"], r["rawValue"]) for r in rows.json()] == [("2024-01-01T00:00:00Z", 1.5)]

    assert set(connects(mock)) == {("identity.opinum.com:443", 200), ("api.opinum.com:443", 200), ("push.opinum.com:443", 200)}
    served = [(e["host"], e["method"], e["path"], e["status"]) for e in exchanges(mock) if e["method"] != "CONNECT"]
    assert served == [("identity.opinum.com", "POST", "/connect/token", 200), ("api.opinum.com", "GET", "/sites", 200),
                      ("push.opinum.com", "POST", "/api/data", 200), ("api.opinum.com", "GET", "/data", 200)]
    [issued] = mock.events(kind="token.issued")
    assert issued["grant"] == "password"
    assert mock.events(kind="data.written")[0]["count"] == 1


# 4. The knoema package with its default host, over plain http through HTTP_PROXY.

@pytest.fixture
def default_knoema_host(monkeypatch):
    """The package's ApiConfig made afresh without KNOEMA_HOST (other tests in this process set
    it), and dropped again afterwards so the next test makes its own."""
    monkeypatch.delenv("KNOEMA_HOST", raising=False)
    with knoema_support.fresh_config() as knoema:
        assert knoema.ApiConfig().host == "knoema.com"
        yield knoema


def test_the_knoema_package_with_its_default_host(mock, monkeypatch, default_knoema_host):
    use_proxy(monkeypatch, mock)
    knoema_support.read_demo_datasets()

    seen = [e for e in exchanges(mock) if e["provider"] == "knoema"]
    assert seen, exchanges(mock)
    assert {e["host"] for e in seen} == {"knoema.com"}
    assert all(e["status"] == 200 and e["listener"] == "http" for e in seen)
    assert [e["method"] for e in seen if e["auth_scheme"] == "Knoema"] == ["GET", "POST"]
    assert connects(mock) == [], "plain http: absolute-form requests, no tunnel"
    clients = [e["client_id"] for e in mock.events(provider="knoema", kind="api.authorized")]
    assert clients == ["anonymous", "anonymous", "demo-app", "demo-app"]


# 5. Open Energy: FAPISession with the real issuer, a dev-CA client certificate, mTLS in the tunnel.

def test_fapisession_with_the_real_open_energy_issuer(mock, monkeypatch, tmp_path):
    from ib1.openenergy.support import FAPISession, RaidiamDirectory
    from openenergy_support import CONSUMER, GRID_INTENSITY, credentials

    creds = credentials(mock, tmp_path, CONSUMER)  # signed by the mock's admin API, before the proxy is set
    use_proxy(monkeypatch, mock)
    fapi = FAPISession(client_id=creds.client_id, issuer_url=OPEN_ENERGY_ISSUER,
                       requested_scopes="directory:software energy:consumption",
                       private_key=str(creds.key), certificate=str(creds.certificate))
    data_url = mock.service("openenergy.data") + GRID_INTENSITY
    r = fapi.session.get(data_url)
    assert r.status_code == 200, r.text
    assert r.json()[0]["index"] == "moderate"
    assert fapi.openid_configuration.token_endpoint == "https://matls-auth.directory.energydata.org.uk/token"

    # The token is bound to the certificate presented inside the tunnel.
    [issued] = mock.events(kind="token.issued", provider="openenergy")
    assert issued["bound_to"] == creds.thumbprint and issued["client_id"] == CONSUMER.client_id
    info = fapi.introspection_response
    assert info["active"] is True and info["client_id"] == CONSUMER.client_id
    assert info["cnf"]["x5t#S256"] == creds.thumbprint

    # The directory API at its real host, the package's default base URL.
    directory = RaidiamDirectory(fapi=fapi)
    assert directory.self_org_id == CONSUMER.organisation_id
    assert [o.organisation_name for o in directory.organisations()] == ["Demo Energy Consumer Ltd", "Demo Data Provider plc"]

    tunnels = set(connects(mock))
    assert tunnels == {("matls-auth.directory.energydata.org.uk:443", 200), (authority(data_url), 200),
                       ("matls-dirapi.directory.energydata.org.uk:443", 200)}, tunnels
    inside = [e for e in exchanges(mock) if e["method"] != "CONNECT"]
    assert inside and all(e["listener"] == "mtls" and e["client_cert"] == creds.thumbprint for e in inside)
    token_calls = [e for e in inside if e["path"] == "/token"]
    assert [(e["host"], e["status"]) for e in token_calls] == [("matls-auth.directory.energydata.org.uk", 200)]
    reads = [e for e in inside if e["path"].endswith(GRID_INTENSITY)]
    assert [(e["status"], e["auth_scheme"]) for e in reads] == [(200, "Bearer")]

    # The real host asks for a client certificate: without one, the token endpoint refuses.
    bare = requests.post("https://matls-auth.directory.energydata.org.uk/token", timeout=30,
                         data={"client_id": CONSUMER.client_id, "grant_type": "client_credentials"})
    assert bare.status_code == 401 and bare.json()["error"] == "invalid_client"


# 6. Refusals, and no outbound connection ever.

def test_connect_to_a_host_not_emulated_is_refused(mock, monkeypatch):
    use_proxy(monkeypatch, mock)
    with pytest.raises(requests.exceptions.ProxyError) as raised:
        requests.get("https://example.com/", timeout=10)
    assert "403" in str(raised.value)

    status, headers, body = raw_exchange(mock, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert status == 403
    assert headers["content-type"].startswith("application/json")
    refusal = json.loads(body)
    assert refusal["error"] == "proxy_refused"
    assert refusal["message"].startswith("example.com is not a host this mock emulates, and the mock never connects anywhere else")
    assert "login.microsoftonline.com" in refusal["message"] and "knoema.com" in refusal["message"]
    assert "NO_PROXY" in refusal["hint"]

    # A plain-http absolute-form request for a host not emulated: the same refusal, readable by requests.
    plain = requests.get("http://example.com/", timeout=10)
    assert plain.status_code == 403 and plain.json()["error"] == "proxy_refused"
    assert plain.json()["message"].startswith("example.com is not a host this mock emulates")

    assert connects(mock) == [("example.com:443", 403), ("example.com:443", 403)]
    assert [(e["method"], e["host"], e["status"]) for e in exchanges(mock) if e["method"] != "CONNECT"] == [
        ("GET", "example.com", 403)]


def test_no_outbound_connection_is_ever_attempted(mock):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        target = f"127.0.0.1:{port}".encode()

        status, _, body = raw_exchange(mock, b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n\r\n")
        assert status == 403, body
        assert json.loads(body)["message"].startswith("127.0.0.1 is not a host this mock emulates")
        status, _, body = raw_exchange(mock, b"GET http://" + target + b"/ HTTP/1.1\r\nHost: " + target + b"\r\n\r\n")
        assert status == 403, body
        assert json.loads(body)["error"] == "proxy_refused"

        readable, _, _ = select.select([listener], [], [], 0.5)
        assert readable == [], "the mock connected to our listener"
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    seen = [(e["method"], e["path"], e["status"]) for e in exchanges(mock)]
    assert seen == [("CONNECT", f"127.0.0.1:{port}", 403), ("GET", "/", 403)]


def test_a_real_host_on_another_port_is_refused(mock):
    status, _, body = raw_exchange(mock, b"CONNECT login.microsoftonline.com:8443 HTTP/1.1\r\n"
                                         b"Host: login.microsoftonline.com:8443\r\n\r\n")
    assert status == 403
    assert json.loads(body) == {
        "error": "proxy_refused", "message": "login.microsoftonline.com is emulated on port 443 only, not 8443",
        "hint": json.loads(body)["hint"]}
    assert connects(mock) == [("login.microsoftonline.com:8443", 403)]


@pytest.mark.parametrize("target", [b"nonsense", b"nonsense:notaport", b":443", b"login.microsoftonline.com:99999"])
def test_a_malformed_connect_target_gets_a_clear_400(mock, target):
    status, headers, body = raw_exchange(mock, b"CONNECT " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400, (status, body)
    answer = json.loads(body)
    assert answer["error"] == "bad_request"
    assert answer["message"] == f"'{target.decode()}' is not host:port"
    # The server is still serving.
    assert requests.get(f"{mock.admin}/health", timeout=10).ok


# 7. The mock's own service URLs through the proxy: tunnelled (https) or absolute form (http) to itself.

def test_the_mocks_own_https_url_through_https_proxy(mock, monkeypatch):
    use_proxy(monkeypatch, mock, http=False)
    resp = requests.post(mock.token_url(), timeout=30, data={
        "client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE, "grant_type": "client_credentials"})
    assert resp.status_code == 200, resp.text
    status = requests.get(mock.data_url("/api/status"), timeout=30,
                          headers={"Authorization": f"Bearer {resp.json()['access_token']}", "User-Agent": "API-CLIENT"})
    assert status.status_code == 200, status.text
    assert status.json()["clientId"] == READ_CLIENT[0]

    own = authority(mock.endpoints["https"])
    assert connects(mock) == [(own, 200), (own, 200)]
    served = [(e["listener"], e["path"], e["status"]) for e in exchanges(mock) if e["method"] != "CONNECT"]
    assert served == [("https", f"/kalibrate/login/{SANDPIT_TENANT}/oauth2/v2.0/token", 200),
                      ("https", "/kalibrate/data/api/status", 200)]


def test_the_mocks_own_http_urls_through_http_proxy(mock, monkeypatch):
    use_proxy(monkeypatch, mock, https=False)
    # The knoema service's dedicated listener, served at its root, and the admin API.
    meta = requests.get(mock.service("knoema.api") + "/api/1.0/meta/dataset/IMFWEO2024Oct", timeout=30)
    assert meta.status_code == 200 and meta.json()["id"] == "IMFWEO2024Oct"
    prefixed = requests.get(mock.endpoints["http"] + "/knoema/api/api/1.0/meta/dataset/POWERPLANTS", timeout=30)
    assert prefixed.status_code == 200 and prefixed.json()["id"] == "POWERPLANTS"
    assert requests.get(f"{mock.admin}/health", timeout=30).ok
    # An http:// URL for one of the TLS listeners is refused, with what to do instead.
    tls = requests.get(mock.endpoints["https"].replace("https://", "http://") + "/kalibrate/data/api/status", timeout=30)
    assert tls.status_code == 403 and tls.json()["error"] == "proxy_refused"
    assert tls.json()["message"] == f"{authority(mock.endpoints['https'])} is a TLS listener: send https:// URLs through CONNECT"
    served = [(e["path"], e["status"]) for e in exchanges(mock)]
    assert served == [("/api/1.0/meta/dataset/IMFWEO2024Oct", 200), ("/knoema/api/api/1.0/meta/dataset/POWERPLANTS", 200),
                      ("/kalibrate/data/api/status", 403)]
    assert connects(mock) == []


def test_plain_http_to_an_mtls_only_real_host_is_not_served(mock, monkeypatch):
    """The Open Energy hosts exist only behind mTLS: an absolute-form http request cannot skip it."""
    use_proxy(monkeypatch, mock, https=False)
    for url in ("http://matls-auth.directory.energydata.org.uk/token",
                "http://matls-dirapi.directory.energydata.org.uk/organisations"):
        r = requests.post(url, data={"client_id": "kZuAsn7UYZ98WWh29hDPf", "grant_type": "client_credentials"}, timeout=30)
        assert r.status_code == 421, (url, r.status_code, r.text)
        assert r.json()["error"] == "wrong_listener" and "served on: mtls" in r.json()["message"]
    assert mock.events(kind="token.issued") == []
