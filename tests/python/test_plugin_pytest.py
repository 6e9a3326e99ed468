"""The pytest plugin (python/src/data_platform_mock/plugin.py) from source, in pytest sessions of
its own: each test writes a few test files, runs pytest on them in a subprocess with the plugin
and the real binary, and asserts on the outcome and the output a user would read.

The inner sessions load only the plugins they name (PYTEST_DISABLE_PLUGIN_AUTOLOAD), so the
plugin comes from python/src even when a built wheel's metadata sits beside it."""

import os
import subprocess
import sys
import textwrap

import pytest
import requests

from conftest import BIN, READ_CLIENT, ROOT, SANDPIT_SCOPE, SANDPIT_TENANT

sys.path.insert(0, str(ROOT / "python" / "src"))
from data_platform_mock import start  # noqa: E402

# Put at the top of every inner test file: a token request with requests, the way a client would.
PRELUDE = f"""
import os
import requests

def get_token(namespace, base=None, **kwargs):
    answer = requests.post(
        (base or namespace.url("kalibrate.login")) + "/{SANDPIT_TENANT}/oauth2/v2.0/token",
        data={{"client_id": "{READ_CLIENT[0]}", "client_secret": "{READ_CLIENT[1]}",
               "scope": "{SANDPIT_SCOPE}", "grant_type": "client_credentials"}},
        timeout=10, **kwargs)
    answer.raise_for_status()
    return answer.json()["access_token"]
"""

