"""Reaching the server from other containers (docs/container.md).

- `--san` and `MOCK_SERVER_SAN` add names to the server certificate: a client that trusts the dev
  CA and reaches 127.0.0.1 by such a name (its SNI and Host) is served; by another name, refused.
- The two recipes, `Containerfile` (built from source; it needs base images this machine cannot
  pull) and `Containerfile.local` (FROM scratch with a binary built here), configure the same
  environment, ports, user and entry point; the standard one's HEALTHCHECK command works.
- The local image is built for real with podman (`scripts/image.sh`), its filesystem exported,
  and its entry point run under chroot as the image's user with the image's environment (ports
  moved to 0): from outside, on 127.0.0.1, by its `--san` name, Kalibrate issues a token over
  HTTPS and the MQTT broker accepts a demo key over TLS. Skipped, saying why, without root,
  podman, chroot or ldd (scripts/test.sh installs podman where it runs as root with apt-get).
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest

from conftest import BIN, READ_CLIENT, ROOT, SANDPIT_SCOPE, SANDPIT_TENANT, serving

IOT_KEY = "f7650807dffc43c98710bdd942d78b68"  # Anna's demo API key (docs/fixtures.md)
TOKEN_PATH = f"/kalibrate/login/{SANDPIT_TENANT}/oauth2/v2.0/token"


def port_of(url: str) -> int:
    return urlparse(url).port


def tls_to_loopback(port: int, server_name: str, cafile: str) -> ssl.SSLSocket:
    """A TLS connection to 127.0.0.1:port that sends `server_name` as SNI and checks the
    certificate for it against `cafile` only: how a client in another container sees the server."""
    context = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        return context.wrap_socket(raw, server_hostname=server_name)
    except BaseException:
        raw.close()
        raise


def token_by_name(port: int, server_name: str, cafile: str) -> tuple[int, dict]:
    """Kalibrate's client-credentials token request to https://{server_name}:{port}."""
    connection = http.client.HTTPSConnection(server_name, port, timeout=10)
    connection.sock = tls_to_loopback(port, server_name, cafile)  # http.client sends Host: name:port
    try:
        form = {"client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE,
                "grant_type": "client_credentials"}
        connection.request("POST", TOKEN_PATH, body=urlencode(form),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def mqtt_connack_by_name(port: int, server_name: str, cafile: str, password: str) -> int:
    """An MQTT 3.1.1 CONNECT over TLS (user name `apikey`, the API key as password); the CONNACK's
    return code."""
    def string(s: str) -> bytes:
        return len(s.encode()).to_bytes(2, "big") + s.encode()

    variable = string("MQTT") + bytes([4, 0xC2]) + (30).to_bytes(2, "big")  # level 4, user+password+clean
    payload = string("container-test") + string("apikey") + string(password)
    assert len(variable) + len(payload) < 128, "one-byte remaining length"
    with tls_to_loopback(port, server_name, cafile) as tls:
        tls.sendall(bytes([0x10, len(variable) + len(payload)]) + variable + payload)
        connack = b""
        while len(connack) < 4:
            chunk = tls.recv(4 - len(connack))
            assert chunk, f"connection closed before the CONNACK: {connack!r}"
            connack += chunk
    assert connack[:2] == b"\x20\x02", connack
    return connack[3]


def test_names_given_with_san_are_served_even_over_an_older_certificate(tmp_path):
    with serving(tmp_path) as before:
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_to_loopback(port_of(before.endpoints["https"]), "mock.internal", before.ca).close()
    old = (tmp_path / "certs" / "server.pem").read_text()
    (tmp_path / "endpoints.json").unlink()  # so the next start is waited for, not read off the last one

    # Same certs directory, so a server certificate made without the name is there.
    with serving(tmp_path, "--san", "mock.internal", "--san", "10.9.8.7") as mock:
        assert (tmp_path / "certs" / "server.pem").read_text() != old
        https = port_of(mock.endpoints["https"])
        status, token = token_by_name(https, "mock.internal", mock.ca)
        assert status == 200, token
        assert token["token_type"] == "Bearer" and token["access_token"].count(".") == 2
        tls_to_loopback(https, "10.9.8.7", mock.ca).close()
        for other in ("elsewhere.internal", "10.9.8.8"):
            with pytest.raises(ssl.SSLCertVerificationError):
                tls_to_loopback(https, other, mock.ca).close()
        mqtts = port_of(mock.endpoints["mqtt"]["tls"])
        assert mqtt_connack_by_name(mqtts, "mock.internal", mock.ca, IOT_KEY) == 0


def test_a_bad_san_stops_the_server_naming_it(tmp_path):
    for args, env in [(["--san", "mock server"], {}), ([], {"MOCK_SERVER_SAN": "mock,mock..internal"})]:
        result = subprocess.run([str(BIN), "serve", "--http", "127.0.0.1:0", "--certs-dir", str(tmp_path), *args],
                                env={**os.environ, **env}, capture_output=True, text=True, timeout=30)
        bad = "'mock server'" if args else "'mock..internal'"
        assert result.returncode == 2, result.stderr
        assert f"invalid value {bad} for '--san <NAME>'" in result.stderr, result.stderr
        assert "is not a certificate name" in result.stderr and "panicked" not in result.stderr


# --- The recipes ---------------------------------------------------------------------------

def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", "\n".join(line for line in path.read_text().splitlines()
                                             if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip()]


