"""A negative matrix: requests the real providers refuse, generated across every provider and
every credential kind, each asserted refused with the provider's own error shape.

Credentials are spoiled in every way a client or an attacker can: wrong secrets, passwords,
scopes, tenants, grants, certificates, signatures and hours; forged JWTs (signature flipped,
`alg=none`, HS256 keyed with the public key, an embedded `jwk`); another provider's token, a
token from another run, an expired one; keys reaching past their installations or permissions;
the admin API where it must not be. One test makes them all and lists every request that was
not refused as it should be; the count is printed.
"""

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import READ_CLIENT, SANDPIT_SCOPE, SANDPIT_TENANT, raw_exchange
from openenergy_support import CONSUMER, DIRECTORY_ONLY, GRID_INTENSITY, UNREGISTERED, credentials

OPINUM_CLIENT = ("opinum-demo-client", "opinum-demo-secret")
PUSHER = ("pusher@demo-energy.example", "pusher-password")
READER = ("reader@demo-energy.example", "reader-password")
KNOEMA_APP = ("demo-app", "demo-app-secret")
ANNA_KEY = "f7650807dffc43c98710bdd942d78b68"      # user 11, installations of Demo Housing
BERTIL_KEY = "0641b6e4b4490b21dd9e8dadd34be3ab"    # user 12, Cabin Rentals
RUN = "negative-matrix"


# The providers' error shapes.

def aad(r):
    body = r.json()
    assert r.status_code in (400, 401), r.status_code
    assert body["error"] and body["error_description"].startswith("AADSTS") and body["error_codes"], body


def kalibrate_data(r):
    assert r.status_code in (401, 403), r.status_code
    assert r.json()["statusCode"] == r.status_code and r.json()["message"], r.text


