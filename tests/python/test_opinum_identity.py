"""Opinum's identity server with Opinum's documented client code (docs/providers/opinum.md#client-libraries): requests-oauthlib's
LegacyApplicationClient (password grant), refresh tokens, HTTP Basic, and both token paths."""

import base64
import json

import pytest
import requests
from oauthlib.oauth2 import LegacyApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

CLIENT = ("opinum-demo-client", "opinum-demo-secret")
PUSHER = ("pusher@demo-energy.example", "pusher-password")
READER = ("reader@demo-energy.example", "reader-password")


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def get_datahub_token(mock, username, password, scope=("datahub-api", "push-data"), secret=CLIENT[1], path="/connect/token"):
    """Opinum's documented Python example (https://docs.opinum.com/restapi/integration/connection.html), with only the token URL changed."""
    datahub_client = LegacyApplicationClient(client_id=CLIENT[0])
    oauth = OAuth2Session(client=datahub_client)
    datahub_token = oauth.fetch_token(token_url=mock.opinum("identity", path), client_secret=secret, scope=list(scope),
                                      username=username, password=password, client_id=CLIENT[0])
    return oauth, datahub_token


def test_the_documented_example_gets_a_token(mock):
    _, token = get_datahub_token(mock, *PUSHER)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert sorted(token["scope"]) == ["datahub-api", "push-data"]
    assert "refresh_token" not in token
    c = claims(token["access_token"])
    assert c["account"] == 1001 and c["client_id"] == CLIENT[0] and c["exp"] - c["iat"] == 3600
    [issued] = mock.events(kind="token.issued")
    assert issued["grant"] == "password" and issued["scopes"] == ["datahub-api", "push-data"]


def test_offline_access_gives_a_refresh_token_that_rotates(mock):
    oauth, token = get_datahub_token(mock, *PUSHER, scope=("datahub-api", "push-data", "offline_access"))
    first_refresh = token["refresh_token"]
    refreshed = oauth.refresh_token(mock.opinum("identity", "/connect/token"), refresh_token=first_refresh,
                                    client_id=CLIENT[0], client_secret=CLIENT[1])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != first_refresh
    # The old refresh token stopped working when it was used.
    with pytest.raises(Exception) as raised:
        oauth.refresh_token(mock.opinum("identity", "/connect/token"), refresh_token=first_refresh,
                            client_id=CLIENT[0], client_secret=CLIENT[1])
    assert "invalid_grant" in str(raised.value)
    grants = [e["grant"] for e in mock.events(kind="token.issued")]
    assert grants == ["password", "refresh_token"]
    assert "already used" in mock.events(kind="token.rejected")[0]["reason"]


def test_wrong_client_secret_raises_invalid_client(mock):
    with pytest.raises(Exception) as raised:
        get_datahub_token(mock, *PUSHER, secret="not-the-secret")
    assert str(raised.value).startswith("(invalid_client)")
    [rejected] = mock.events(kind="token.rejected")
    assert rejected["error"] == "invalid_client" and rejected["reason"] == "wrong client_secret"


def test_wrong_password_gives_invalid_grant(mock):
    with pytest.raises(Exception) as raised:
        get_datahub_token(mock, PUSHER[0], "wrong-password")
    assert str(raised.value).startswith("(invalid_grant)")
    r = requests.post(mock.opinum("identity", "/connect/token"), data={
        "grant_type": "password", "username": PUSHER[0], "password": "nope", "client_id": CLIENT[0],
        "client_secret": CLIENT[1], "scope": "datahub-api"}, timeout=10)
    assert (r.status_code, r.json()) == (400, {"error": "invalid_grant", "error_description": "invalid_username_or_password"})
    assert r.headers["Cache-Control"].startswith("no-store")


