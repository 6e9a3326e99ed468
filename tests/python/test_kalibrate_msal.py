"""MSAL for Python, unchanged, against the mock's Azure AD.

The authority is the documented prefix form `https://127.0.0.1:PORT/kalibrate/login/<tenant>`;
MSAL fetches `<authority>/v2.0/.well-known/openid-configuration` and uses the token endpoint the
mock advertises there. `instance_discovery=False` stops MSAL asking the real
login.microsoftonline.com whether our host is a known cloud.
"""

import msal
import pytest

from conftest import READ_CLIENT, SANDPIT_SCOPE


def app(mock, secret=READ_CLIENT[1]):
    return msal.ConfidentialClientApplication(
        READ_CLIENT[0], client_credential=secret, authority=mock.authority(), instance_discovery=False
    )


def token_requests(mock):
    return [e for e in mock.events(kind="http.exchange") if e["path"].endswith("/oauth2/v2.0/token")]


def test_acquire_token_for_client_and_then_from_the_cache(mock):
    client = app(mock)
    first = client.acquire_token_for_client(scopes=[SANDPIT_SCOPE])
    assert "access_token" in first, first
    assert first["token_type"] == "Bearer" and first["expires_in"] > 3500
    assert first.get("token_source") == "identity_provider"

    second = client.acquire_token_for_client(scopes=[SANDPIT_SCOPE])
    assert second["access_token"] == first["access_token"]
    assert second.get("token_source") == "cache"
    assert len(mock.events(kind="token.issued")) == 1
    assert len(token_requests(mock)) == 1


def test_wrong_secret_gives_7000215(mock):
    result = app(mock, secret="not-the-secret").acquire_token_for_client(scopes=[SANDPIT_SCOPE])
    assert "access_token" not in result
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    rejected = mock.events(kind="token.rejected")
    assert [e["code"] for e in rejected] == [7000215]


def test_scope_without_default_gives_1002012(mock):
    result = app(mock).acquire_token_for_client(scopes=[SANDPIT_SCOPE.removesuffix("/.default") + "/Read"])
    assert result["error"] == "invalid_scope"
    assert result["error_codes"] == [1002012]


def test_unknown_tenant_fails_discovery_as_msal_expects(mock):
    # MSAL fetches the tenant's discovery document when the application is built.
    with pytest.raises(ValueError, match="double check your tenant"):
        msal.ConfidentialClientApplication(
            READ_CLIENT[0], client_credential=READ_CLIENT[1],
            authority=mock.authority("00000000-0000-0000-0000-000000000000"), instance_discovery=False,
        )
    discovery = [e for e in mock.events(kind="http.exchange") if "openid-configuration" in e["path"]]
    assert [e["status"] for e in discovery] == [400]
