"""The Python package's API (python/src/data_platform_mock), which the pytest plugin's fixtures
are made of, from source against the real binary: starting and stopping it, attaching to it, the
admin calls, runs, proxy mode in the environment and its restore, and the errors a user meets.
The plugin itself (fixtures, options, reports) is in test_plugin_pytest.py; the wheel, installed
in a fresh environment, in test_package.py."""

import os
import socket
import sys
import textwrap
import urllib.error
import urllib.request

import pytest
import requests

from conftest import BIN, READ_CLIENT, ROOT, SANDPIT_SCOPE, SANDPIT_TENANT

sys.path.insert(0, str(ROOT / "python" / "src"))
from data_platform_mock import (  # noqa: E402
    AdminError, MockServerError, UnknownServiceError, attach, find_binary, proxy_env, start)

REAL_LOGIN = "https://login.microsoftonline.com"
REAL_DATA = "https://dev.data.thekalibratecloud.com"


@pytest.fixture(scope="module")
def server():
    with start(binary=str(BIN)) as s:
        yield s


@pytest.fixture
def run(server):
    with server.run() as r:
        yield r


def token(namespace, base=None, verify=None):
    base = base or namespace.url("kalibrate.login")
    return requests.post(
        f"{base}/{SANDPIT_TENANT}/oauth2/v2.0/token",
        data={"client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE,
              "grant_type": "client_credentials"},
        verify=namespace.ca_path if verify is None else verify, timeout=10)


def status(namespace, access_token, base=None, verify=None):
    return requests.get((base or namespace.url("kalibrate.data")) + "/api/status",
                        headers={"Authorization": f"Bearer {access_token}", "User-Agent": "plugin-test"},
                        verify=namespace.ca_path if verify is None else verify, timeout=10)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_started_on_free_ports_with_its_own_ca(server):
    served = requests.get(server.admin_url + "/endpoints", timeout=10).json()
    assert server.endpoints == served
    assert server.admin_url.startswith("http://127.0.0.1:") and not server.admin_url.startswith("http://127.0.0.1:8080")
    assert server.ca_path == str(server.work_dir / "certs" / "ca.pem")
    # TLS verified against that CA alone, as a client would.
    assert status(server, "not-a-token").status_code == 401
    with pytest.raises(requests.exceptions.SSLError):
        status(server, "not-a-token", verify=True)


def test_url_of_an_unknown_service_names_the_services_there_are(server):
    with pytest.raises(UnknownServiceError) as e:
        server.url("nope.x")
    message = str(e.value)
    assert "'nope.x'" in message
    for service in server.endpoints["services"]:
        assert service in message
    assert isinstance(e.value, LookupError)
    assert server.url("kalibrate.login") == server.endpoints["services"]["kalibrate.login"]
    with pytest.raises(UnknownServiceError, match="it has: tcp, tls, ws"):
        server.mqtt_url("quic")


def test_faults_events_and_the_clock(run):
    rule = run.add_fault({"provider": "kalibrate", "service": "login", "route": "/*/oauth2/v2.0/token",
                          "times": 1, "action": {"status": 503, "headers": {"Retry-After": "7"}}})
    assert [f["id"] for f in run.faults()] == [rule]
    refused = token(run)
    assert (refused.status_code, refused.headers["Retry-After"]) == (503, "7")
    [applied] = run.events(kind="fault.applied")
    assert applied["rule_id"] == rule

    before = run.next_seq()
    access = token(run).json()["access_token"]
    assert status(run, access).status_code == 200
    assert [e["kind"] for e in run.events(provider="kalibrate", kind="token.*")] == ["token.issued"]
    assert all(e["seq"] >= before for e in run.events(since=before - 1))
    assert {e["kind"] for e in run.events(since=before - 1)} >= {"token.issued", "api.authorized", "http.exchange"}

    # An hour on: the token has expired, without sleeping.
    assert run.advance_clock(3600)["offset_seconds"] == 3600
    assert status(run, access).status_code == 401

    run.reset()
    assert run.events() == [] and run.faults() == [] and run.clock()["offset_seconds"] == 0


def test_a_bad_rule_gets_the_apis_own_message(run):
    with pytest.raises(AdminError) as e:
        run.add_fault({"provider": "kalibrate"})
    assert e.value.status == 400 and e.value.error == "bad_fault"
    assert "rule 0: missing field `action`" in str(e.value)


def test_sms_outbox(run):
    login = requests.post(run.url("iotopen.api") + "/api/v2/auth", auth=("bertil@cabin-rentals.example", "bertil-password"),
                          verify=run.ca_path, timeout=10)
    assert login.json()["nextstep"] == "smslogin"
    [message] = run.sms(to="+46700000012")
    assert message["code"] in message["text"]
    assert run.sms(to="+46700000099") == []