def test_client_credentials_as_http_basic(mock):
    # What .NET's IdentityModel TokenClient sends.
    form = {"grant_type": "password", "username": PUSHER[0], "password": PUSHER[1], "scope": "datahub-api push-data offline_access"}
    r = requests.post(mock.opinum("identity", "/connect/token"), data=form, auth=HTTPBasicAuth(*CLIENT), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"]
    refresh = {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]}
    assert requests.post(mock.opinum("identity", "/connect/token"), data=refresh, auth=HTTPBasicAuth(*CLIENT), timeout=10).status_code == 200
    bad = requests.post(mock.opinum("identity", "/connect/token"), data=form, auth=HTTPBasicAuth(CLIENT[0], "x"), timeout=10)
    assert (bad.status_code, bad.json()) == (401, {"error": "invalid_client"})
    # requests-oauthlib can send Basic too.
    oauth = OAuth2Session(client=LegacyApplicationClient(client_id=CLIENT[0]))
    token = oauth.fetch_token(token_url=mock.opinum("identity", "/connect/token"), username=PUSHER[0], password=PUSHER[1],
                              scope=["datahub-api"], auth=HTTPBasicAuth(*CLIENT), include_client_id=False)
    assert token["scope"] == ["datahub-api"]


def test_the_keycloak_path_answers_in_its_dialect(mock):
    _, token = get_datahub_token(mock, *PUSHER, scope=("datahub-api", "offline_access"),
                                 path="/realms/opinum/protocol/openid-connect/token")
    assert token["refresh_expires_in"] > 0 and "session_state" in token and token["not-before-policy"] == 0
    r = requests.post(mock.opinum("identity", "/realms/opinum/protocol/openid-connect/token"), data={
        "grant_type": "password", "username": PUSHER[0], "password": "nope", "client_id": CLIENT[0], "client_secret": CLIENT[1]}, timeout=10)
    assert r.json() == {"error": "invalid_grant", "error_description": "Invalid user credentials"}


def test_scopes_rights_and_accounts(mock):
    # Only Data Pushers get push-data.
    with pytest.raises(Exception) as raised:
        get_datahub_token(mock, *READER)
    assert str(raised.value).startswith("(invalid_scope)")
    _, token = get_datahub_token(mock, *READER, scope=("opisense-api",))
    assert token["scope"] == ["datahub-api"], "opisense-api is the old name of datahub-api"
    # Account selectors of the old and new connectors.
    for extra in ({"acr_values": "accountId:2002"}, {"account": "2002"}):
        r = requests.post(mock.opinum("identity", "/connect/token"), data={
            "grant_type": "password", "username": PUSHER[0], "password": PUSHER[1], "client_id": CLIENT[0],
            "client_secret": CLIENT[1], "scope": "push-data", **extra}, timeout=10)
        assert claims(r.json()["access_token"])["account"] == 2002
    r = requests.post(mock.opinum("identity", "/connect/token"), data={
        "grant_type": "password", "username": READER[0], "password": READER[1], "client_id": CLIENT[0],
        "client_secret": CLIENT[1], "account": "2002"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("body,content_type,status,error", [
    (None, None, 400, "invalid_request"),
    ('{"grant_type": "password"}', "application/json", 400, "invalid_request"),
    ("grant_type=client_credentials&client_id=opinum-demo-client&client_secret=opinum-demo-secret",
     "application/x-www-form-urlencoded", 400, "unsupported_grant_type"),
    ("grant_type=password&client_id=opinum-demo-client&client_secret=opinum-demo-secret&client_id=x",
     "application/x-www-form-urlencoded", 400, "invalid_request"),
    (b"\xff\xfe", "application/x-www-form-urlencoded", 400, "invalid_request"),
    ("grant_type=password&client_id=opinum-demo-client&client_secret=opinum-demo-secret&username=pusher%40demo-energy.example&password=pusher-password&scope=everything",
     "application/x-www-form-urlencoded", 400, "invalid_scope"),
])
def test_malformed_token_requests(mock, body, content_type, status, error):
    headers = {"Content-Type": content_type} if content_type else {}
    r = requests.post(mock.opinum("identity", "/connect/token"), data=body, headers=headers, timeout=10)
    assert (r.status_code, r.json()["error"]) == (status, error), r.text