def oauth(r):
    """RFC 6749 §5.2."""
    assert r.status_code in (400, 401), r.status_code
    assert r.json()["error"] in ("invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                                 "unsupported_grant_type", "invalid_scope"), r.text


def bearer(r):
    """RFC 6750 §3: a Bearer challenge, and nothing else to read."""
    assert r.status_code in (401, 403), r.status_code
    if r.status_code == 401:
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers


def knoema(r):
    assert r.status_code in (401, 403), r.status_code
    assert r.json()["Message"], r.text


def knoema_hidden(r):
    """Knoema hides a private dataset from a caller not signed in: 200 and a JSON string."""
    assert r.status_code == 200 and r.json() == "Requested dataset doesn't exist or you don't have access to it.", r.text


def lynx(r):
    assert r.status_code in (401, 403), r.status_code
    assert r.json()["message"], r.text


def admin(r):
    assert r.status_code in (400, 403, 404, 405), r.status_code
    assert r.json()["error"] and r.json()["message"], r.text


# Forged JWTs, from a real one.

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forgeries(token, jwks):
    header, claims, _ = token.split(".")
    claims_json = json.loads(base64.urlsafe_b64decode(claims + "=="))
    real_header = json.loads(base64.urlsafe_b64decode(header + "=="))
    public = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    flipped = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    none = f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{claims}."
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': real_header.get('kid')}).encode())}.{claims}"
    hs256 = signing_input + "." + b64(hmac.new(public, signing_input.encode(), hashlib.sha256).digest())
    embedded = jwt.encode(claims_json, attacker, algorithm="RS256",
                          headers={"kid": real_header.get("kid"), "jwk": attacker_jwk})
    return {"signature flipped": flipped, "alg none": none, "HS256 with the public key": hs256,
            "embedded jwk": embedded}


class Matrix:
    def __init__(self):
        self.count = 0
        self.wrong = []

    def check(self, name, send, shape):
        self.count += 1
        try:
            r = send()
            shape(r)
        except Exception as e:  # noqa: BLE001 - every surprise is reported with its request
            status = getattr(locals().get("r"), "status_code", "no answer")
            self.wrong.append(f"{name}: {status}: {type(e).__name__} {e}"[:400])

    def section(self, run):
        """A section whose own setup fails (a real token refused, say) is one wrong answer, and the
        other sections still run."""
        try:
            run()
        except Exception as e:  # noqa: BLE001
            self.wrong.append(f"setting up a section: {type(e).__name__} {e}"[:400])


def test_every_provider_refuses_what_the_real_one_refuses(mock, tmp_path, capsys):
    m = Matrix()
    r = requests.post(f"{mock.admin}/runs", json={"id": RUN}, timeout=10)
    assert r.status_code == 201, r.text
    run = r.json()["endpoints"]["services"]
    try:
        for section in (lambda: kalibrate(mock, run, m), lambda: opinum(mock, run, m),
                        lambda: knoema_cases(mock, run, m), lambda: openenergy(mock, run, tmp_path, m),
                        lambda: iotopen(mock, run, m), lambda: admin_api(mock, m)):
            m.section(section)
    finally:
        requests.delete(f"{mock.admin}/runs/{RUN}", timeout=10)
        requests.post(f"{mock.admin}/clock", json={"offset_seconds": 0, "freeze": False}, timeout=10)
    with capsys.disabled():
        print(f"\nnegative matrix: {m.count} requests, {m.count - len(m.wrong)} refused as the provider refuses them")
    assert not m.wrong, f"{len(m.wrong)} of {m.count} not refused as they should be:\n" + "\n".join(m.wrong)
    assert m.count >= 300, m.count


def token_faults(valid, other_provider, other_run, jwks):
    """What a bearer token can be made into that no provider accepts."""
    faults = {f"forged ({k})": v for k, v in forgeries(valid, jwks).items()}
    faults.update({"another provider's token": other_provider, "another run's token": other_run,
                   "garbage": "abc.def.ghi", "truncated": valid[: len(valid) // 2]})
    return faults


def kalibrate(mock, run, m):
    login, data = mock.service("kalibrate.login"), mock.service("kalibrate.data")
    good = {"client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE,
            "grant_type": "client_credentials"}
    spoiled = {
        "wrong secret": {"client_secret": "wrong"},
        "unknown client": {"client_id": "00000000-0000-4000-8000-000000000000"},
        "scope without /.default": {"scope": SANDPIT_SCOPE.removesuffix("/.default")},
        "scope of an unknown API": {"scope": "api://nowhere.example/x/.default"},
        "wrong grant": {"grant_type": "password"},
        "no secret": {"client_secret": None},
        "no scope": {"scope": None},
        "no grant": {"grant_type": None},
        "no client": {"client_id": None},
    }
    for base_name, base in (("base URL", login), ("run", run["kalibrate.login"])):
        for tenant_name, tenant in (("sandpit", SANDPIT_TENANT), ("unknown tenant", "11111111-2222-4333-8444-555555555555"),
                                    ("malformed tenant", "not a tenant!")):
            for name, change in spoiled.items():
                if tenant_name != "sandpit" and name != "wrong secret":
                    continue
                form = {k: v for k, v in {**good, **change}.items() if v is not None}
                m.check(f"kalibrate token ({base_name}, {tenant_name}, {name})",
                        lambda base=base, tenant=tenant, form=form: requests.post(
                            f"{base}/{tenant}/oauth2/v2.0/token", data=form, timeout=10), aad)
        m.check(f"kalibrate token ({base_name}, GET)", lambda base=base: requests.get(
            f"{base}/{SANDPIT_TENANT}/oauth2/v2.0/token", params=good, timeout=10), aad)
        m.check(f"kalibrate token ({base_name}, JSON body)", lambda base=base: requests.post(
            f"{base}/{SANDPIT_TENANT}/oauth2/v2.0/token", json=good, timeout=10), aad)

    valid = requests.post(f"{login}/{SANDPIT_TENANT}/oauth2/v2.0/token", data=good, timeout=10).json()["access_token"]
    other_run = requests.post(f"{run['kalibrate.login']}/{SANDPIT_TENANT}/oauth2/v2.0/token", data=good,
                              timeout=10).json()["access_token"]
    jwks = requests.get(f"{login}/{SANDPIT_TENANT}/discovery/v2.0/keys", timeout=10).json()
    faults = token_faults(valid, opinum_token(mock, PUSHER), other_run, jwks)
    prod = requests.post(f"{login}/3b1e5c9a-6f2d-4e8b-a7c4-0d9f8e7a6b5c/oauth2/v2.0/token", data={
        "client_id": "c0ffee00-1234-4abc-8def-0123456789ab", "client_secret": "production-read-secret",
        "scope": "api://data.thekalibratecloud.com/4d2c8b1a-9e7f-4a6b-b5c3-2e1d0f9a8b7c/.default",
        "grant_type": "client_credentials"}, timeout=10).json()["access_token"]
    faults["a production token at the sandpit"] = prod
    agent = {"User-Agent": "negative-matrix/1.0"}
    paths = ["/api/status", "/api/price", "/api/site", "/api/product", "/api/volume"]
    for path in paths:
        for name, token in faults.items():
            m.check(f"kalibrate data {path} ({name})", lambda path=path, token=token: requests.get(
                data + path, headers={**agent, "Authorization": f"Bearer {token}"}, timeout=10), kalibrate_data)
        m.check(f"kalibrate data {path} (no token)", lambda path=path: requests.get(data + path, headers=agent,
                                                                                      timeout=10), kalibrate_data)
        m.check(f"kalibrate data {path} (Basic)", lambda path=path: requests.get(
            data + path, headers=agent, auth=READ_CLIENT, timeout=10), kalibrate_data)
        m.check(f"kalibrate data {path} (python-requests' User-Agent)", lambda path=path: requests.get(
            data + path, headers={"Authorization": f"Bearer {valid}"}, timeout=10), kalibrate_data)
    # Expired, on the virtual clock.
    requests.post(f"{mock.admin}/clock", json={"advance_seconds": 7200}, timeout=10).raise_for_status()
    for path in paths:
        m.check(f"kalibrate data {path} (expired)", lambda path=path: requests.get(
            data + path, headers={**agent, "Authorization": f"Bearer {valid}"}, timeout=10), kalibrate_data)
    requests.post(f"{mock.admin}/clock", json={"offset_seconds": 0}, timeout=10).raise_for_status()


def opinum_token(mock, user, scope="datahub-api push-data", base=None):
    base = base or mock.opinum("identity")
    r = requests.post(f"{base}/connect/token", data={
        "grant_type": "password", "client_id": OPINUM_CLIENT[0], "client_secret": OPINUM_CLIENT[1],
        "username": user[0], "password": user[1], "scope": scope}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def opinum(mock, run, m):
    identity = mock.opinum("identity")
    good = {"grant_type": "password", "client_id": OPINUM_CLIENT[0], "client_secret": OPINUM_CLIENT[1],
            "username": PUSHER[0], "password": PUSHER[1], "scope": "datahub-api push-data"}
    spoiled = {
        "wrong password": {"password": "wrong"}, "unknown user": {"username": "nobody@example.com"},
        "wrong secret": {"client_secret": "wrong"}, "unknown client": {"client_id": "nobody"},
        "unknown scope": {"scope": "everything"}, "push-data without the right": {**dict(zip(("username", "password"), READER))},
        "wrong grant": {"grant_type": "client_credentials"}, "no password": {"password": None},
        "no username": {"username": None}, "refresh with a made-up token": {"grant_type": "refresh_token", "refresh_token": "made-up"},
        "an account the user lacks": {"account": "3003"},
    }
    for path in ("/connect/token", "/realms/opinum/protocol/openid-connect/token"):
        for name, change in spoiled.items():
            form = {k: v for k, v in {**good, **change}.items() if v is not None}
            m.check(f"opinum token {path} ({name})", lambda path=path, form=form: requests.post(
                identity + path, data=form, timeout=10), oauth)

    valid = opinum_token(mock, PUSHER)
    other_run = opinum_token(mock, PUSHER, base=run["opinum.identity"])
    jwks = requests.get(f"{identity}/.well-known/openid-configuration/jwks", timeout=10).json()
    kalibrate_jwt = requests.post(f"{mock.service('kalibrate.login')}/{SANDPIT_TENANT}/oauth2/v2.0/token", data={
        "client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE,
        "grant_type": "client_credentials"}, timeout=10).json()["access_token"]
    faults = token_faults(valid, kalibrate_jwt, other_run, jwks)
    api, push = mock.opinum("api"), mock.opinum("push")
    calls = {
        "api GET /sites": lambda h: requests.get(f"{api}/sites", headers=h, timeout=10),
        "api GET /sources": lambda h: requests.get(f"{api}/sources", headers=h, timeout=10),
        "api GET /variables": lambda h: requests.get(f"{api}/variables", headers=h, timeout=10),
        "api GET /data": lambda h: requests.get(f"{api}/data", params={"variableId": 100}, headers=h, timeout=10),
        "push /api/data": lambda h: requests.post(f"{push}/api/data", json=[{"variableId": 100, "data": []}],
                                                  headers=h, timeout=10),
        "push /api/standard": lambda h: requests.post(f"{push}/api/standard", json={"Data": []}, headers=h, timeout=10),
        "push /api/generic": lambda h: requests.post(f"{push}/api/generic/3f2b8c1e-4d5a-4e6f-9a7b-8c9d0e1f2a3b",
                                                     json={}, headers=h, timeout=10),
    }
    for call_name, call in calls.items():
        for name, token in faults.items():
            m.check(f"opinum {call_name} ({name})", lambda call=call, token=token: call(
                {"Authorization": f"Bearer {token}"}), bearer)
        m.check(f"opinum {call_name} (no token)", lambda call=call: call({}), bearer)
    api_only = opinum_token(mock, PUSHER, scope="datahub-api")
    for call_name in ("push /api/data", "push /api/standard", "push /api/generic"):
        m.check(f"opinum {call_name} (without push-data)", lambda call=calls[call_name]: call(
            {"Authorization": f"Bearer {api_only}"}), bearer)
    requests.post(f"{mock.admin}/clock", json={"advance_seconds": 7200}, timeout=10).raise_for_status()
    for call_name, call in calls.items():
        m.check(f"opinum {call_name} (expired)", lambda call=call: call({"Authorization": f"Bearer {valid}"}), bearer)
    requests.post(f"{mock.admin}/clock", json={"offset_seconds": 0}, timeout=10).raise_for_status()


def knoema_header(app, secret, at, *, key_first=False, digest=hashlib.sha1, encode=base64.b64encode, suffix=":1.2"):
    hour = at.strftime("%d-%m-%y-%H").encode()
    key, message = (secret.encode(), hour) if key_first else (hour, secret.encode())
    return f"Knoema {app}:{encode(hmac.new(key, message, digest).digest()).decode()}{suffix}"


def knoema_cases(mock, run, m):
    base = mock.service("knoema.api")
    now = datetime.now(timezone.utc)
    two_hours_ago = datetime.fromtimestamp(now.timestamp() - 7200, timezone.utc)
    app, secret = KNOEMA_APP
    headers = {
        "wrong secret": knoema_header(app, "wrong", now),
        "key and message swapped": knoema_header(app, secret, now, key_first=True),
        "two hours old": knoema_header(app, secret, two_hours_ago),
        "SHA-256": knoema_header(app, secret, now, digest=hashlib.sha256),
        "hex, not base64": knoema_header(app, secret, now, encode=lambda d: d.hex().encode()),
        "no version": knoema_header(app, secret, now, suffix=""),
        "unknown app": knoema_header("nobody", secret, now),
        "malformed": "Knoema not-a-signature",
        "a made-up bearer token": "Bearer made-up",
    }
    calls = {
        "meta": lambda h: requests.get(f"{base}/api/1.0/meta/dataset/DEMOSALES", headers=h, timeout=10),
        "daterange": lambda h: requests.get(f"{base}/api/1.0/meta/dataset/DEMOSALES/daterange", headers=h, timeout=10),
        "dimension": lambda h: requests.get(f"{base}/api/1.0/meta/dataset/DEMOSALES/dimension/region", headers=h,
                                            timeout=10),
        "data": lambda h: requests.post(f"{base}/api/2.0/data", params={"datasetId": "DEMOSALES"}, json=[],
                                        headers=h, timeout=10),
    }
    for call_name, call in calls.items():
        for name, value in headers.items():
            m.check(f"knoema {call_name} ({name})", lambda call=call, value=value: call({"Authorization": value}), knoema)
        m.check(f"knoema {call_name} (anonymous, private dataset)", lambda call=call: call({}), knoema_hidden)
    token = base + "/oauth/token"
    good = {"grant_type": "authorization_code", "client_id": app, "client_secret": secret, "code": "made-up",
            "redirect_uri": "https://client.example.com/callback"}
    for name, change in {"made-up code": {}, "wrong secret": {"client_secret": "wrong"},
                         "unknown app": {"client_id": "nobody"}, "wrong grant": {"grant_type": "password"},
                         "made-up refresh token": {"grant_type": "refresh_token", "refresh_token": "made-up"},
                         "no code": {"code": None}}.items():
        params = {k: v for k, v in {**good, **change}.items() if v is not None}
        m.check(f"knoema token ({name})", lambda params=params: requests.get(token, params=params, timeout=10),
                lambda r: (r.status_code in (400, 401)) and r.json()["error"] or (_ for _ in ()).throw(
                    AssertionError(r.text)))


def openenergy(mock, run, tmp_path, m):
    consumer = credentials(mock, tmp_path, CONSUMER, "consumer")
    directory_only = credentials(mock, tmp_path, DIRECTORY_ONLY, "directory")
    unregistered = credentials(mock, tmp_path, UNREGISTERED, "unregistered")
    cert = (str(consumer.certificate), str(consumer.key))
    auth, data = mock.service("openenergy.auth"), mock.service("openenergy.data")

    def token_request(form, cert=cert, base=auth):
        return requests.post(f"{base}/token", data=form, cert=cert, timeout=10)

    good = {"grant_type": "client_credentials", "client_id": consumer.client_id}
    for name, (form, use) in {
        "another statement's client id": ({**good, "client_id": directory_only.client_id}, cert),
        "unknown client id": ({**good, "client_id": "nobody"}, cert),
        "no client id": ({"grant_type": "client_credentials"}, cert),
        "wrong grant": ({**good, "grant_type": "password"}, cert),
        "no certificate": (good, None),
        "an unregistered statement's certificate": (good, (str(unregistered.certificate), str(unregistered.key))),
        "a scope it lacks": ({**good, "scope": "energy:everything"}, cert),
    }.items():
        m.check(f"openenergy token ({name})", lambda form=form, use=use: token_request(form, use), oauth)
    valid = token_request(good).json()["access_token"]
    other_run = token_request(good, base=run["openenergy.auth"]).json()["access_token"]
    other_cert = (str(directory_only.certificate), str(directory_only.key))
    for name, (token, use, where) in {
        "a made-up token": ("made-up", cert, "header"),
        "another run's token": (other_run, cert, "header"),
        "another certificate": (valid, other_cert, "header"),
        "no certificate": (valid, None, "header"),
        "the token in the query": (valid, cert, "query"),
        "no token": (None, cert, "header"),
        "Basic": ("basic", cert, "header"),
    }.items():
        for path in (GRID_INTENSITY, "/datasets/postcode-consumption"):
            def send(token=token, use=use, where=where, path=path):
                if where == "query":
                    return requests.get(f"{data}{path}", params={"access_token": token}, cert=use, timeout=10)
                headers = {"x-fapi-interaction-id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}
                if token == "basic":
                    return requests.get(f"{data}{path}", auth=("a", "b"), headers=headers, cert=use, timeout=10)
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                return requests.get(f"{data}{path}", headers=headers, cert=use, timeout=10)
            m.check(f"openenergy data {path} ({name})", send, bearer)
    m.check("openenergy introspection (no certificate)", lambda: requests.post(
        f"{auth}/token/introspection", data={"token": valid, "client_id": consumer.client_id}, timeout=10), oauth)


def lynx_get(mock, path, key=None, bearer_token=None, base=None):
    headers = {}
    if key:
        headers["X-API-Key"] = key
    if bearer_token:
        headers["Authorization"] = f"Bearer {bearer_token}"
    return requests.get((base or mock.service("iotopen.api")) + path, headers=headers, timeout=10)


def iotopen(mock, run, m):
    api = mock.service("iotopen.api")
    anna_installation = lynx_get(mock, "/api/v2/installationinfo", ANNA_KEY).json()[0]["id"]
    bertil_installation = lynx_get(mock, "/api/v2/installationinfo", BERTIL_KEY).json()[0]["id"]
    per_installation = ["/api/v2/installation/{i}", "/api/v2/status/{i}", "/api/v3beta/log/{i}",
                        "/api/v2/functionx/{i}", "/api/v2/devicex/{i}"]
    everywhere = ["/api/v2/installationinfo", "/api/v2/user/me", "/api/v2/user/me/security/token"]
    narrowed = requests.post(f"{api}/api/v2/user/me/security/token", json={
        "name": "status only", "permissions": ["status/read/assigned"]}, headers={"X-API-Key": ANNA_KEY},
        timeout=10).json()["token"]
    revoked = requests.post(f"{api}/api/v2/user/me/security/token", json={"name": "to revoke"},
                            headers={"X-API-Key": ANNA_KEY}, timeout=10).json()
    requests.delete(f"{api}/api/v2/user/me/security/token/{revoked['id']}", headers={"X-API-Key": ANNA_KEY},
                    timeout=10).raise_for_status()
    run_key = requests.post(f"{run['iotopen.api']}/api/v2/user/me/security/token", json={"name": "run key"},
                            headers={"X-API-Key": ANNA_KEY}, timeout=10).json()["token"]
    for path in per_installation + everywhere:
        for name, key in {"a made-up key": "0" * 32, "a revoked key": revoked["token"], "another run's key": run_key,
                          "malformed key": "not-hex"}.items():
            p = path.format(i=anna_installation)
            m.check(f"iotopen {p} ({name})", lambda p=p, key=key: lynx_get(mock, p, key), lynx)
        p = path.format(i=anna_installation)
        m.check(f"iotopen {p} (no key)", lambda p=p: lynx_get(mock, p), lynx)
        m.check(f"iotopen {p} (made-up bearer)", lambda p=p: lynx_get(mock, p, bearer_token="made-up"), lynx)
    for path in per_installation:
        p = path.format(i=bertil_installation)
        m.check(f"iotopen {p} (another user's installation)", lambda p=p: lynx_get(mock, p, ANNA_KEY), lynx)
    for path in ("/api/v3beta/log/{i}", "/api/v2/functionx/{i}", "/api/v2/devicex/{i}", "/api/v2/installation/{i}"):
        p = path.format(i=anna_installation)
        m.check(f"iotopen {p} (a key narrowed to status)", lambda p=p: lynx_get(mock, p, narrowed), lynx)
    m.check("iotopen another user's keys", lambda: lynx_get(mock, "/api/v2/user/12/security/token", ANNA_KEY), lynx)
    m.check("iotopen a narrowed key minting a wider one", lambda: requests.post(
        f"{api}/api/v2/user/me/security/token", json={"name": "wider", "permissions": ["log/read/assigned"]},
        headers={"X-API-Key": narrowed}, timeout=10), lynx)


def admin_api(mock, m):
    knoema_own = mock.service("knoema.api")
    host, port = mock.endpoints["http"].removeprefix("http://").split(":")
    for method in ("GET", "POST", "DELETE"):
        m.check(f"runs API on a dedicated listener ({method})", lambda method=method: requests.request(
            method, f"{knoema_own}/__admin/runs", timeout=10), knoema_not_found)

    def through_proxy(method):
        status, headers, body = raw_exchange((host, int(port)), (
            f"{method} http://{host}:{port}/__admin/runs HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n").encode())
        return FakeResponse(status, body)

    for method in ("GET", "POST", "DELETE"):
        m.check(f"runs API through the proxy ({method})", lambda method=method: through_proxy(method), admin)
    for run_id in (".", "..", "a b", "x" * 65, ""):
        m.check(f"run id {run_id!r}", lambda run_id=run_id: requests.post(
            f"{mock.admin}/runs", json={"id": run_id}, timeout=10), admin)
    for path in ("/__admin/events", "/kalibrate/login/x", "/__admin/health"):
        m.check(f"an unknown run ({path})", lambda path=path: requests.get(
            f"{mock.endpoints['http']}/__run/nobody{path}", timeout=10), admin)


def knoema_not_found(r):
    assert r.status_code == 404, r.status_code
    assert r.json()["Message"], r.text


class FakeResponse:
    def __init__(self, status, body):
        self.status_code = status
        self._body = body
        self.text = body.decode(errors="replace")

    def json(self):
        return json.loads(self._body)
