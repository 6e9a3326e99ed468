"""The pytest plugin (entry point `mock_server`): fixtures `mock_server`, `mock_run`, `mock_proxy`.

One server per session (per xdist worker), started on first use from the bundled binary, or
attached with --mock-server-url / MOCK_SERVER_URL. A failed test's report gets the journal: its
run's for `mock_run`, the events since it started for `mock_server`.
"""

import json
import os
import re
import secrets
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from ._admin import MockServerError
from ._namespace import Namespace, Run
from ._server import DEFAULT_START_TIMEOUT, Server, attach, start

DEFAULT_JOURNAL_LIMIT = 200
SECTION = "mock-server journal"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mock-server", "mock-server (emulated data-platform APIs)")
    group.addoption("--mock-server-url", metavar="ADMIN_URL", default=None,
                    help="attach every fixture to this running server's admin API instead of starting "
                         "one (default: $MOCK_SERVER_URL)")
    group.addoption("--mock-server-bin", metavar="PATH", default=None,
                    help="the mock-server binary to start (default: $MOCK_SERVER_BIN, else the one "
                         "installed with the plugin, else PATH)")
    group.addoption("--mock-server-start-timeout", metavar="SECONDS", type=float, default=None,
                    help="how long the server may take to start, or an attached one to answer "
                         f"(default: $MOCK_SERVER_START_TIMEOUT, else {DEFAULT_START_TIMEOUT:g})")
    group.addoption("--mock-server-arg", metavar="ARG", action="append", default=[],
                    help="an extra argument for `mock-server serve`, repeatable: "
                         "--mock-server-arg=--config=fixtures.toml")
    group.addoption("--mock-server-ca", metavar="PATH", default=None,
                    help="the dev CA to trust when an attached server's CA file is not on this "
                         "machine (default: $MOCK_SERVER_CA)")
    group.addoption("--mock-server-journal-limit", metavar="N", type=int, default=DEFAULT_JOURNAL_LIMIT,
                    help="at most this many events in a failed test's report, the latest; 0: none "
                         f"(default {DEFAULT_JOURNAL_LIMIT})")


class _Session:
    """The session's server: created on first use, stopped at the end (unless attached)."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.server: Optional[Server] = None
        #: Events before this sequence number were there before we came (attached server).
        self.since: Optional[int] = None
        self.error: Optional[str] = None

    def _option(self, name: str, env: str) -> Any:
        value = self.config.getoption(name)
        return value if value is not None else (os.environ.get(env) or None)

    def get(self) -> Server:
        if self.error is not None:
            raise MockServerError(self.error)
        if self.server is None:
            try:
                self.server = self._create()
            except MockServerError as e:
                self.error = str(e)
                raise
        return self.server

    def _create(self) -> Server:
        raw_timeout = self._option("mock_server_start_timeout", "MOCK_SERVER_START_TIMEOUT")
        try:
            timeout = float(raw_timeout) if raw_timeout is not None else DEFAULT_START_TIMEOUT
        except ValueError:
            raise MockServerError(f"MOCK_SERVER_START_TIMEOUT={raw_timeout!r} is not a number of seconds") from None
        ca = self._option("mock_server_ca", "MOCK_SERVER_CA")
        url = self._option("mock_server_url", "MOCK_SERVER_URL")
        if url:
            server = attach(url, ca_path=ca, timeout=timeout)
            self.since = server.next_seq() - 1
            return server
        server = start(binary=self._option("mock_server_bin", "MOCK_SERVER_BIN"),
                       args=self.config.getoption("mock_server_arg"), start_timeout=timeout)
        if ca:
            server._ca_override = ca
        return server

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


_SESSION = pytest.StashKey[_Session]()
_SINCE = pytest.StashKey[Optional[int]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SESSION] = _Session(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Normally the fixture's teardown has stopped it; this covers an interrupted session.
    if _SESSION in config.stash:
        config.stash[_SESSION].close()


@pytest.fixture(scope="session")
def mock_server(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Iterator[Server]:
    """The session's mock server (its default namespace): started from the bundled binary on free
    ports with its own dev CA in a temporary directory, or the one --mock-server-url names. Shared
    by every test of the session (of the xdist worker): use `mock_run` for isolation."""
    session = pytestconfig.stash[_SESSION]
    try:
        server = session.get()
    except MockServerError as e:
        error = str(e)
    else:
        error = None
    if error is not None:
        # Nothing that needs the server can pass: this test errors with the server's own output
        # and the session stops after it, as with --exitfirst.
        request.session.shouldfail = "mock-server is not available (see the first error)"
        pytest.fail(error, pytrace=False)
    yield server
    session.close()


def _run_id(node: pytest.Item) -> str:
    """Readable in the server's logs, unique across xdist workers sharing one server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", node.name).strip("-") or "test"
    stem = f"{worker}-{name}" if worker else name
    return f"{stem[:55]}-{secrets.token_hex(4)}"


