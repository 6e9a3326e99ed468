"""Starts the real mock-server binary once per session on free ports and gives tests a handle.

The binary is the one `scripts/test.sh` builds (MOCK_SERVER_BIN, default target/debug/mock-server).
It binds port 0 everywhere and reports what it bound through --endpoints-file; its dev CA lives in
a temporary certs dir and is exported as REQUESTS_CA_BUNDLE, so requests, MSAL and azure-identity
verify TLS against it exactly as they would against the real hosts. Every test starts from
`POST /__admin/reset`: fixtures reloaded, tokens, events, faults and clock cleared.
"""

import contextlib
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MOCK_SERVER_BIN", ROOT / "target" / "debug" / "mock-server"))

SANDPIT_TENANT = "efa98c7b-2114-46e8-be99-954a4f1a2d9c"
SANDPIT_AUDIENCE = "api://dev.data.thekalibratecloud.com/c770a337-3c7e-4bbe-a8cb-2fbc9601b94f"
SANDPIT_SCOPE = SANDPIT_AUDIENCE + "/.default"
READ_CLIENT = ("0525b217-cbb9-4d4a-b8a1-7551c30098cf", "sandpit-read-secret")
READWRITE_CLIENT = ("5f1c2a4e-7d3b-4c1a-9e8f-2b6d4a0c9e11", "sandpit-readwrite-secret")


class Mock:
    """What a test needs from the running server: its URLs and the admin API."""

    def __init__(self, endpoints: dict, process: subprocess.Popen, log_path: Path):
        self.endpoints = endpoints
        self.process = process
        self.log_path = log_path
        self.admin = endpoints["admin"]
        self.ca = endpoints["ca"]

    def service(self, key: str) -> str:
        return self.endpoints["services"][key]

    # Kalibrate URLs in the forms the README documents.
    def token_url(self, tenant: str = SANDPIT_TENANT) -> str:
        return f"{self.service('kalibrate.login')}/{tenant}/oauth2/v2.0/token"

    def authority(self, tenant: str = SANDPIT_TENANT) -> str:
        return f"{self.service('kalibrate.login')}/{tenant}"

    def data_url(self, path: str) -> str:
        return self.service("kalibrate.data") + path

    def opinum(self, service: str, path: str = "") -> str:
        return self.service(f"opinum.{service}") + path

    # Admin API.
    def events(self, **filters) -> list:
        r = requests.get(f"{self.admin}/events", params=filters, timeout=10)
        r.raise_for_status()
        return r.json()["events"]

    def reset(self) -> None:
        requests.post(f"{self.admin}/reset", timeout=10).raise_for_status()

    def advance_clock(self, seconds: int) -> None:
        requests.post(f"{self.admin}/clock", json={"advance_seconds": seconds}, timeout=10).raise_for_status()

    def add_fault(self, rule: dict) -> dict:
        r = requests.post(f"{self.admin}/faults", json=rule, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()

    def faults(self) -> list:
        return requests.get(f"{self.admin}/faults", timeout=10).json()


def _wait_for_endpoints(path: Path, process: subprocess.Popen, log_path: Path) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mock-server exited with {process.returncode}:\n{log_path.read_text()}")
        if path.exists():
            endpoints = json.loads(path.read_text())
            if requests.get(endpoints["admin"] + "/health", timeout=5).ok:
                return endpoints
        time.sleep(0.02)
    raise RuntimeError(f"mock-server not ready after 30 s:\n{log_path.read_text()}")


@contextlib.contextmanager
def serving(work: Path, *extra_args: str):
    """The real binary on free ports with its certs, endpoints file and log in `work`; stopped
    (SIGTERM, then SIGKILL after 10 s) when the block ends."""
    endpoints_file = work / "endpoints.json"
    log_path = work / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN), "serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--mtls", "127.0.0.1:0",
             "--listen", "knoema.api=127.0.0.1:0",
             "--mqtt", "127.0.0.1:0", "--mqtts", "127.0.0.1:0", "--mqtt-ws", "127.0.0.1:0",
             "--certs-dir", str(work / "certs"), "--endpoints-file", str(endpoints_file), *extra_args],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        yield Mock(_wait_for_endpoints(endpoints_file, process, log_path), process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


# The CA bundle the suite started with, before `mock` points REQUESTS_CA_BUNDLE at the mock's
# CA for the whole session: what pip needs to reach a package index (test_package.py).
CA_BUNDLE_AT_START = os.environ.get("REQUESTS_CA_BUNDLE")


@pytest.fixture(scope="session")
def mock(tmp_path_factory) -> Mock:
    if not BIN.exists():
        pytest.exit(f"{BIN} not found: run `cargo build -p mock-server` (scripts/test.sh does)", 2)
    with serving(tmp_path_factory.mktemp("mock-server"), "--log", "debug") as server:
        os.environ["REQUESTS_CA_BUNDLE"] = server.ca
        yield server


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def clear_proxy_env(monkeypatch, mock: Mock) -> None:
    """No proxy set, `mock`'s CA trusted; monkeypatch restores both after the test. Lower-case
    variants win over upper-case ones in urllib and requests: clear them all."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", mock.ca)


def raw_exchange(address, request: bytes, timeout=5.0):
    """One request over a bare socket and one response: `(status, headers, body)` with a
    Content-Length body. A hang fails the test (socket timeout)."""
    with socket.create_connection(address, timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(request)
        return read_response(s)


def read_response(s):
    """One HTTP/1.1 response from a socket (plain or TLS): `(status, headers, body)` with a
    Content-Length body. `ConnectionError` when the server closes the connection first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside the body")
        body += chunk
    return int(lines[0].split()[1]), headers, body


@pytest.fixture(autouse=True)
def fresh(request):
    """Reset the server before each test that uses it, so tests never see each other's state."""
    if "mock" in request.fixturenames:
        request.getfixturevalue("mock").reset()
    yield


def pytest_generate_tests(metafunc):
    from conformance_suite import parametrize

    parametrize(metafunc)
