"""The bundled binary started on free ports, or a server already running attached by its admin URL."""

import json
import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ._admin import AdminError, MockServerError, call
from ._namespace import Namespace, Run

DEFAULT_START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
#: How much of the server's output an error message quotes.
LOG_TAIL = 8000

# Every listener on a free port; the endpoints file says what was bound.
FREE_PORTS = (
    "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--mtls", "127.0.0.1:0",
    "--listen", "knoema.api=127.0.0.1:0",
    "--mqtt", "127.0.0.1:0", "--mqtts", "127.0.0.1:0", "--mqtt-ws", "127.0.0.1:0",
)


def _scripts_dirs() -> List[str]:
    """Where pip put the wheel's binaries: this environment's scripts directory, then the user's."""
    dirs = [sysconfig.get_path("scripts")]
    try:
        user_scheme = sysconfig.get_preferred_scheme("user")  # Python 3.10+
    except AttributeError:
        user_scheme = f"{os.name}_user"
    try:
        dirs.append(sysconfig.get_path("scripts", user_scheme))
    except KeyError:
        pass
    return [d for d in dict.fromkeys(dirs) if d]


def find_binary(name: str = "mock-server", explicit: Optional[str] = None) -> str:
    """The path of a bundled binary (`mock-server` or `conformance`): `explicit` when given, else
    the one installed with this package, else the first on PATH."""
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise MockServerError(f"{explicit} (--mock-server-bin or MOCK_SERVER_BIN) is not an executable file")
        return explicit
    exe = name + (".exe" if os.name == "nt" else "")
    dirs = _scripts_dirs()
    for d in dirs:
        candidate = os.path.join(d, exe)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return found
    raise MockServerError(
        f"the {name} binary is not installed: not in {', '.join(dirs)} nor on PATH; install the wheel "
        "(pip install data-platform-mock) or point --mock-server-bin or MOCK_SERVER_BIN at a binary")


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(cannot read {path}: {e})"
    if not text.strip():
        return "(nothing)"
    return text if len(text) <= LOG_TAIL else "...\n" + text[-LOG_TAIL:]


class Server(Namespace):
    """A mock server's default namespace, plus what only the server has: its runs and, when this
    process started it, the process itself. `stop()` (or the end of a `with` block) stops a server
    it started and leaves an attached one running."""

    def __init__(self, endpoints: Dict[str, Any], *, process: Optional["subprocess.Popen[bytes]"] = None,
                 work_dir: Optional[Path] = None, owns_work_dir: bool = False, ca_path: Optional[str] = None):
        super().__init__(endpoints, ca_path)
        #: The server process, None when attached to a server started elsewhere.
        self.process = process
        #: The directory with its certs, endpoints file and log (started servers only).
        self.work_dir = work_dir
        self._owns_work_dir = owns_work_dir

    @property
    def attached(self) -> bool:
        return self.process is None

    @property
    def log_path(self) -> Optional[Path]:
        """The server's standard output and error (started servers only)."""
        return self.work_dir / "server.log" if self.work_dir else None

    def log(self) -> str:
        """What the server printed so far ("" when attached)."""
        path = self.log_path
        return path.read_text(errors="replace") if path and path.exists() else ""

    def run(self, run_id: Optional[str] = None) -> Run:
        """Creates a run (an isolated namespace, docs/runs.md); the server names it when `run_id` is
        None. Delete it with `delete()`, or use it as a context manager."""
        created = call("POST", self.admin_url + "/runs", {"id": run_id} if run_id else None)
        return Run(created["endpoints"], self.admin_url, self._ca_override)

    def runs(self) -> List[Dict[str, Any]]:
        """The live runs (`id`, `created`, `idle_seconds`, `events`, `endpoints`)."""
        return call("GET", self.admin_url + "/runs")["runs"]

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (a graceful stop), then SIGKILL after `timeout` seconds. Nothing when attached."""
        if self.process is not None:
            _stop(self.process, timeout)
        if self._owns_work_dir and self.work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self._owns_work_dir = False

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _stop(process: "subprocess.Popen[bytes]", timeout: float) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start(binary: Optional[str] = None, args: Sequence[str] = (), start_timeout: float = DEFAULT_START_TIMEOUT,
          work_dir: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> Server:
    """Starts the bundled `mock-server serve` with every listener on a free port, its dev CA in
    `work_dir` (a new temporary directory when None, removed by `stop()`), and `args` appended
    (`["--config", "my-fixtures.toml"]`). Returns once the admin API answers; raises
    MockServerError with the server's own output if it exits first or is not ready within
    `start_timeout` seconds."""
    binary = find_binary("mock-server", binary)
    owns = work_dir is None
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="mock-server-"))
    work.mkdir(parents=True, exist_ok=True)
    endpoints_file, log_path = work / "endpoints.json", work / "server.log"
    endpoints_file.unlink(missing_ok=True)
    command = [binary, "serve", *FREE_PORTS, "--certs-dir", str(work / "certs"),
               "--endpoints-file", str(endpoints_file), *args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(env) if env is not None else None)
    try:
        endpoints = _wait_until_ready(process, command, endpoints_file, log_path, start_timeout)
    except BaseException:
        _stop(process, STOP_TIMEOUT)
        if owns:
            # The message already quotes the log; nothing else in there is worth keeping.
            shutil.rmtree(work, ignore_errors=True)
        raise
    return Server(endpoints, process=process, work_dir=work, owns_work_dir=owns)


def _wait_until_ready(process: "subprocess.Popen[bytes]", command: List[str], endpoints_file: Path,
                      log_path: Path, start_timeout: float) -> Dict[str, Any]:
    deadline = time.monotonic() + start_timeout
    while True:
        code = process.poll()
        if code is not None:
            raise MockServerError(
                f"mock-server exited with status {code} before it was ready\n"
                f"command: {shlex.join(command)}\nits output:\n{_tail(log_path)}")
        endpoints = None
        try:
            endpoints = json.loads(endpoints_file.read_text())
        except (OSError, ValueError):
            pass  # not written yet, or half written
        if endpoints:
            try:
                call("GET", endpoints["admin"] + "/health", timeout=2)
                return endpoints
            except AdminError:
                pass
        if time.monotonic() >= deadline:
            raise MockServerError(
                f"mock-server did not start within {start_timeout:g} s (the limit: "
                "--mock-server-start-timeout or MOCK_SERVER_START_TIMEOUT)\n"
                f"command: {shlex.join(command)}\nits output:\n{_tail(log_path)}")
        time.sleep(0.02)


def admin_base(url: str) -> str:
    """`http://host:port` or `http://host:port/__admin` → the admin API's base URL."""
    url = url.rstrip("/")
    return url if url.endswith("/__admin") else url + "/__admin"


def attach(admin_url: str, ca_path: Optional[str] = None, timeout: float = DEFAULT_START_TIMEOUT) -> Server:
    """A server already running (a CI service container), by its admin URL. Waits up to `timeout`
    seconds for it to answer, as it may still be starting. Never stops it."""
    base = admin_base(admin_url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            endpoints = call("GET", base + "/endpoints", timeout=5)
            return Server(endpoints, ca_path=ca_path)
        except AdminError as e:
            # 503 `starting`: its listeners are still binding; no answer: not up yet.
            if e.status not in (0, 503) or time.monotonic() >= deadline:
                raise MockServerError(f"cannot attach to the mock server at {admin_url} "
                                      f"(--mock-server-url or MOCK_SERVER_URL) within {timeout:g} s: {e}") from None
        time.sleep(0.1)