def runtime_config(path: Path) -> dict:
    """What the image's last stage sets for whoever runs it."""
    stage = instructions(path)
    last_from = max(i for i, (op, _) in enumerate(stage) if op == "FROM")
    config = {}
    for op, args in stage[last_from:]:
        if op in ("ENV", "EXPOSE", "USER", "WORKDIR", "ENTRYPOINT", "CMD"):
            config[op] = args
    config["ENV"] = dict(pair.split("=", 1) for pair in config["ENV"].split())
    config["EXPOSE"] = sorted(int(port) for port in config["EXPOSE"].split())
    return config


def test_both_recipes_configure_the_same_image():
    standard = runtime_config(ROOT / "Containerfile")
    local = runtime_config(ROOT / "Containerfile.local")
    assert standard == local
    env = standard["ENV"]
    listeners = {key: value.split("=", 1)[-1] for key, value in env.items()
                 if key in ("MOCK_SERVER_HTTP", "MOCK_SERVER_HTTPS", "MOCK_SERVER_MTLS", "MOCK_SERVER_LISTEN",
                            "MOCK_SERVER_MQTT", "MOCK_SERVER_MQTTS", "MOCK_SERVER_MQTT_WS")}
    assert len(listeners) == 7, env
    assert all(address.startswith("0.0.0.0:") for address in listeners.values()), listeners
    assert sorted(int(a.rsplit(":", 1)[1]) for a in listeners.values()) == standard["EXPOSE"]
    assert standard["EXPOSE"] == [1883, 8080, 8083, 8090, 8443, 8444, 8883]
    uid, gid = standard["USER"].split(":")
    assert int(uid) > 0 and int(gid) > 0, "a non-root user, numeric so runtimes can check it"
    assert env["MOCK_SERVER_CERTS_DIR"].startswith(standard["WORKDIR"] + "/")
    assert env["MOCK_SERVER_ENDPOINTS_FILE"].startswith(standard["WORKDIR"] + "/")
    assert json.loads(standard["ENTRYPOINT"]) == ["/usr/local/bin/mock-server"]
    assert json.loads(standard["CMD"]) == ["serve"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="the HEALTHCHECK command runs bash")
def test_the_standard_images_healthcheck_asks_the_admin_api(mock):
    healthcheck = dict(instructions(ROOT / "Containerfile"))["HEALTHCHECK"]
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3:])
    assert command[:2] == ["bash", "-c"]

    def check(port: int) -> int:
        env = {"PATH": os.environ["PATH"], "MOCK_SERVER_HTTP": f"0.0.0.0:{port}"}
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode

    assert check(port_of(mock.endpoints["http"])) == 0
    # Something listens on the HTTPS port but answers no HTTP: unhealthy.
    assert check(port_of(mock.endpoints["https"])) != 0


# --- The local image, built and run ------------------------------------------------------