def test_runs_are_isolated_and_deleted(server):
    with server.run() as a, server.run("plugin-api-b") as b:
        assert b.id == "plugin-api-b" and a.id != b.id
        assert f"/__run/{a.id}/" in a.url("kalibrate.login") and a.proxy_url.startswith(f"http://{a.id}:run@")
        token(a)
        assert len(a.events(kind="token.issued")) == 1
        assert b.events() == []
        assert {r["id"] for r in server.runs()} >= {a.id, b.id}
    assert not {a.id, b.id} & {r["id"] for r in server.runs()}
    with pytest.raises(AdminError) as e:
        a.events()
    assert e.value.status == 404 and e.value.error == "unknown_run"
    a.delete()  # already gone: not an error


PROXY_NAMES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
               "all_proxy", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def test_proxy_env_takes_unchanged_clients_to_the_run_and_restores_the_environment(run, monkeypatch):
    for name in PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://before.invalid:9")
    monkeypatch.setenv("no_proxy", "before.invalid")
    monkeypatch.setenv("ALL_PROXY", "socks5://before.invalid:9")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/before/ca.pem")
    before = dict(os.environ)

    with run.proxy_env() as values:
        assert values["HTTPS_PROXY"] == values["HTTP_PROXY"] == run.proxy_url
        assert os.environ["https_proxy"] == run.proxy_url and "ALL_PROXY" not in os.environ
        assert values["NO_PROXY"] == "127.0.0.1,localhost" == os.environ["no_proxy"]
        assert os.environ["REQUESTS_CA_BUNDLE"] == os.environ["SSL_CERT_FILE"] == run.ca_path
        # requests and urllib, with the real URLs and no argument about TLS.
        access = requests.post(f"{REAL_LOGIN}/{SANDPIT_TENANT}/oauth2/v2.0/token", timeout=10, data={
            "client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE,
            "grant_type": "client_credentials"}).json()["access_token"]
        with pytest.raises(urllib.error.HTTPError) as e:
            # A new opener: urlopen() keeps the one it built at its first call, proxies and all.
            urllib.request.build_opener().open(REAL_DATA + "/api/status", timeout=10)
        assert e.value.code == 401  # through the tunnel, TLS verified with SSL_CERT_FILE: no token
        # The mock's own URLs and the admin API still go straight there.
        assert status(run, access).status_code == 200
        hosts = [e["host"] for e in run.events(kind="http.exchange") if e["method"] != "CONNECT"]
        assert hosts[:2] == ["login.microsoftonline.com", "dev.data.thekalibratecloud.com"]
    assert dict(os.environ) == before

    with pytest.raises(ZeroDivisionError), proxy_env(run):
        1 / 0
    assert dict(os.environ) == before


def test_attach_to_a_running_server_and_leave_it_running(server):
    bare = server.admin_url[: -len("/__admin")]
    for url in (server.admin_url, bare, bare + "/"):
        attached = attach(url)
        assert attached.endpoints == server.endpoints and attached.attached
        attached.stop()
    assert server.process.poll() is None
    assert requests.get(server.admin_url + "/health", timeout=10).ok


def test_attach_to_nothing_says_where_it_looked():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MockServerError, match=rf"cannot attach to the mock server at {url} .* within 0.5 s: .*no answer"):
        attach(url, timeout=0.5)


def test_an_attached_servers_ca_elsewhere_needs_a_copy(server, tmp_path):
    elsewhere = attach(server.admin_url)
    elsewhere.endpoints = {**elsewhere.endpoints, "ca": "/in/another/container/ca.pem"}
    with pytest.raises(MockServerError, match="--mock-server-ca"):
        elsewhere.ca_path
    copy = tmp_path / "ca.pem"
    copy.write_bytes(open(server.ca_path, "rb").read())
    assert attach(server.admin_url, ca_path=str(copy)).ca_path == str(copy)


def test_stop_ends_the_process_gracefully_and_removes_its_directory():
    s = start(binary=str(BIN))
    work = s.work_dir
    assert (work / "certs" / "ca.pem").is_file()
    s.stop()
    assert s.process.returncode == 0  # SIGTERM: a graceful stop, not a kill
    assert not work.exists()


def test_a_server_that_exits_shows_its_own_error(tmp_path):
    missing = tmp_path / "missing.toml"
    with pytest.raises(MockServerError) as e:
        start(binary=str(BIN), args=["--config", str(missing)])
    message = str(e.value)
    assert "mock-server exited with status" in message
    assert f"--config {missing}" in message  # the command
    assert "its output:" in message and str(missing) in message.split("its output:")[1]


def test_a_server_not_ready_in_time_is_killed_and_its_output_shown(tmp_path):
    pid_file = tmp_path / "pid"
    fake = tmp_path / "fake-mock-server"
    fake.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo $$ > {pid_file}
        echo "fake: listening on nothing at all" >&2
        exec sleep 600
        """))
    fake.chmod(0o755)
    with pytest.raises(MockServerError) as e:
        start(binary=str(fake), start_timeout=1)
    assert "did not start within 1 s" in str(e.value)
    assert "fake: listening on nothing at all" in str(e.value)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_find_binary():
    assert find_binary("mock-server", str(BIN)) == str(BIN)
    with pytest.raises(MockServerError, match="not an executable file"):
        find_binary("mock-server", str(ROOT / "README.md"))
    with pytest.raises(MockServerError, match="the no-such-binary binary is not installed: not in .* nor on PATH"):
        find_binary("no-such-binary")
