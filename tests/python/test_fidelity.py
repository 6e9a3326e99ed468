"""Discovery documents and headers as strict clients check them, and the holes a negative
matrix of requests found (authorization escalation, the admin API where it must not be).

Discovery is validated with Authlib, a strict OAuth/OIDC library (its metadata models check what
OpenID Connect Discovery 1.0 §3 and RFC 8414 §2 require of a field), field by field for the
fields the real providers publish (Azure AD's own v2.0 document lists `private_key_jwt` without
`token_endpoint_auth_signing_alg_values_supported`, so a whole-document check fails on the real
one too), and against the rule
strict clients such as openid-client enforce: the `issuer` is the URL the document lives under
(OIDC Discovery §4.3, RFC 8414 §3.3). Every discovery document is fetched in every addressing
form: the service's base URL, a run's prefix, and the real host through the proxy.
"""

import base64
import json
import socket

import jwt
import pytest
import requests
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from conftest import READ_CLIENT, SANDPIT_SCOPE, SANDPIT_TENANT, clear_proxy_env, raw_exchange

WELL_KNOWN = "/.well-known/openid-configuration"
OPINUM_CLIENT = ("opinum-demo-client", "opinum-demo-secret")


def kalibrate_v2(base):
    return f"{base}/{SANDPIT_TENANT}/v2.0"


@pytest.fixture
def run(mock):
    r = requests.post(f"{mock.admin}/runs", json={"id": "fidelity"}, timeout=10)
    assert r.status_code == 201, r.text
    yield r.json()["endpoints"]
    requests.delete(f"{mock.admin}/runs/fidelity", timeout=10)


def bases(mock, run):
    """The base URLs of the services with discovery documents, in the three addressing forms
    (the proxy form is the real host, fetched through `HTTPS_PROXY`)."""
    return {
        "base URL": {k: mock.service(k) for k in ("kalibrate.login", "opinum.identity", "openenergy.auth")},
        "run": {k: run["services"][k] for k in ("kalibrate.login", "opinum.identity", "openenergy.auth")},
        "proxy": {
            "kalibrate.login": "https://login.microsoftonline.com",
            "opinum.identity": "https://identity.opinum.com",
            "openenergy.auth": "https://matls-auth.directory.energydata.org.uk",
        },
    }


OIDC_FIELDS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
               "subject_types_supported", "id_token_signing_alg_values_supported", "scopes_supported")
OAUTH_FIELDS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
                "grant_types_supported", "introspection_endpoint", "scopes_supported")


def strict(model, doc, fields):
    """Authlib's validator of each of `fields` (a missing required field fails too)."""
    metadata = model(doc)
    for field in fields:
        getattr(metadata, f"validate_{field}")()


def fetch(session, url, cert=None):
    r = session.get(url, timeout=10, cert=cert)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text}"
    return r.json()


def session_for(form, mock, monkeypatch):
    clear_proxy_env(monkeypatch, mock)
    session = requests.Session()
    session.verify = mock.ca
    if form == "proxy":
        session.proxies = {"https": mock.endpoints["proxy"], "http": mock.endpoints["proxy"]}
        session.trust_env = False
    return session


@pytest.mark.parametrize("form", ["base URL", "run", "proxy"])
def test_discovery_issuers_are_the_url_the_document_lives_under(mock, run, monkeypatch, tmp_path, form):
    session = session_for(form, mock, monkeypatch)
    base = bases(mock, run)[form]

    # Azure AD v2.0 (Kalibrate's login): the issuer is the URL below which the document lives.
    issuer_url = kalibrate_v2(base["kalibrate.login"])
    doc = fetch(session, issuer_url + WELL_KNOWN)
    strict(OpenIDProviderMetadata, doc, OIDC_FIELDS)
    assert doc["issuer"] == issuer_url, doc["issuer"]
    assert doc["token_endpoint"].startswith(base["kalibrate.login"] + "/")

    # Opinum's IdentityServer, both dialects: a whole discovery document, keys included.
    for path, issuer_path in ((WELL_KNOWN, ""), ("/realms/opinum" + WELL_KNOWN, "/realms/opinum")):
        doc = fetch(session, base["opinum.identity"] + path)
        strict(OpenIDProviderMetadata, doc, OIDC_FIELDS)
        assert doc["issuer"] == base["opinum.identity"] + issuer_path
        keys = fetch(session, doc["jwks_uri"])["keys"]
        assert keys and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"

    # Open Energy's authorization server (mTLS): an RFC 8414 document. Through a mock URL its
    # issuer is that URL; at the real host it is the directory's `auth.` host, which the proxy
    # serves too, since every host a served document names must be reachable.
    cert = client_certificate(mock, tmp_path)
    doc = fetch(session, base["openenergy.auth"] + WELL_KNOWN, cert=cert)
    strict(AuthorizationServerMetadata, doc, OAUTH_FIELDS)
    if form == "proxy":
        assert doc["issuer"] == "https://auth.directory.energydata.org.uk"
        at_issuer = fetch(session, doc["issuer"] + WELL_KNOWN, cert=cert)
        assert at_issuer["token_endpoint"].startswith("https://auth.directory.energydata.org.uk/")
    else:
        assert doc["issuer"] == base["openenergy.auth"]