INHERITED_OUT = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def inner_pytest(tmp_path, tests: str, *args: str, env=None, plugins=("data_platform_mock.plugin",)):
    """Runs pytest on `tests` (one file's body, after PRELUDE) in `tmp_path`; returns the process
    with its output."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(PRELUDE + textwrap.dedent(tests))
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("MOCK_SERVER_") and not k.lower().endswith("_proxy") and k not in INHERITED_OUT}
    environment.update(PYTHONPATH=str(ROOT / "python" / "src"), MOCK_SERVER_BIN=str(BIN),
                       PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **(env or {}))
    plugin_args = [a for p in plugins for a in ("-p", p)]
    return subprocess.run([sys.executable, "-m", "pytest", *plugin_args, "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)


def journal_lines(output: str, title: str) -> list:
    """The event lines (`#<seq> ...`) of the first report section whose title starts with `title`."""
    section = output.split(title, 1)[1].split("\n", 1)[1]
    lines = []
    for line in section.splitlines():
        if line.startswith("#"):
            lines.append(line)
        elif not line.startswith("("):
            break
    return lines


def seq_and_kind(line: str) -> tuple:
    seq, _at, _service, kind = line.split()[:4]
    return seq, kind


def outcome(done) -> str:
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def server():
    """A server for the inner sessions to attach to, as a CI service container would be."""
    with start(binary=str(BIN)) as s:
        yield s


def test_one_server_per_session_started_and_stopped(tmp_path):
    done = inner_pytest(tmp_path, """
        def test_first(mock_server):
            assert not mock_server.attached
            with open("server.txt", "w") as f:
                f.write(f"{mock_server.process.pid} {mock_server.work_dir} {mock_server.admin_url}")
            get_token(mock_server, verify=mock_server.ca_path)
            assert mock_server.events(kind="token.issued")

        def test_the_same_server(mock_server):
            pid, work, admin = open("server.txt").read().split()
            assert (int(pid), admin) == (mock_server.process.pid, mock_server.admin_url)

        def test_a_run_of_it(mock_run, mock_server):
            assert mock_run.run_id.startswith("test_a_run_of_it-")
            assert mock_run.url("kalibrate.login") == mock_server.url("kalibrate.login").replace(
                "/kalibrate/", f"/__run/{mock_run.run_id}/kalibrate/")
            assert mock_run.proxy_url.startswith(f"http://{mock_run.run_id}:run@127.0.0.1:")
            assert mock_run.ca_path == mock_server.ca_path
            get_token(mock_run, verify=mock_run.ca_path)
            assert len(mock_run.events(kind="token.issued")) == 1
        """, "-q")
    assert done.returncode == 0 and "3 passed" in done.stdout, outcome(done)
    pid, work, _ = (tmp_path / "server.txt").read_text().split()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)  # stopped with the session
    assert not os.path.exists(work)


def test_a_failed_test_gets_its_runs_journal(tmp_path):
    done = inner_pytest(tmp_path, """
        def test_refused(mock_run):
            status = requests.get(mock_run.url("kalibrate.data") + "/api/status", verify=mock_run.ca_path,
                                  headers={"Authorization": "Bearer not-a-token", "User-Agent": "report-test"})
            assert status.status_code == 200

        def test_passing(mock_run):
            requests.get(mock_run.url("kalibrate.data") + "/api/passing-marker", verify=mock_run.ca_path)
        """, "-q")
    assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout, outcome(done)
    events = journal_lines(done.stdout, "mock-server journal (run test_refused-")
    assert [e.split()[3] for e in events] == ["api.denied", "http.exchange"], events
    assert "path=/kalibrate/data/api/status status=401" in events[1] and "user_agent=report-test" in events[1]
    assert "passing-marker" not in done.stdout  # a passing test's journal is not shown


def test_a_failed_test_gets_the_servers_events_since_it_started(tmp_path):
    tests = """
        def test_first(mock_server):
            requests.get(mock_server.url("kalibrate.data") + "/api/first-marker", verify=mock_server.ca_path)

        def test_second(mock_server):
            for _ in range(3):
                requests.get(mock_server.url("kalibrate.data") + "/api/second-marker", verify=mock_server.ca_path)
            assert False, "deliberately"
        """
    done = inner_pytest(tmp_path, tests, "-q")
    assert done.returncode == 1, outcome(done)
    events = journal_lines(done.stdout, "mock-server journal (events since the test started)")
    exchanges = [e for e in events if " http.exchange " in e]
    assert len(exchanges) == 3 and all("path=/kalibrate/data/api/second-marker" in e for e in exchanges), events
    assert "first-marker" not in done.stdout

    limited = inner_pytest(tmp_path, tests, "-q", "--mock-server-journal-limit=2")
    events = journal_lines(limited.stdout, "mock-server journal (events since the test started)")
    # The latest two: seq and kind as in the full section (the sessions are alike, their servers new).
    full = journal_lines(done.stdout, "mock-server journal")
    assert [seq_and_kind(e) for e in events] == [seq_and_kind(e) for e in full[-2:]], outcome(limited)
    assert "earlier events left out; --mock-server-journal-limit)" in limited.stdout

    none = inner_pytest(tmp_path, tests, "-q", "--mock-server-journal-limit=0")
    assert none.returncode == 1 and "mock-server journal" not in none.stdout, outcome(none)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_attach_to_a_running_server(tmp_path, server, how):
    admin = server.admin_url
    args, env = ((f"--mock-server-url={admin}",), {}) if how == "option" else ((), {"MOCK_SERVER_URL": admin})
    env["EXPECTED_ADMIN"] = admin
    done = inner_pytest(tmp_path, """
        def test_attached(mock_server, mock_run):
            assert mock_server.attached and mock_server.process is None
            assert mock_server.admin_url == os.environ["EXPECTED_ADMIN"]
            requests.get(mock_server.url("kalibrate.data") + "/api/attach-marker", verify=mock_server.ca_path)
            get_token(mock_run, verify=mock_run.ca_path)
            open("run.txt", "w").write(mock_run.run_id)
        """, "-q", *args, env=env)
    assert done.returncode == 0 and "1 passed" in done.stdout, outcome(done)
    assert [e["path"] for e in server.events(kind="http.exchange")][-1] == "/kalibrate/data/api/attach-marker"
    run_id = (tmp_path / "run.txt").read_text()
    assert run_id not in {r["id"] for r in server.runs()}  # deleted after the test
    assert server.process.poll() is None  # an attached server is left running


TWO_TESTS_ONE_NAMESPACE = """
    # Each test counts the tokens issued where it works: in one namespace they would see each
    # other's, whichever order or worker they run in.
    def test_a(FIXTURE):
        get_token(FIXTURE, verify=FIXTURE.ca_path)
        assert len(FIXTURE.events(kind="token.issued")) == 1

    def test_b(FIXTURE):
        get_token(FIXTURE, verify=FIXTURE.ca_path)
        assert len(FIXTURE.events(kind="token.issued")) == 1
    """


def test_runs_keep_parallel_workers_apart_on_one_server(tmp_path, server):
    server.reset()
    args = ("-n", "2", f"--mock-server-url={server.admin_url}")
    plugins = ("xdist.plugin", "data_platform_mock.plugin")
    done = inner_pytest(tmp_path, TWO_TESTS_ONE_NAMESPACE.replace("FIXTURE", "mock_run"), *args, plugins=plugins)
    assert done.returncode == 0 and "2 workers [2 items]" in done.stdout and "2 passed" in done.stdout, outcome(done)

    # The control: the same tests in the one default namespace collide.
    collide = inner_pytest(tmp_path, TWO_TESTS_ONE_NAMESPACE.replace("FIXTURE", "mock_server"), *args,
                           plugins=plugins)
    assert collide.returncode == 1 and "2 workers [2 items]" in collide.stdout, outcome(collide)
    assert "assert 2 == 1" in collide.stdout, outcome(collide)


def test_mock_proxy_sets_the_environment_for_one_test_only(tmp_path):
    done = inner_pytest(tmp_path, f"""
        def test_real_urls(mock_proxy):
            assert os.environ["HTTPS_PROXY"] == os.environ["https_proxy"] == mock_proxy.proxy_url
            assert os.environ["REQUESTS_CA_BUNDLE"] == mock_proxy.ca_path
            get_token(mock_proxy, base="https://login.microsoftonline.com")
            [issued] = mock_proxy.events(kind="token.issued")
            hosts = {{e["host"] for e in mock_proxy.events(kind="http.exchange")}}
            assert "login.microsoftonline.com" in hosts

        def test_after_it():
            assert os.environ["HTTPS_PROXY"] == "http://before.invalid:9"
            assert "https_proxy" not in os.environ and "SSL_CERT_FILE" not in os.environ
        """, "-q", env={"HTTPS_PROXY": "http://before.invalid:9"})
    assert done.returncode == 0 and "2 passed" in done.stdout, outcome(done)


FAKE_SERVER = """\
#!/bin/sh
echo started >> {starts}
echo "fake: bound nothing, and never will" >&2
exec sleep 600
"""


def test_a_server_not_ready_in_time_fails_the_session_with_its_output(tmp_path):
    starts = tmp_path / "starts.log"
    fake = tmp_path / "fake-mock-server"
    fake.write_text(FAKE_SERVER.format(starts=starts))
    fake.chmod(0o755)
    done = inner_pytest(tmp_path, """
        def test_one(mock_server):
            pass

        def test_two(mock_run):
            pass

        def test_without_it():
            pass
        """, f"--mock-server-bin={fake}", "--mock-server-start-timeout=1")
    assert done.returncode == 1, outcome(done)
    assert "mock-server did not start within 1 s" in done.stdout
    assert "fake: bound nothing, and never will" in done.stdout
    assert "mock-server is not available (see the first error)" in done.stdout  # the session stopped
    assert "1 error" in done.stdout and "passed" not in done.stdout
    assert starts.read_text().count("started") == 1


def test_a_server_that_exits_fails_the_session_with_its_own_error(tmp_path):
    missing = tmp_path / "no-such-fixtures.toml"
    done = inner_pytest(tmp_path, """
        def test_one(mock_server):
            pass
        """, f"--mock-server-arg=--config={missing}")
    assert done.returncode == 1, outcome(done)
    assert "mock-server exited with status" in done.stdout
    message = done.stdout.split("its output:", 1)[1]
    assert str(missing) in message  # the server's own words about the file


def test_an_unknown_service_names_the_services_there_are(tmp_path):
    done = inner_pytest(tmp_path, """
        def test_typo(mock_run):
            mock_run.url("kalibrate.logn")
        """, "-q")
    assert done.returncode == 1, outcome(done)
    assert "UnknownServiceError: no service 'kalibrate.logn' on this mock server; its services are: " \
           "iotopen.api, kalibrate.data, kalibrate.login," in done.stdout, outcome(done)


def test_the_options_are_in_the_help(tmp_path):
    done = inner_pytest(tmp_path, "", "--help")
    for option in ("--mock-server-url=ADMIN_URL", "--mock-server-bin=PATH", "--mock-server-start-timeout=SECONDS",
                   "--mock-server-arg=ARG", "--mock-server-ca=PATH", "--mock-server-journal-limit=N"):
        assert option in done.stdout, outcome(done)


def test_the_servers_own_url_without_the_admin_path_attaches_too(tmp_path, server):
    bare = server.admin_url[: -len("/__admin")]
    done = inner_pytest(tmp_path, """
        def test_attached(mock_server):
            assert mock_server.attached
        """, "-q", env={"MOCK_SERVER_URL": bare})
    assert done.returncode == 0, outcome(done)
    assert requests.get(server.admin_url + "/health", timeout=10).ok
