"""azure-identity's ClientSecretCredential against the mock's Azure AD, and the issued JWT
verified the way an API would: PyJWT with the keys the mock serves."""

import ssl

import jwt
import requests
from azure.identity import ClientSecretCredential

from conftest import READ_CLIENT, SANDPIT_AUDIENCE, SANDPIT_SCOPE, SANDPIT_TENANT


def credential(mock, secret=READ_CLIENT[1]):
    # azure-identity appends the tenant to `authority`; https is implied.
    return ClientSecretCredential(
        SANDPIT_TENANT, READ_CLIENT[0], secret,
        authority=mock.service("kalibrate.login"), disable_instance_discovery=True,
    )


def test_client_secret_credential_gets_a_token(mock):
    token = credential(mock).get_token(SANDPIT_SCOPE)
    assert token.token.count(".") == 2
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["appid"] == READ_CLIENT[0]
    assert abs(token.expires_on - claims["exp"]) <= 1
    issued = mock.events(kind="token.issued")
    assert len(issued) == 1 and issued[0]["client_id"] == READ_CLIENT[0]
    exchange = [e for e in mock.events(kind="http.exchange") if e["path"].endswith("/token")][0]
    assert exchange["user_agent"].startswith("azsdk-python-identity")


def test_client_secret_credential_reports_a_wrong_secret(mock):
    from azure.core.exceptions import ClientAuthenticationError

    try:
        credential(mock, "wrong").get_token(SANDPIT_SCOPE)
    except ClientAuthenticationError as e:
        assert "AADSTS7000215" in str(e)
    else:
        raise AssertionError("a wrong secret must not give a token")


def test_jwt_verifies_against_the_served_jwks(mock):
    token = credential(mock).get_token(SANDPIT_SCOPE).token
    config = requests.get(f"{mock.authority()}/v2.0/.well-known/openid-configuration", timeout=10).json()
    assert config["token_endpoint"] == mock.token_url()
    # PyJWKClient uses urllib, which does not read REQUESTS_CA_BUNDLE.
    jwks = jwt.PyJWKClient(config["jwks_uri"], ssl_context=ssl.create_default_context(cafile=mock.ca))
    key = jwks.get_signing_key_from_jwt(token)

    issuer = f"https://sts.windows.net/{SANDPIT_TENANT}/"
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=SANDPIT_AUDIENCE, issuer=issuer,
                        options={"require": ["exp", "iat", "nbf", "iss", "aud"]})
    assert claims["ver"] == "1.0"
    assert claims["exp"] - claims["iat"] == 3599 + 300  # iat and nbf five minutes back, as Azure AD
    assert claims["tid"] == SANDPIT_TENANT and claims["idp"] == issuer
    assert claims["roles"] == ["Read"] and claims["appidacr"] == "1" and claims["sub"] == claims["oid"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "JWT" and header["x5t"] == header["kid"]

    # The v1 metadata names the same keys and the issuer the token carries.
    v1 = requests.get(f"{mock.authority()}/.well-known/openid-configuration", timeout=10).json()
    assert v1["issuer"] == issuer

    # A token altered after signing fails.
    head, body, sig = token.split(".")
    forged = ".".join([head, body, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")])
    try:
        jwt.decode(forged, key.key, algorithms=["RS256"], audience=SANDPIT_AUDIENCE, issuer=issuer)
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("forged signature accepted")