def missing_for_the_image() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (podman's own store and chroot)"
    for tool in ("podman", "chroot", "ldd", "tar"):
        if shutil.which(tool) is None:
            hint = " (scripts/test.sh installs it as root with apt-get)" if tool == "podman" else ""
            return f"needs {tool}, which is not installed{hint}"
    return None


def ldd_files(binary: Path) -> set[str]:
    """The files `ldd` resolves the binary's libraries and loader to (linux-vdso has none)."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    files = set()
    for line in out.splitlines():
        match = re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if match:
            files.add(match.group(1))
    return files


@pytest.mark.skipif(missing_for_the_image() is not None, reason=str(missing_for_the_image()))
def test_the_local_image_serves_by_its_san_name_when_run_as_its_user(tmp_path):
    store = Path(tempfile.mkdtemp(prefix="mock-server-podman-"))  # podman wants a short runroot path
    podman = ["podman", "--root", str(store / "root"), "--runroot", str(store / "run"), "--storage-driver", "vfs"]
    tag = f"localhost/mock-server-test:{os.getpid()}"
    try:
        built = subprocess.run([str(ROOT / "scripts" / "image.sh"), tag], capture_output=True, text=True, timeout=300,
                               env={**os.environ, "MOCK_SERVER_BIN": str(BIN), "PODMAN_OPTS": " ".join(podman[1:])})
        assert built.returncode == 0, built.stderr
        config = json.loads(subprocess.run([*podman, "image", "inspect", tag], capture_output=True, text=True,
                                           check=True).stdout)[0]["Config"]

        # The image's filesystem, as a runtime would see it.
        container = subprocess.run([*podman, "create", tag], capture_output=True, text=True, check=True).stdout.strip()
        rootfs = tmp_path / "rootfs"
        rootfs.mkdir()
        exported = subprocess.Popen([*podman, "export", container], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "--numeric-owner", "-C", str(rootfs)], stdin=exported.stdout, check=True)
        assert exported.wait(timeout=60) == 0
        subprocess.run([*podman, "rm", container], capture_output=True, check=True)

        # Exactly the binary, the libraries and loader ldd lists, and the user's passwd entry.
        files = {"/" + str(p.relative_to(rootfs)) for p in rootfs.rglob("*") if p.is_file()}
        assert files == {"/usr/local/bin/mock-server", "/etc/passwd", "/etc/group", *ldd_files(BIN)}
        user = config["User"]
        uid, gid = (int(n) for n in user.split(":"))
        assert uid != 0
        assert f":{uid}:{gid}:" in (rootfs / "etc" / "passwd").read_text()
        home = rootfs / config["WorkingDir"].lstrip("/")
        assert (home.stat().st_uid, (home / "certs").stat().st_uid, (rootfs / "var").stat().st_uid) == (uid, uid, 0)

        # The image's environment, its listeners' ports moved to 0 (still 0.0.0.0), and the
        # names other containers would use.
        env = dict(item.split("=", 1) for item in config["Env"])
        for key, value in env.items():
            if key.startswith("MOCK_SERVER_") and re.search(r"0\.0\.0\.0:\d+$", value):
                env[key] = re.sub(r":\d+$", ":0", value)
        env["MOCK_SERVER_SAN"] = "mock,mock.internal"
        endpoints_file = rootfs / env["MOCK_SERVER_ENDPOINTS_FILE"].lstrip("/")
        log = open(tmp_path / "server.log", "w+")
        process = subprocess.Popen([shutil.which("chroot"), f"--userspec={user}", str(rootfs),
                                    *config["Entrypoint"], *config["Cmd"]],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while not endpoints_file.exists():
                assert process.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "no endpoints file after 30 s"
                time.sleep(0.05)
            endpoints = json.loads(endpoints_file.read_text())
            status = Path(f"/proc/{process.pid}/status").read_text()
            assert re.search(rf"^Uid:\s+{uid}\s", status, re.M), "runs as the image's user"
            assert endpoints["ca"] == env["MOCK_SERVER_CERTS_DIR"] + "/ca.pem"
            ca = str(rootfs / endpoints["ca"].lstrip("/"))
            assert (rootfs / endpoints["ca"].lstrip("/")).stat().st_uid == uid

            https = port_of(endpoints["https"])
            code, token = token_by_name(https, "mock", ca)
            assert code == 200, token
            assert token["token_type"] == "Bearer" and token["access_token"].count(".") == 2
            with pytest.raises(ssl.SSLCertVerificationError):
                tls_to_loopback(https, "elsewhere", ca).close()
            mqtts = port_of(endpoints["mqtt"]["tls"])
            assert mqtt_connack_by_name(mqtts, "mock.internal", ca, IOT_KEY) == 0
            assert mqtt_connack_by_name(mqtts, "mock.internal", ca, "0" * 32) == 5  # not authorized

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0, (tmp_path / "server.log").read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    finally:
        subprocess.run([*podman, "rmi", "--force", tag], capture_output=True)
        shutil.rmtree(store, ignore_errors=True)
