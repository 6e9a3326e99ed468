"""The mock-server (Kalibrate, Opinum, Knoema, Open Energy, IoT Open emulated for tests) from Python.

The wheel installs the `mock-server` and `conformance` binaries and this package, whose pytest
plugin gives tests the fixtures `mock_server`, `mock_run` and `mock_proxy` (docs/python.md).
Outside pytest:

    from data_platform_mock import start
    with start() as server, server.run() as run:
        token_url = run.url("kalibrate.login") + "/<tenant>/oauth2/v2.0/token"
        ...
        print(run.events(kind="token.issued"))
"""

from ._admin import AdminError, MockServerError
from ._namespace import Namespace, Run, UnknownServiceError, proxy_env
from ._server import DEFAULT_START_TIMEOUT, Server, attach, find_binary, start

__all__ = [
    "AdminError", "DEFAULT_START_TIMEOUT", "MockServerError", "Namespace", "Run", "Server",
    "UnknownServiceError", "attach", "find_binary", "proxy_env", "start",
]