@pytest.fixture
def mock_run(mock_server: Server, request: pytest.FixtureRequest) -> Iterator[Run]:
    """An isolated run of the session's server for this test: its own journal, faults, clock,
    tokens and data, every URL with the run's prefix, `proxy_url` naming the run. Deleted after
    the test."""
    run = mock_server.run(_run_id(request.node))
    yield run
    run.delete()


@pytest.fixture
def mock_proxy(mock_run: Run) -> Iterator[Run]:
    """`mock_run` with proxy mode set in the environment for the test (HTTPS_PROXY, HTTP_PROXY,
    NO_PROXY, REQUESTS_CA_BUNDLE, SSL_CERT_FILE), restored after it."""
    with mock_run.proxy_env():
        yield mock_run


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Mark where this test's events start, before its fixtures run.
    if "mock_server" in item.fixturenames and "mock_run" not in item.fixturenames:
        server = item.config.stash[_SESSION].server
        try:
            item.stash[_SINCE] = server.next_seq() - 1 if server is not None else None
        except MockServerError:
            item.stash[_SINCE] = None


def _format_event(event: Dict[str, Any]) -> str:
    head = f"#{event.get('seq')} {str(event.get('at', ''))[11:23]} {event.get('provider')}.{event.get('service')} {event.get('kind')}"
    fields = []
    for key, value in event.items():
        if key in ("seq", "at", "provider", "service", "kind") or value in (None, "", [], {}):
            continue
        fields.append(f"{key}={value if isinstance(value, str) else json.dumps(value)}")
    return " ".join([head, *fields])


def _journal(item: pytest.Item) -> Optional[Tuple[str, str]]:
    limit = item.config.getoption("mock_server_journal_limit")
    funcargs = getattr(item, "funcargs", {})
    namespace: Optional[Namespace] = funcargs.get("mock_run")
    if namespace is not None:
        title, since = f"{SECTION} (run {namespace.run_id})", None
    else:
        namespace = funcargs.get("mock_server")
        if namespace is None:
            return None
        session = item.config.stash[_SESSION]
        since = item.stash.get(_SINCE, None)
        if since is None:
            since = session.since
        title = f"{SECTION} (events since the test started)"
    if limit <= 0:
        return None
    try:
        events = namespace.events(since=since)
    except MockServerError as e:
        return title, f"(could not read the journal: {e})"
    lines: List[str] = []
    if len(events) > limit:
        lines.append(f"({len(events) - limit} earlier events left out; --mock-server-journal-limit)")
        events = events[-limit:]
    lines.extend(_format_event(e) for e in events)
    return title, "\n".join(lines) if lines else "(no events)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    # In the call phase the run still exists: fixtures are torn down after this report.
    if report.failed and report.when in ("setup", "call"):
        section = _journal(item)
        if section:
            report.sections.append(section)
