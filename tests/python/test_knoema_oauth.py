"""Knoema's OAuth 2 flows driven by requests-oauthlib over real TLS (the HTTPS listener, under
the service's prefix: oauthlib insists on https): the implicit flow (MobileApplicationClient),
the code flow (WebApplicationClient, token endpoint called with GET and the client credentials
in the query, as Knoema documents), the consent page answered as a browser would, deny,
reused codes and mismatched redirect URIs."""

import re
from pathlib import Path

import pytest
import requests
from oauthlib.oauth2 import AccessDeniedError, InvalidGrantError, MobileApplicationClient, WebApplicationClient
from requests_oauthlib import OAuth2Session

APP, SECRET = "demo-app", "demo-app-secret"
REDIRECT = "https://client.example.com/callback"
DEFAULT_FIXTURES = (Path(__file__).resolve().parents[2] / "mock-server" / "fixtures" / "default.toml").read_text()


@pytest.fixture
def base(mock):
    return mock.endpoints["https"] + "/knoema/api"


def answer_consent_page(base, url, decision):
    """Opens the consent page and clicks a button: posts its form as a browser would."""
    page = requests.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="authorize"' in page.text and 'id="approve"' in page.text and 'id="deny"' in page.text
    request_id = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    answer = requests.post(f"{base}/oauth/authorize", data={"request": request_id, "decision": decision}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def test_implicit_flow_through_the_consent_page(base, mock):
    session = OAuth2Session(client=MobileApplicationClient(APP), redirect_uri=REDIRECT, scope=["read"])
    url, state = session.authorization_url(f"{base}/oauth/authorize")
    location = answer_consent_page(base, url, "approve")
    assert location.startswith(REDIRECT + "#access_token=")
    token = session.token_from_fragment(location)
    assert token["expires_in"] == 86400 and token["state"] == state
    # The token opens private data, as a Bearer header and as ?access_token=.
    r = session.get(f"{base}/api/1.0/meta/dataset/DEMOSALES", timeout=10)
    assert r.status_code == 200 and r.json()["id"] == "DEMOSALES"
    r = requests.get(f"{base}/api/1.0/meta/dataset/DEMOSALES", params={"access_token": token["access_token"]}, timeout=10)
    assert r.json()["id"] == "DEMOSALES"
    issued = mock.events(provider="knoema", kind="token.issued")
    assert [(e["grant"], e["client_id"], e["scopes"]) for e in issued] == [("implicit", APP, ["read"])]


def test_code_flow_with_web_application_client(base, mock):
    session = OAuth2Session(client=WebApplicationClient(APP), redirect_uri=REDIRECT, scope=["read"])
    url, state = session.authorization_url(f"{base}/oauth/authorize")
    location = answer_consent_page(base, url, "approve")
    assert location.startswith(REDIRECT + "?code=") and f"state={state}" in location
    token = session.fetch_token(f"{base}/oauth/token", client_secret=SECRET, authorization_response=location,
                                method="GET", include_client_id=True)
    assert token["token_type"] == "bearer" and token["expires_in"] == 86400 and token["scope"] == ["read"]
    assert token["refresh_token"]
    raw = [e for e in mock.events(provider="knoema", kind="http.exchange") if e["path"].endswith("/oauth/token")]
    assert raw[-1]["method"] == "GET" and raw[-1]["query"]["client_secret"] == "***"
    r = session.get(f"{base}/api/1.0/meta/dataset/DEMOSALES/daterange", timeout=10)
    assert r.status_code == 200 and r.json()["frequencies"] == ["Q"]

    # The string expires_in, exactly as Knoema answers it.
    code_url, _ = OAuth2Session(APP, redirect_uri=REDIRECT, scope=["read"]).authorization_url(f"{base}/oauth/authorize", consent="auto-approve")
    code = re.search(r"code=([^&]+)", requests.get(code_url, allow_redirects=False, timeout=10).headers["Location"]).group(1)
    body = requests.get(f"{base}/oauth/token", params={"grant_type": "authorization_code", "client_id": APP, "client_secret": SECRET,
                                                        "code": code, "redirect_uri": REDIRECT}, timeout=10).json()
    assert body["expires_in"] == "86400" and set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}

    # A refresh token gives a new access token.
    refreshed = requests.get(f"{base}/oauth/token", params={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                                             "client_id": APP, "client_secret": SECRET}, timeout=10)
    assert refreshed.status_code == 200 and refreshed.json()["access_token"] != body["access_token"]


