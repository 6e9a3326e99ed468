"""A small data provider built on the package's own server side — Flask, the package's
`AccessTokenValidator` and its mTLS dev runner's request handler — validates the mock's tokens
through the mock's introspection endpoint, exactly as a real Open Energy data provider does
against the directory. The consumer is the package's `FAPISession`.
"""

import ssl
import threading

import flask
import pytest
import requests
from werkzeug.serving import make_server

from ib1.openenergy.support import AccessTokenValidator, FAPISession
from ib1.openenergy.support.flask_ssl_dev import _PeerCertWSGIRequestHandler

from openenergy_support import CONSUMER, DIRECTORY_ONLY, PROVIDER, credentials, server_certificate


@pytest.fixture
def provider(mock, tmp_path):
    """The data provider: its own directory credentials (to call introspection), a server
    certificate from the dev CA, client certificates requested and checked against that CA."""
    creds = credentials(mock, tmp_path, PROVIDER, name="provider")
    validator = AccessTokenValidator(client_id=creds.client_id, private_key=str(creds.key),
                                     certificate=str(creds.certificate), issuer_url=mock.service("openenergy.auth"))
    app = flask.Flask("oe-data-provider-under-test")

    @app.route("/meter-readings")
    @validator.introspects(scope="directory:software")
    def readings():
        seen = flask.g.introspection_response
        return {"client_id": seen["client_id"], "organisation": seen["organisation_name"], "readings": [1.5, 2.25]}

    @app.route("/consumption")
    @validator.introspects(scope="energy:consumption")
    def consumption():
        return {"kwh": 3420}

    cert, key = server_certificate(mock, tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=mock.ca)
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    context.verify_mode = ssl.CERT_OPTIONAL
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_PeerCertWSGIRequestHandler, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def consumer(mock, creds, scopes="directory:software"):
    return FAPISession(client_id=creds.client_id, issuer_url=mock.service("openenergy.auth"), requested_scopes=scopes,
                       private_key=str(creds.key), certificate=str(creds.certificate))


def test_the_packages_validator_accepts_our_tokens_through_our_introspection(mock, tmp_path, provider):
    creds = credentials(mock, tmp_path, CONSUMER)
    r = consumer(mock, creds).session.get(provider + "/meter-readings")
    assert r.status_code == 200, r.headers
    assert r.json() == {"client_id": CONSUMER.client_id, "organisation": "Demo Energy Consumer Ltd", "readings": [1.5, 2.25]}
    assert r.headers["x-fapi-interaction-id"] == r.request.headers["x-fapi-interaction-id"]
    asked = mock.events(kind="token.introspected")
    assert len(asked) == 1
    assert asked[0]["client_id"] == PROVIDER.client_id and asked[0]["active"] is True
    assert asked[0]["token_id"] == mock.events(kind="token.issued")[0]["token_id"]


def test_the_validator_refuses_a_token_presented_with_another_certificate(mock, tmp_path, provider):
    mine = credentials(mock, tmp_path, CONSUMER, name="mine")
    other = credentials(mock, tmp_path, DIRECTORY_ONLY, name="other")
    token = consumer(mock, mine).access_token
    r = requests.get(provider + "/meter-readings", cert=(str(other.certificate), str(other.key)),
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_the_validator_refuses_unknown_tokens_and_missing_scopes(mock, tmp_path, provider):
    creds = credentials(mock, tmp_path, CONSUMER)
    cert = (str(creds.certificate), str(creds.key))
    r = requests.get(provider + "/meter-readings", cert=cert, headers={"Authorization": "Bearer not-a-token"}, timeout=30)
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert mock.events(kind="token.introspected")[0]["active"] is False
    r = consumer(mock, creds, scopes="directory:software").session.get(provider + "/consumption")
    assert r.status_code == 403
    assert r.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="energy:consumption"'
    r = consumer(mock, creds, scopes="directory:software energy:consumption").session.get(provider + "/consumption")
    assert r.status_code == 200 and r.json() == {"kwh": 3420}
