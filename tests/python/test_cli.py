"""The binaries as a user meets them: no-argument start, banner, signals, check-config, certs init,
--version of mock-server and conformance."""

import json
import os
import signal
import ssl
import subprocess
import time
import tomllib

import pytest
import requests

from conftest import BIN, ROOT

CONFORMANCE = ROOT / "target" / "debug" / "conformance"


def start(args, cwd, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen([str(BIN), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, process, timeout=30):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "server not ready"
        time.sleep(0.02)
    return json.loads(path.read_text())


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_no_arguments_serves_the_embedded_fixtures_and_stops_on_signals(tmp_path, stop):
    # No arguments: only the listener addresses are moved off the defaults, through the
    # documented environment variables, so the test cannot collide with a running server.
    endpoints_file = tmp_path / "endpoints.json"
    process = start([], cwd=tmp_path, env_extra={
        "MOCK_SERVER_HTTP": "127.0.0.1:0", "MOCK_SERVER_HTTPS": "127.0.0.1:0", "MOCK_SERVER_MTLS": "127.0.0.1:0",
        "MOCK_SERVER_LISTEN": "knoema.api=127.0.0.1:0",
        "MOCK_SERVER_MQTT": "127.0.0.1:0", "MOCK_SERVER_MQTTS": "127.0.0.1:0", "MOCK_SERVER_MQTT_WS": "127.0.0.1:0",
        "MOCK_SERVER_ENDPOINTS_FILE": str(endpoints_file),
    })
    try:
        endpoints = wait_for(endpoints_file, process)
        assert set(endpoints) >= {"http", "https", "mtls", "admin", "ca", "services", "proxy"}
        assert endpoints["proxy"] == endpoints["http"] and "run" not in endpoints
        assert endpoints["ca"] == str(tmp_path / "certs" / "ca.pem")
        assert endpoints["services"]["kalibrate.login"] == endpoints["https"] + "/kalibrate/login"
        assert endpoints["services"]["kalibrate.data"] == endpoints["https"] + "/kalibrate/data"
        fixtures = requests.get(endpoints["admin"] + "/fixtures", timeout=10).json()
        assert fixtures["source"] == "mock-server/fixtures/default.toml (embedded)"
        assert fixtures["fixtures"]["kalibrate"]["tenants"][0]["id"] == "efa98c7b-2114-46e8-be99-954a4f1a2d9c"
        # The HTTPS listener presents a certificate the CA file verifies, for 127.0.0.1.
        context = ssl.create_default_context(cafile=endpoints["ca"])
        host, port = endpoints["https"].removeprefix("https://").split(":")
        with context.wrap_socket(__import__("socket").create_connection((host, int(port))), server_hostname=host) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        process.send_signal(stop)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    # The banner names every listener, every service URL and the demo credentials.
    for url in [endpoints["http"], endpoints["https"], endpoints["mtls"], endpoints["admin"], *endpoints["services"].values()]:
        assert url in out, out
    assert "0525b217-cbb9-4d4a-b8a1-7551c30098cf" in out and "sandpit-read-secret" in out
    assert f"proxy  {endpoints['proxy']} (HTTPS_PROXY" in out and f"runs   POST {endpoints['admin']}/runs" in out
    assert "shutting down" in err.lower() or "stopped" in err.lower(), err


def test_check_config_explains_errors_with_file_line_key_and_fix(tmp_path):
    good = subprocess.run([str(BIN), "check-config", str(ROOT / "mock-server" / "fixtures" / "default.toml")], capture_output=True, text=True)
    assert good.returncode == 0 and "valid" in good.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text('[kalibrate]\ntoken_lifetime_seconds = 3599\n\n[[kalibrate.tenants]]\nid = "not-a-guid"\nsecrett = "x"\n')
    result = subprocess.run([str(BIN), "check-config", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert f"{bad}:6: kalibrate.tenants.secrett: unknown field `secrett`" in result.stderr
    assert "fix:" in result.stderr

    bad.write_text('[[kalibrate.tenants]]\nid = "not-a-guid"\n')
    result = subprocess.run([str(BIN), "check-config", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert f"{bad}:2: kalibrate.tenants[0].id: 'not-a-guid' is not a tenant GUID" in result.stderr

    missing = subprocess.run([str(BIN), "check-config", str(tmp_path / "absent.toml")], capture_output=True, text=True)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_serve_refuses_invalid_fixtures_before_binding(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[journal]\ncapacity = 0\n")
    result = subprocess.run([str(BIN), "serve", "--config", str(bad), "--http", "127.0.0.1:0", "--https", "127.0.0.1:0",
                             "--mtls", "127.0.0.1:0", "--certs-dir", str(tmp_path / "certs")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "journal.capacity" in result.stderr


def test_certs_init_creates_the_ca_once(tmp_path):
    first = subprocess.run([str(BIN), "certs", "init", "--certs-dir", str(tmp_path)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    ca = (tmp_path / "ca.pem").read_text()
    assert ca.startswith("-----BEGIN CERTIFICATE-----")
    assert oct((tmp_path / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
    second = subprocess.run([str(BIN), "certs", "init", "--certs-dir", str(tmp_path)], capture_output=True, text=True)
    assert second.returncode == 0 and (tmp_path / "ca.pem").read_text() == ca


def crate_version(folder):
    """The `version` of `folder/Cargo.toml`, or the workspace's when the crate inherits it."""
    version = tomllib.loads((ROOT / folder / "Cargo.toml").read_text())["package"]["version"]
    if isinstance(version, dict):
        version = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    return version


@pytest.mark.parametrize(("binary", "name", "folder"), [(BIN, "mock-server", "mock-server"),
                                                        (CONFORMANCE, "conformance", "conformance")])
def test_version_prints_the_crate_version(binary, name, folder):
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{name} {crate_version(folder)}\n"