def test_deny_gives_access_denied_in_both_flows(base, mock):
    web = OAuth2Session(client=WebApplicationClient(APP), redirect_uri=REDIRECT)
    url, _ = web.authorization_url(f"{base}/oauth/authorize")
    location = answer_consent_page(base, url, "deny")
    assert "error=access_denied" in location and "error_description=The+resource+owner+denied+the+request" in location
    with pytest.raises(AccessDeniedError):
        web.fetch_token(f"{base}/oauth/token", client_secret=SECRET, authorization_response=location, method="GET", include_client_id=True)

    mobile = OAuth2Session(client=MobileApplicationClient(APP), redirect_uri=REDIRECT)
    url, _ = mobile.authorization_url(f"{base}/oauth/authorize", consent="auto-deny")
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    assert location.startswith(REDIRECT + "#error=access_denied")
    with pytest.raises(AccessDeniedError):
        mobile.token_from_fragment(location)
    rejected = mock.events(provider="knoema", kind="token.rejected")
    assert [e["error"] for e in rejected] == ["access_denied", "access_denied"]


def test_reused_code_is_rejected_and_revokes_its_tokens(base, mock):
    session = OAuth2Session(client=WebApplicationClient(APP), redirect_uri=REDIRECT)
    url, _ = session.authorization_url(f"{base}/oauth/authorize", consent="auto-approve")
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    token = session.fetch_token(f"{base}/oauth/token", client_secret=SECRET, authorization_response=location, method="GET", include_client_id=True)
    with pytest.raises(InvalidGrantError):
        session.fetch_token(f"{base}/oauth/token", client_secret=SECRET, authorization_response=location, method="GET", include_client_id=True)
    assert "already exchanged" in mock.events(provider="knoema", kind="token.rejected")[-1]["reason"]
    r = requests.get(f"{base}/api/1.0/meta/dataset/IMFWEO2024Oct", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)
    assert r.status_code == 401


def test_mismatched_redirect_uri_is_rejected(base, mock):
    # Not the registered one: no redirect at all, an error page.
    session = OAuth2Session(client=WebApplicationClient(APP), redirect_uri="https://attacker.example/callback")
    url, _ = session.authorization_url(f"{base}/oauth/authorize", consent="auto-approve")
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers and "must match exactly" in r.text
    # A code asked for with one redirect_uri and exchanged with another (app without registered URIs).
    session = OAuth2Session(client=WebApplicationClient("open-app"), redirect_uri="https://one.example/cb")
    url, _ = session.authorization_url(f"{base}/oauth/authorize", consent="auto-approve")
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    session.redirect_uri = "https://two.example/cb"
    with pytest.raises(InvalidGrantError):
        session.fetch_token(f"{base}/oauth/token", client_secret="open-app-secret", authorization_response=location,
                            method="GET", include_client_id=True)
    assert "differs from 'https://one.example/cb'" in mock.events(provider="knoema", kind="token.rejected")[-1]["reason"]


def test_incorrect_client_credentials(base):
    r = requests.get(f"{base}/oauth/token", params={"grant_type": "authorization_code", "client_id": APP,
                                                    "client_secret": "wrong", "code": "x"}, timeout=10)
    assert r.status_code == 401 and r.json() == {"error": "incorrect_client_credentials"}


def test_consent_mode_from_the_fixtures(base, mock):
    text = DEFAULT_FIXTURES.replace('consent = "prompt"', 'consent = "auto-approve"', 1)
    assert text != DEFAULT_FIXTURES
    requests.put(f"{mock.admin}/fixtures", data=text.encode("utf-8"), timeout=10).raise_for_status()
    session = OAuth2Session(client=MobileApplicationClient(APP), redirect_uri=REDIRECT)
    url, _ = session.authorization_url(f"{base}/oauth/authorize")
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    assert session.token_from_fragment(location)["access_token"]


def test_a_refresh_token_expires_after_thirty_days(base, mock):
    """Knoema publishes no refresh-token lifetime: the mock gives them 30 days (a fixtures
    setting) and then answers invalid_grant, as an expired grant is answered."""
    code_url, _ = OAuth2Session(APP, redirect_uri=REDIRECT, scope=["read"]).authorization_url(
        f"{base}/oauth/authorize", consent="auto-approve")
    code = re.search(r"code=([^&]+)", requests.get(code_url, allow_redirects=False, timeout=10).headers["Location"]).group(1)
    body = requests.get(f"{base}/oauth/token", params={"grant_type": "authorization_code", "client_id": APP,
                                                        "client_secret": SECRET, "code": code, "redirect_uri": REDIRECT},
                        timeout=10).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": APP,
               "client_secret": SECRET}
    mock.advance_clock(30 * 86_400 - 60)
    assert requests.get(f"{base}/oauth/token", params=refresh, timeout=10).status_code == 200
    mock.advance_clock(120)
    expired = requests.get(f"{base}/oauth/token", params=refresh, timeout=10)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant", expired.text
    [rejected] = [e for e in mock.events(provider="knoema", kind="token.rejected") if "expired" in e["reason"]]
    assert rejected["reason"].startswith("refresh token")
