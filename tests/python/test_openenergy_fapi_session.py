"""Open Energy with the real `ib1-openenergy-support` client over real mTLS: a key and CSR made by
the package's own `oe_keygen`, signed by the mock (admin API or CLI), then `FAPISession` pointed
at the mock issuer fetches a certificate-bound token and reads data sets, reusing the token until
the (virtual) clock passes its expiry. And the refusals: another certificate, no certificate, a
token in the query, unregistered, expired and foreign certificates, bad CSRs.
"""

import datetime

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import ib1.openenergy.support as oe
from ib1.openenergy.support import FAPISession, RaidiamDirectory

from openenergy_support import (CONSUMER, CONSUMPTION_CSV, DIRECTORY_ONLY, GRID_INTENSITY, UNREGISTERED, credentials,
                                keygen, sign_with_admin, sign_with_cli, virtual_time)


def session(mock, creds, scopes="directory:software energy:consumption", issuer=None):
    return FAPISession(client_id=creds.client_id, issuer_url=issuer or mock.service("openenergy.auth"),
                       requested_scopes=scopes, private_key=str(creds.key), certificate=str(creds.certificate))


def data(mock, path):
    return mock.service("openenergy.data") + path


def test_fapisession_reads_a_data_set_reuses_its_token_and_renews_it_after_expiry(mock, tmp_path, monkeypatch):
    # The package decides expiry with time.time(): give it the mock's virtual clock.
    monkeypatch.setattr(oe, "time", virtual_time(mock))
    creds = credentials(mock, tmp_path, CONSUMER)
    fapi = session(mock, creds)

    first = fapi.session.get(data(mock, CONSUMPTION_CSV))
    assert first.status_code == 200, first.headers
    assert first.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert first.text.splitlines()[0] == "postcode,year,meters,consumption_kwh,mean_kwh"
    assert first.headers["Date"]
    # The package sends a fresh x-fapi-interaction-id with each call; the server echoes it.
    assert first.headers["x-fapi-interaction-id"] == first.request.headers["x-fapi-interaction-id"]

    second = fapi.session.get(data(mock, GRID_INTENSITY))
    assert second.status_code == 200
    assert second.json()[0]["index"] == "moderate"
    issued = mock.events(kind="token.issued", provider="openenergy")
    assert len(issued) == 1, "the second read reuses the token"
    assert issued[0]["bound_to"] == creds.thumbprint
    assert issued[0]["scopes"] == ["directory:software", "energy:consumption"]
    assert len(mock.events(kind="api.authorized")) == 2

    mock.advance_clock(601)
    third = fapi.session.get(data(mock, GRID_INTENSITY))
    assert third.status_code == 200
    issued = mock.events(kind="token.issued", provider="openenergy")
    assert len(issued) == 2, "a new token once the clock passed expiry"
    assert issued[0]["token_id"] != issued[1]["token_id"]
    assert [e["kind"] for e in mock.events(kind="api.denied")] == [], "never a 401 on the way"


def test_a_cli_signed_certificate_and_an_issuer_url_with_a_trailing_slash(mock, tmp_path):
    key, csr = keygen(tmp_path, DIRECTORY_ONLY)
    cert = tmp_path / "cli.pem"
    summary = sign_with_cli(mock, csr, cert)
    assert f"CN={DIRECTORY_ONLY.id}" in summary
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    assert parsed.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    from openenergy_support import Credentials
    creds = Credentials(DIRECTORY_ONLY.client_id, key, cert, "")
    fapi = session(mock, creds, scopes="directory:software", issuer=mock.service("openenergy.auth") + "/")
    r = fapi.session.get(data(mock, GRID_INTENSITY))
    assert r.status_code == 200, r.headers
    assert fapi.openid_configuration.token_endpoint == mock.service("openenergy.auth") + "/token"
    # Its own token, introspected: what the directory says about this client.
    info = fapi.introspection_response
    assert info["active"] is True and info["client_id"] == DIRECTORY_ONLY.client_id
    assert info["organisation_id"] == DIRECTORY_ONLY.organisation_id
    assert info["cnf"]["x5t#S256"] == mock.events(kind="token.issued")[0]["bound_to"]


def test_raidiam_directory_reads_the_directory_api(mock, tmp_path):
    creds = credentials(mock, tmp_path, CONSUMER)
    fapi = session(mock, creds, scopes="directory:software")
    directory = RaidiamDirectory(fapi=fapi, base_url=mock.service("openenergy.directory") + "/")
    organisations = directory.organisations()
    assert [o.organisation_name for o in organisations] == ["Demo Energy Consumer Ltd", "Demo Data Provider plc"]
    assert organisations[0].created_on == datetime.datetime(2021, 3, 1, 10, 0)
    assert directory.self_org_id == CONSUMER.organisation_id
    assert directory.self_ss_id == CONSUMER.id
    certs = directory.software_statement_certificates(CONSUMER.organisation_id, CONSUMER.id)
    assert creds.thumbprint in [c.x5thash256 for c in certs]
    assert directory.get_ssa_claims(CONSUMER.organisation_id, CONSUMER.id)["software_client_id"] == CONSUMER.client_id


