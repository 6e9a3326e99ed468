"""Kalibrate's documented flow with plain requests (docs/providers/kalibrate.md#requests): client-credentials token, then the data API.

This is Kalibrate's worked example (https://dev.data.thekalibratecloud.com/portal/docs/exampleauth) with only the two URLs changed to the mock's service URLs.
"""

import base64
import json
from datetime import datetime

import requests

from conftest import READ_CLIENT, SANDPIT_AUDIENCE, SANDPIT_SCOPE, SANDPIT_TENANT


def example_token(mock, client=READ_CLIENT, scope=SANDPIT_SCOPE):
    post_body = {"client_id": client[0], "client_secret": client[1], "scope": scope, "grant_type": "client_credentials"}
    return requests.post(mock.token_url(), data=post_body, timeout=60)


def claims_of(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_token_then_status_with_a_custom_user_agent(mock):
    resp = example_token(mock)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store, no-cache"
    jsonbody = json.loads(resp.text)
    assert jsonbody["token_type"] == "Bearer"
    assert jsonbody["expires_in"] == 3599 and jsonbody["ext_expires_in"] == 3599
    assert "refresh_token" not in jsonbody
    token = jsonbody["access_token"]

    auth_header = {"Authorization": "Bearer %s" % token, "User-Agent": "API-CLIENT"}
    response = requests.get(mock.data_url("/api/status"), headers=auth_header, timeout=60)
    assert response.status_code == 200, response.text
    status = response.json()
    assert set(status) == {"token", "audience", "issuer", "version", "clientId", "tenantId", "expirationTime"}
    assert status["token"] == token
    assert status["audience"] == SANDPIT_AUDIENCE
    assert status["issuer"] == f"https://sts.windows.net/{SANDPIT_TENANT}/"
    assert status["version"] == "1.0"
    assert status["clientId"] == READ_CLIENT[0]
    # Kalibrate's example shows the GUID that ends the audience here, not the Azure AD tenant (docs/providers/kalibrate.md#status-endpoint).
    assert status["tenantId"] == "c770a337-3c7e-4bbe-a8cb-2fbc9601b94f"
    expires = datetime.fromisoformat(status["expirationTime"])
    assert status["expirationTime"].endswith("+00:00")
    assert int(expires.timestamp()) == claims_of(token)["exp"]

    kinds = [e["kind"] for e in mock.events(provider="kalibrate") if e["kind"] != "http.exchange"]
    assert kinds == ["token.issued", "api.authorized"]


def test_default_requests_user_agent_is_rejected_by_the_gateway(mock):
    token = example_token(mock).json()["access_token"]
    response = requests.get(mock.data_url("/api/status"), headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 403
    assert response.json()["statusCode"] == 403
    denied = mock.events(kind="api.denied")
    assert len(denied) == 1 and "User-Agent" in denied[0]["reason"]


def test_token_expires_on_the_virtual_clock(mock):
    token = example_token(mock).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "API-CLIENT"}
    assert requests.get(mock.data_url("/api/status"), headers=headers, timeout=60).status_code == 200
    mock.advance_clock(3600)
    response = requests.get(mock.data_url("/api/status"), headers=headers, timeout=60)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "expired" in mock.events(kind="api.denied")[0]["reason"]


def test_the_secret_may_come_as_http_basic(mock):
    body = {"grant_type": "client_credentials", "scope": SANDPIT_SCOPE, "client_id": READ_CLIENT[0]}
    ok = requests.post(mock.token_url(), data=body, auth=READ_CLIENT, timeout=60)
    assert ok.status_code == 200, ok.text
    bad = requests.post(mock.token_url(), data=body, auth=(READ_CLIENT[0], "nope"), timeout=60)
    assert bad.status_code == 401 and bad.json()["error_codes"] == [7000215]


def test_query_language_over_the_fixture_documents(mock):
    token = example_token(mock).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "API-CLIENT"}
    # The portal's example, sent as a browser or requests would encode it.
    query = "(entityVariant=Proposed)+(status.exported=true)+(exportedTime>=2020-06-01)+(orderBy=exportedTime)+(direction=descending)"
    r = requests.get(mock.data_url("/api/price"), params={"query": query}, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()] == ["price-0002"]

    r = requests.get(mock.data_url("/api/price"), params={"query": "(entityVariant=Proposed)(orderBy=price)(limit=2)"}, headers=headers, timeout=60)
    assert [d["price"] for d in r.json()] == [1.379, 1.389]

    bad = requests.get(mock.data_url("/api/price"), params={"query": "(entityVariant=Proposed)+(price>>1)"}, headers=headers, timeout=60)
    assert bad.status_code == 400
    assert "clause 2" in bad.json()["message"]


def test_imports_need_readwrite_and_become_queryable(mock):
    from conftest import READWRITE_CLIENT

    doc = [{"siteID": "S0001", "productCode": "ULG95", "price": 1.499, "currencyUnit": "GBP", "source": "ci"}]
    reader = example_token(mock).json()["access_token"]
    denied = requests.post(mock.data_url("/api/import/ownPrice"), json=doc,
                           headers={"Authorization": f"Bearer {reader}", "User-Agent": "API-CLIENT"}, timeout=60)
    assert denied.status_code == 403

    writer = example_token(mock, READWRITE_CLIENT).json()["access_token"]
    headers = {"Authorization": f"Bearer {writer}", "User-Agent": "API-CLIENT"}
    r = requests.post(mock.data_url("/api/import/ownPrice"), json=doc, headers=headers, timeout=60)
    assert r.status_code in (200, 202), r.text
    assert r.json()["operationId"]
    found = requests.get(mock.data_url("/api/price"), params={"query": "(source=ci)"}, headers=headers, timeout=60).json()
    assert len(found) == 1 and found[0]["price"] == 1.499

    too_long = [{"siteID": "S" * 21, "productCode": "ULG95", "price": 1.0}]
    r = requests.post(mock.data_url("/api/import/ownPrice"), json=too_long, headers=headers, timeout=60)
    assert r.status_code == 400 and "siteID" in r.json()["message"]


def test_the_journal_notes_where_a_secret_travelled_without_recording_it(mock):
    body = {"grant_type": "client_credentials", "scope": SANDPIT_SCOPE, "client_id": READ_CLIENT[0]}
    requests.post(mock.token_url(), data={**body, "client_secret": READ_CLIENT[1]}, timeout=60)
    requests.post(mock.token_url(), data=body, auth=READ_CLIENT, timeout=60)
    requests.post(mock.token_url() + "?client_secret=" + READ_CLIENT[1], data=body, timeout=60)
    requests.get(mock.data_url("/api/status"), headers={"User-Agent": "x", "X-Secret": "k" + READ_CLIENT[1]}, timeout=60)
    exchanges = mock.events(kind="http.exchange")
    assert [e.get("secret_in", []) for e in exchanges] == [[], ["header:authorization"], ["query:client_secret"], ["header:x-secret"]]
    assert READ_CLIENT[1] not in json.dumps(mock.events())