def client_certificate(mock, tmp_path):
    """A certificate for the demo consumer, from a CSR signed by the admin API."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "4b1c8f52-2d8a-4b7e-9c31-6f0e2a7d5c10"),
        x509.NameAttribute(NameOID.COMMON_NAME, "9f3e6a21-7c4b-4d8e-a512-3b6c9d0e1f27"),
    ])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    r = requests.post(f"{mock.admin}/certificates", data=csr.public_bytes(serialization.Encoding.PEM), timeout=10)
    assert r.status_code == 201, r.text
    cert_path, key_path = tmp_path / "oe.pem", tmp_path / "oe.key"
    cert_path.write_text(r.json()["certificate"])
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_opinum_tokens_verify_with_the_published_keys(mock):
    doc = requests.get(mock.opinum("identity", WELL_KNOWN), timeout=10).json()
    r = requests.post(doc["token_endpoint"], data={
        "grant_type": "password", "client_id": OPINUM_CLIENT[0], "client_secret": OPINUM_CLIENT[1],
        "username": "pusher@demo-energy.example", "password": "pusher-password", "scope": "datahub-api push-data",
    }, timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    keys = requests.get(doc["jwks_uri"], timeout=10).json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["iss"] == doc["issuer"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), key, algorithms=["RS256"],
                   options={"verify_aud": False})


def test_azure_ad_request_ids_and_backdated_tokens(mock):
    client_request_id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    r = requests.post(mock.token_url(), data={
        "client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE,
        "grant_type": "client_credentials",
    }, headers={"client-request-id": client_request_id}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["client-request-id"] == client_request_id
    request_id = r.headers["x-ms-request-id"]
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] - claims["iat"] == r.json()["expires_in"] + 300, "iat five minutes before issue"

    # An error names the same request id as its trace id.
    wrong = requests.post(mock.token_url(), data={
        "client_id": READ_CLIENT[0], "client_secret": "wrong", "scope": SANDPIT_SCOPE,
        "grant_type": "client_credentials"}, timeout=10)
    assert wrong.status_code == 401
    assert wrong.json()["trace_id"] == wrong.headers["x-ms-request-id"] != request_id
    assert "client-request-id" not in wrong.headers, "echoed only when sent"


# IoT Open: a credential never grants more than it holds.

API = "/api/v2"
FULL_KEY = "f7650807dffc43c98710bdd942d78b68"  # Anna's demo key: every permission of her role


def lynx(mock, path):
    return mock.service("iotopen.api") + path


def key_with(mock, key, permissions=None, name="narrowed"):
    body = {"name": name}
    if permissions is not None:
        body["permissions"] = permissions
    r = requests.post(lynx(mock, f"{API}/user/me/security/token"), json=body, headers={"X-API-Key": key}, timeout=10)
    return r


def installation(mock, key):
    r = requests.get(lynx(mock, f"{API}/installationinfo"), headers={"X-API-Key": key}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()[0]["id"]


def log_status(mock, key, inst):
    return requests.get(lynx(mock, f"/api/v3beta/log/{inst}"), headers={"X-API-Key": key}, timeout=10).status_code


def test_a_narrowed_key_cannot_mint_a_wider_one(mock):
    inst = installation(mock, FULL_KEY)
    narrow = key_with(mock, FULL_KEY, ["status/read/assigned", "installation/list/assigned",
                                       "user/security/token/create_delete"])
    assert narrow.status_code == 200, narrow.text
    narrow = narrow.json()["token"]
    assert log_status(mock, narrow, inst) == 403
    # Without a list, the new key holds what its maker holds: no more.
    minted = key_with(mock, narrow, name="minted")
    assert minted.status_code == 200, minted.text
    assert "log/read/assigned" not in minted.json()["permissions"]
    assert log_status(mock, minted.json()["token"], inst) == 403
    # Asking for more is refused.
    assert key_with(mock, narrow, ["log/read/assigned"]).status_code == 403


REDIRECT = "http://127.0.0.1:8765/callback"


def oauth_consent(mock, key, scopes, inst):
    client = "demo-integrator"
    r = requests.get(lynx(mock, f"{API}/oauth2/authorize"), params={
        "response_type": "code", "client_id": client, "scope": " ".join(scopes), "state": "s1",
        "redirect_uri": REDIRECT},
        headers={"X-API-Key": key}, timeout=10)
    assert r.status_code == 200, r.text
    return requests.post(lynx(mock, f"{API}/oauth2/consent"), json={
        "consent_challenge": r.json()["consent_challenge"], "grant_scope": scopes, "installations": [inst]},
        headers={"X-API-Key": key}, timeout=10)


def test_a_narrowed_key_cannot_consent_to_wider_scopes(mock):
    inst = installation(mock, FULL_KEY)
    narrow = key_with(mock, FULL_KEY, ["status/read/assigned", "installation/list/assigned"]).json()["token"]
    r = oauth_consent(mock, narrow, ["status:read", "log:read"], inst)
    assert r.status_code == 403, r.text
    assert "log:read" in r.text
    denied = mock.events(kind="api.denied", provider="iotopen")
    assert any("cannot grant 'log:read'" in e["reason"] for e in denied), denied
    # What it holds it may grant.
    assert oauth_consent(mock, narrow, ["status:read"], inst).status_code == 200


def test_an_oauth_token_cannot_widen_its_own_consent(mock):
    inst = installation(mock, FULL_KEY)
    consented = oauth_consent(mock, FULL_KEY, ["status:read", "installation:read"], inst)
    assert consented.status_code == 200, consented.text
    code = consented.json()["redirect_to"].split("code=")[1].split("&")[0]
    fixtures = requests.get(f"{mock.admin}/fixtures", timeout=10).json()["fixtures"]["iotopen"]
    client = next(c for c in fixtures["oauth_clients"] if c["client_id"] == "demo-integrator")
    token = requests.post(lynx(mock, f"{API}/oauth2/token"), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": client["client_id"], "client_secret": client["secret"]}, timeout=10)
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    r = requests.get(lynx(mock, f"{API}/oauth2/authorize"), params={
        "response_type": "code", "client_id": client["client_id"], "scope": "status:read log:read",
        "redirect_uri": REDIRECT},
        headers=bearer, timeout=10)
    assert r.status_code == 200, r.text
    widened = requests.post(lynx(mock, f"{API}/oauth2/consent"), json={
        "consent_challenge": r.json()["consent_challenge"], "grant_scope": ["status:read", "log:read"],
        "installations": [inst]}, headers=bearer, timeout=10)
    assert widened.status_code == 403, widened.text
    assert requests.get(lynx(mock, f"/api/v3beta/log/{inst}"), headers=bearer, timeout=10).status_code == 403


# The admin API only where the docs say it is.

def test_runs_api_is_not_on_a_dedicated_listener_nor_through_the_proxy(mock):
    knoema = mock.service("knoema.api")
    for method in ("GET", "POST", "DELETE"):
        r = requests.request(method, f"{knoema}/__admin/runs", timeout=10)
        assert r.status_code != 200 and r.status_code != 201 and r.status_code != 204, (method, r.status_code, r.text)
        assert "runs" not in r.text or "limit" not in r.text
    host, port = mock.endpoints["http"].removeprefix("http://").split(":")

    def through_proxy(path):
        return raw_exchange((host, int(port)), (
            f"GET http://{host}:{port}{path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n").encode())

    status, _, body = through_proxy("/__admin/runs")
    assert status == 403 and json.loads(body)["error"] == "proxy_refused", (status, body)
    # A namespace's own admin API through the proxy is the mock's own URL: served.
    assert through_proxy("/__admin/health")[0] == 200
    # Sent to the mock itself, it is there.
    assert requests.get(f"{mock.admin}/runs", timeout=10).status_code == 200


@pytest.mark.parametrize("run_id", [".", ".."])
def test_dot_segments_are_not_run_ids(mock, run_id):
    r = requests.post(f"{mock.admin}/runs", json={"id": run_id}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "bad_run", r.text
    status, _, body = raw_exchange(
        tuple_address(mock), f"GET /__run/{run_id}/__admin/health HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status in (400, 404), (status, body)
    if status == 400:
        assert json.loads(body)["error"] == "bad_run"


def tuple_address(mock):
    host, port = mock.endpoints["http"].removeprefix("http://").split(":")
    return host, int(port)


# Opinum: a push works in the token's account.

OPINUM_MAPPER_1001 = "3f2b8c1e-4d5a-4e6f-9a7b-8c9d0e1f2a3b"


def opinum_token(mock, account):
    r = requests.post(mock.opinum("identity", "/connect/token"), data={
        "grant_type": "password", "client_id": OPINUM_CLIENT[0], "client_secret": OPINUM_CLIENT[1],
        "username": "pusher@demo-energy.example", "password": "pusher-password",
        "scope": "datahub-api push-data", "account": str(account)}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_a_custom_push_lands_only_in_the_tokens_account(mock):
    body = {"readings": [{"meter": "SN-0001", "timestamp": "2024-04-01T00:00:00", "kwh": 4.5}]}
    url = mock.opinum("push", f"/api/generic/{OPINUM_MAPPER_1001}")
    other = requests.post(url, json=body, headers={"Authorization": f"Bearer {opinum_token(mock, 2002)}"}, timeout=10)
    assert other.status_code == 404, "another account's mapper is not found from account 2002"
    assert other.json()["detail"] == f"no custom data mapper is configured for {OPINUM_MAPPER_1001}"
    assert mock.events(kind="data.written") == []
    own = requests.post(url, json=body, headers={"Authorization": f"Bearer {opinum_token(mock, 1001)}"}, timeout=10)
    assert own.status_code == 200, own.text
    assert mock.events(kind="data.written")[0]["count"] == 1