def test_a_token_presented_with_another_valid_certificate_is_invalid_token(mock, tmp_path):
    mine = credentials(mock, tmp_path, CONSUMER, name="mine")
    other = credentials(mock, tmp_path, CONSUMER, name="other")
    token = session(mock, mine).access_token
    r = requests.get(data(mock, CONSUMPTION_CSV), cert=(str(other.certificate), str(other.key)),
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    assert r.headers["x-fapi-interaction-id"] and r.headers["Date"]
    assert "bound to certificate" in mock.events(kind="api.denied")[0]["reason"]


def test_no_client_certificate_is_rejected(mock, tmp_path):
    creds = credentials(mock, tmp_path, CONSUMER)
    token = session(mock, creds).access_token
    # At the resource server...
    r = requests.get(data(mock, GRID_INTENSITY), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].strip() == "Bearer"
    # ... and at the token endpoint: a JSON error the package can read.
    r = requests.post(mock.service("openenergy.auth") + "/token",
                      data={"client_id": CONSUMER.client_id, "grant_type": "client_credentials"}, timeout=30)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_a_token_in_the_query_string_is_rejected(mock, tmp_path):
    creds = credentials(mock, tmp_path, CONSUMER)
    token = session(mock, creds).access_token
    cert = (str(creds.certificate), str(creds.key))
    r = requests.get(data(mock, GRID_INTENSITY), params={"access_token": token}, cert=cert, timeout=30)
    assert r.status_code == 401
    assert 'error="invalid_request"' in r.headers["WWW-Authenticate"]
    r = requests.get(data(mock, GRID_INTENSITY), params={"access_token": token}, cert=cert,
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401, "not even beside a valid header"


def test_an_unregistered_certificate_is_invalid_client(mock, tmp_path):
    creds = credentials(mock, tmp_path, UNREGISTERED)
    fapi = session(mock, creds)
    with pytest.raises(requests.HTTPError) as raised:
        fapi.session.get(data(mock, GRID_INTENSITY))
    assert raised.value.response.status_code == 401
    assert raised.value.response.json()["error"] == "invalid_client"
    assert "not registered" in raised.value.response.json()["error_description"]


def test_an_expired_certificate_is_invalid_client(mock, tmp_path):
    creds = credentials(mock, tmp_path, CONSUMER, validity_seconds=3600)
    assert session(mock, creds).access_token
    mock.advance_clock(3601)
    with pytest.raises(requests.HTTPError) as raised:
        session(mock, creds).session.get(data(mock, GRID_INTENSITY))
    body = raised.value.response.json()
    assert raised.value.response.status_code == 401 and body["error"] == "invalid_client"
    assert "expired" in body["error_description"]
    assert mock.events(kind="token.rejected")[0]["error"] == "invalid_client"


def test_a_certificate_from_another_ca_is_refused(mock, tmp_path):
    # A CA of our own making signs a CSR with a registered subject.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some other CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    key, csr_path = keygen(tmp_path, CONSUMER)
    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject).public_key(csr.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path = tmp_path / "foreign.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    try:
        r = requests.post(mock.service("openenergy.auth") + "/token", cert=(str(cert_path), str(key)),
                          data={"client_id": CONSUMER.client_id, "grant_type": "client_credentials"}, timeout=30)
    except requests.exceptions.SSLError:
        pass  # refused in the TLS handshake
    else:
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert mock.events(kind="token.issued") == []


def test_a_csr_asking_to_be_a_ca_yields_an_end_entity_certificate(mock, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "UK"),
                                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, CONSUMER.organisation),
                                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CONSUMER.organisation_id),
                                    x509.NameAttribute(NameOID.COMMON_NAME, CONSUMER.id)]))
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
           .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                        encipher_only=False, decipher_only=False), critical=True)
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("evil.example")]), critical=False)
           .sign(key, hashes.SHA256()))
    path = tmp_path / "ca.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    issued = sign_with_admin(mock, path)
    cert = x509.load_pem_x509_certificate(issued["certificate"].encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert cert.subject == csr.subject


@pytest.mark.parametrize("body, status, words", [
    (b"", 400, "empty"),
    (b"not a certificate request at all", 400, "no PEM block"),
    (b"-----BEGIN CERTIFICATE REQUEST-----\n@@@@\n-----END CERTIFICATE REQUEST-----\n", 400, "not valid base64"),
    (b"-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQE=\n-----END CERTIFICATE REQUEST-----\n", 400, "not a PKCS#10"),
    (b"\x00\xff" * 100, 400, "neither PEM text nor DER"),
    (b"A" * 20_000, 400, "a few kilobytes"),
    (b"A" * 300_000, 413, "larger than"),
])
def test_malformed_csrs_get_clear_errors(mock, body, status, words):
    r = requests.post(f"{mock.admin}/certificates", data=body, headers={"Content-Type": "application/pkcs10"}, timeout=30)
    assert r.status_code == status, r.text
    assert r.json()["error"] in ("bad_csr", "bad_request")
    assert words in r.json()["message"]


def test_a_private_key_sent_instead_of_the_csr_is_named_not_echoed(mock, tmp_path):
    key, _ = keygen(tmp_path, CONSUMER)
    pem = key.read_text()
    r = requests.post(f"{mock.admin}/certificates", data=pem, headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 400
    message = r.json()["message"]
    assert "PRIVATE KEY" in message and pem.splitlines()[1] not in message
