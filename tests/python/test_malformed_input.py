"""Bad input gets the provider's own error shape: never a panic, a hang or a bare 500."""

import pytest
import requests

from conftest import READ_CLIENT, SANDPIT_SCOPE

GOOD_FORM = {"client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "grant_type": "client_credentials",
             "scope": SANDPIT_SCOPE}


def assert_aad_error(response, status, error, code=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["error"] == error
    if code is not None:
        assert body["error_codes"] == [code]
        assert body["error_description"].startswith(f"AADSTS{code}:")
        assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    assert "\r\nTrace ID: " in body["error_description"] and body["trace_id"] and body["correlation_id"]


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("kwargs,code", [
    ({}, 900144),                                                 # no body at all
    ({"json": GOOD_FORM}, 900144),                                # JSON instead of a form
    ({"data": "grant_type", "headers": FORM}, 900144),            # a name without a value
    ({"data": "%%%=%zz", "headers": FORM}, 900144),               # broken percent-encoding
    ({"data": b"\xff\xfe=\xc3\x28", "headers": FORM}, 90023),     # not UTF-8: not a readable form
], ids=["no-body", "json", "key-without-value", "bad-percent-encoding", "invalid-utf8"])
def test_token_endpoint_wants_a_readable_form_with_grant_type(mock, kwargs, code):
    assert_aad_error(requests.post(mock.token_url(), timeout=10, **kwargs), 400, "invalid_request", code)


def test_duplicate_parameters_are_rejected(mock):
    body = "&".join(f"{k}={v}" for k, v in GOOD_FORM.items()) + "&scope=other"
    r = requests.post(mock.token_url(), data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert_aad_error(r, 400, "invalid_request")
    assert "scope" in r.json()["error_description"]


def test_one_megabyte_body_is_refused_in_aad_shape(mock):
    r = requests.post(mock.token_url(), data={**GOOD_FORM, "padding": "x" * (1 << 20)}, timeout=30)
    assert_aad_error(r, 413, "invalid_request")


@pytest.mark.parametrize("tenant,status,error,code", [
    ("00000000-0000-0000-0000-000000000000", 400, "invalid_tenant", 90002),
    ("not a tenant!", 400, "invalid_request", 900023),
    ("%ff%fe", 400, "invalid_request", 900023),
])
def test_bad_tenants(mock, tenant, status, error, code):
    url = mock.token_url().replace("efa98c7b-2114-46e8-be99-954a4f1a2d9c", tenant)
    assert_aad_error(requests.post(url, data=GOOD_FORM, timeout=10), status, error, code)


def test_token_endpoint_checks_in_the_documented_order(mock):
    cases = [
        ({"grant_type": "client_credentials"}, 400, "invalid_request", 900144),
        ({**GOOD_FORM, "client_id": "11111111-1111-1111-1111-111111111111"}, 400, "unauthorized_client", 700016),
        ({k: v for k, v in GOOD_FORM.items() if k != "client_secret"}, 401, "invalid_client", 7000218),
        ({**GOOD_FORM, "client_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "client_secret": "sandpit-expired-secret"},
         401, "invalid_client", 7000222),
        ({k: v for k, v in GOOD_FORM.items() if k != "scope"}, 400, "invalid_request", None),
        ({**GOOD_FORM, "scope": "api://unknown/.default"}, 400, "invalid_scope", 70011),
        ({**GOOD_FORM, "grant_type": "password"}, 400, "unsupported_grant_type", None),
        # A wrong secret is reported before a bad scope.
        ({**GOOD_FORM, "client_secret": "x", "scope": "bad"}, 401, "invalid_client", 7000215),
    ]
    for form, status, error, code in cases:
        assert_aad_error(requests.post(mock.token_url(), data=form, timeout=10), status, error, code)
    rejected = mock.events(kind="token.rejected")
    assert len(rejected) == len(cases)
    assert all("client_secret" not in str(e) or "x" != e.get("client_secret") for e in rejected)


@pytest.mark.parametrize("authorization", [
    "", "Bearer", "Bearer ", "Bearer a.b.c", "Bearer \u00e9\u00e9", "Basic Zm9vOmJhcg==", "Bearer " + "A" * 20000,
    "Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.",
])
def test_data_api_rejects_bad_bearer_tokens_with_401(mock, authorization):
    headers = {"User-Agent": "API-CLIENT"}
    if authorization:
        headers["Authorization"] = authorization.encode("utf-8")
    r = requests.get(mock.data_url("/api/status"), headers=headers, timeout=10)
    assert r.status_code in (401, 431) if len(authorization) > 10000 else r.status_code == 401, r.text
    if r.status_code == 401:
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert r.json()["statusCode"] == 401


def test_bad_queries_and_collections(mock):
    token = requests.post(mock.token_url(), data=GOOD_FORM, timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "API-CLIENT"}
    for query in ["(", "price>1", "(price>)", "(limit=-1)", "(direction=sideways)", "(a=1)(" + "b" * 5000, "\x00"]:
        r = requests.get(mock.data_url("/api/price"), params={"query": query}, headers=headers, timeout=10)
        assert r.status_code == 400, (query, r.text)
        assert r.json()["statusCode"] == 400 and r.json()["message"]
    r = requests.get(mock.data_url("/api/nothing"), headers=headers, timeout=10)
    assert r.status_code == 404 and r.json()["statusCode"] == 404
    r = requests.post(mock.data_url("/api/import/ownPrice"), data=b"\xff{", headers={**headers, "Content-Type": "application/json"}, timeout=10)
    assert r.status_code in (400, 403) and r.json()["statusCode"] == r.status_code


def test_unknown_paths_get_json_not_a_bare_error(mock):
    r = requests.get(mock.endpoints["https"] + "/nowhere", timeout=10)
    assert r.status_code == 404 and "/kalibrate/login" in r.json()["services"]
    r = requests.get(mock.service("kalibrate.login") + "/x/y/z", timeout=10)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json")
    assert all(e["status"] < 500 for e in mock.events(kind="http.exchange"))
