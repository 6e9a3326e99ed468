"""Helpers of the Open Energy tests: the demo directory of mock-server/fixtures/default.toml, keys
and CSRs made by the package's own `oe_keygen` command, certificates signed by the mock (admin API
or CLI), and the mock's virtual clock for the package's token cache.
"""

import datetime
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import BIN

OE_KEYGEN = Path(sys.executable).parent / "oe_keygen"


@dataclass(frozen=True)
class Statement:
    organisation: str
    organisation_id: str
    id: str
    client_id: str


CONSUMER = Statement("Demo Energy Consumer Ltd", "4b1c8f52-2d8a-4b7e-9c31-6f0e2a7d5c10",
                     "9f3e6a21-7c4b-4d8e-a512-3b6c9d0e1f27", "kZuAsn7UYZ98WWh29hDPf")
DIRECTORY_ONLY = Statement("Demo Energy Consumer Ltd", "4b1c8f52-2d8a-4b7e-9c31-6f0e2a7d5c10",
                           "2d7c5b1e-8a3f-4e6d-b9c0-71a2f4e8d356", "Xq3wR8tY1uI5oP7aS9dF2")
PROVIDER = Statement("Demo Data Provider plc", "7e2a9c4d-1f3b-4a6c-8d5e-0b9f2c7a1e63",
                     "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "Pv8mXqL2sRt6YwZ3nB9cD")
UNREGISTERED = Statement("Nobody Ltd", "00000000-0000-4000-8000-000000000000",
                         "11111111-1111-4111-8111-111111111111", "kZuAsn7UYZ98WWh29hDPf")

GRID_INTENSITY = "/datasets/grid-intensity"
CONSUMPTION_CSV = "/datasets/postcode-consumption"


@dataclass
class Credentials:
    client_id: str
    key: Path
    certificate: Path
    thumbprint: str


def keygen(directory: Path, statement: Statement, name: str = "oe") -> tuple:
    """Key and CSR exactly as a directory member makes them: the package's oe_keygen command."""
    key, csr = directory / f"{name}.key", directory / f"{name}.csr"
    subprocess.run([str(OE_KEYGEN), "-s", statement.id, "-o", statement.organisation, "-u", statement.organisation_id,
                    "-k", str(key), "-c", str(csr)], check=True, capture_output=True)
    return key, csr


def sign_with_admin(mock, csr: Path, **validity) -> dict:
    """POST the CSR to the admin API (as the directory's upload); returns the JSON answer."""
    r = requests.post(f"{mock.admin}/certificates", params=validity, data=csr.read_bytes(),
                      headers={"Content-Type": "application/pkcs10"}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def certs_dir(mock) -> Path:
    return Path(mock.ca).parent


def sign_with_cli(mock, csr: Path, out: Path, days: int = 30) -> str:
    """`mock-server certs sign-csr` with the running server's certs directory."""
    run = subprocess.run([str(BIN), "certs", "sign-csr", "--certs-dir", str(certs_dir(mock)), "--days", str(days),
                          "--out", str(out), str(csr)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stderr


def credentials(mock, directory: Path, statement: Statement, name: str = "oe", **validity) -> Credentials:
    key, csr = keygen(directory, statement, name)
    issued = sign_with_admin(mock, csr, **validity)
    cert = directory / f"{name}.pem"
    cert.write_text(issued["certificate"])
    return Credentials(statement.client_id, key, cert, issued["thumbprint"])


def virtual_time(mock):
    """`time.time()` on the mock's virtual clock, for the package's token expiry check."""
    def now() -> float:
        # offset_seconds is virtual minus real at the moment of reading, frozen clock or not.
        return time.time() + requests.get(f"{mock.admin}/clock", timeout=10).json()["offset_seconds"]
    return now


def server_certificate(mock, directory: Path) -> tuple:
    """A server certificate for 127.0.0.1 from the dev CA (a data provider inside the same
    trust domain), made with the CA key in the certs directory; returns (cert path, key path)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    import ipaddress
    ca_cert = x509.load_pem_x509_certificate((certs_dir(mock) / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((certs_dir(mock) / "ca-key.pem").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "data provider under test")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "provider-server.pem", directory / "provider-server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
