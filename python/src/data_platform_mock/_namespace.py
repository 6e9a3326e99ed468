"""A handle on one namespace of a server, the default one or a run: its URLs and its admin API."""

import contextlib
import os
import urllib.parse
from typing import Any, Dict, Iterator, List, Optional

from ._admin import MockServerError, call

# Far above any sequence number: `since` this gives no event, only the journal's `next_seq`.
_NO_EVENT_YET = 2**53

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY")
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


class UnknownServiceError(MockServerError, LookupError):
    """`url()` was asked for a service this server does not have."""


class Namespace:
    """What a test needs from one namespace: its endpoints document, service URLs, CA, proxy URL
    and admin API (journal, faults, clock, reset, SMS outbox, certificates)."""

    def __init__(self, endpoints: Dict[str, Any], ca_path: Optional[str] = None):
        #: The endpoints document (docs/services.md), as the server gave it.
        self.endpoints = endpoints
        self._ca_override = ca_path

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.admin_url}>"

    # --- where things are -------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """The admin API's base URL (`.../__admin`, or `.../__run/{id}/__admin` in a run)."""
        return self.endpoints["admin"]

    @property
    def run_id(self) -> Optional[str]:
        """The run this namespace is, None for the default namespace."""
        return self.endpoints.get("run")

    @property
    def proxy_url(self) -> str:
        """HTTPS_PROXY/HTTP_PROXY for unchanged clients; in a run it names the run."""
        return self.endpoints["proxy"]

    @property
    def ca_path(self) -> str:
        """The dev CA certificate (PEM) to trust: REQUESTS_CA_BUNDLE, SSL_CERT_FILE, `verify=`."""
        if self._ca_override:
            return self._ca_override
        ca = self.endpoints.get("ca")
        if ca and os.path.isfile(ca):
            return ca
        raise MockServerError(
            f"the server's dev CA {ca!r} is not a file on this machine (is the server running in another "
            "container?): give a copy with --mock-server-ca=PATH or MOCK_SERVER_CA")

    @property
    def services(self) -> Dict[str, str]:
        """Service key (`kalibrate.login`) → the base URL a client configures instead of the real one."""
        return dict(self.endpoints["services"])

    def url(self, service: str) -> str:
        """The base URL of a service (`url("kalibrate.login")`), in this namespace."""
        services = self.endpoints["services"]
        if service not in services:
            raise UnknownServiceError(
                f"no service {service!r} on this mock server; its services are: {', '.join(sorted(services))}")
        return services[service]

    def mqtt_url(self, transport: str = "tcp") -> str:
        """The MQTT listener for `tcp`, `tls` or `ws` (a run has listeners of its own)."""
        mqtt = self.endpoints.get("mqtt") or {}
        if transport not in mqtt:
            raise UnknownServiceError(
                f"no MQTT transport {transport!r} on this mock server; it has: {', '.join(sorted(mqtt)) or 'none'}")
        return mqtt[transport]

    # --- admin API ---------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """Any admin call, relative to this namespace's admin URL: `admin("GET", "/clock")`."""
        return call(method, self.admin_url + path, body, query)

    def events(self, kind: Optional[str] = None, provider: Optional[str] = None,
               service: Optional[str] = None, since: Optional[int] = None) -> List[Dict[str, Any]]:
        """The journal, oldest first, filtered: `kind` exact (`token.issued`) or a family
        (`token.*`), `provider`, `service`, and `since` a sequence number (later events only)."""
        doc = self.admin("GET", "/events", kind=kind, provider=provider, service=service, since=since)
        return doc["events"]

    def next_seq(self) -> int:
        """The sequence number the next event will get: `events(since=next_seq() - 1)` later reads
        only what happened in between."""
        return self.admin("GET", "/events", since=_NO_EVENT_YET)["next_seq"]

    def clear_events(self) -> None:
        self.admin("DELETE", "/events")

    def add_fault(self, rule: Dict[str, Any]) -> str:
        """Arms a fault rule (docs/admin-api.md#faults) and returns its id."""
        [armed] = self.admin("POST", "/faults", rule)
        return armed["id"]

    def faults(self) -> List[Dict[str, Any]]:
        """The armed rules with their `matched` and `fired` counters."""
        return self.admin("GET", "/faults")

    def remove_fault(self, rule_id: str) -> None:
        self.admin("DELETE", "/faults/" + urllib.parse.quote(rule_id, safe=""))

    def clear_faults(self) -> None:
        self.admin("DELETE", "/faults")

    def advance_clock(self, seconds: float) -> Dict[str, Any]:
        """Moves the virtual clock (negative: back); tokens issued before expire without sleeping."""
        return self.admin("POST", "/clock", {"advance_seconds": seconds})

    def clock(self, **change: Any) -> Dict[str, Any]:
        """The virtual clock; with arguments (`set=`, `offset_seconds=`, `freeze=`) changes it first."""
        return self.admin("POST", "/clock", change) if change else self.admin("GET", "/clock")

    def reset(self) -> None:
        """Back to the fixtures: tokens, data, journal, faults, SMS outbox and clock cleared."""
        self.admin("POST", "/reset")

    def sms(self, to: Optional[str] = None, provider: Optional[str] = None) -> List[Dict[str, Any]]:
        """Text messages the mock sent (IoT Open's login codes), oldest first."""
        return self.admin("GET", "/sms", to=to, provider=provider)["messages"]

    def sign_csr(self, csr_pem: str, validity_days: Optional[int] = None) -> Dict[str, Any]:
        """A client certificate for the mTLS listener from the dev CA: `{"certificate", "thumbprint", ...}`."""
        body: Dict[str, Any] = {"csr": csr_pem}
        if validity_days is not None:
            body["validity_days"] = validity_days
        return self.admin("POST", "/certificates", body)

    def proxy_env(self) -> "contextlib.AbstractContextManager[Dict[str, str]]":
        """Proxy mode for unchanged clients while the block runs: see `proxy_env()`."""
        return proxy_env(self)


class Run(Namespace):
    """A run: an isolated namespace of a server (docs/runs.md), deleted by `delete()` or at the end
    of a `with` block."""

    def __init__(self, endpoints: Dict[str, Any], server_admin_url: str, ca_path: Optional[str] = None):
        super().__init__(endpoints, ca_path)
        self._server_admin_url = server_admin_url

    @property
    def id(self) -> str:
        return self.endpoints["run"]

    def delete(self) -> None:
        """Deletes the run; one already gone (deleted, or evicted by --max-runs) is not an error."""
        try:
            call("DELETE", f"{self._server_admin_url}/runs/{urllib.parse.quote(self.id, safe='')}")
        except MockServerError as e:
            if getattr(e, "status", None) != 404:
                raise

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.delete()


def _loopback_hosts(endpoints: Dict[str, Any]) -> List[str]:
    urls = [endpoints.get(k) for k in ("http", "https", "mtls")] + list(endpoints.get("services", {}).values())
    hosts = {urllib.parse.urlsplit(u).hostname for u in urls if u} | {"localhost"}
    return sorted(h for h in hosts if h)


@contextlib.contextmanager
def proxy_env(namespace: Namespace) -> Iterator[Dict[str, str]]:
    """Sets, for the block, what unchanged clients need to reach the mock with the providers' real
    URLs (docs/proxy-mode.md): HTTPS_PROXY and HTTP_PROXY to the namespace's proxy URL, NO_PROXY
    to the mock's own addresses (so its own URLs stay direct), REQUESTS_CA_BUNDLE and SSL_CERT_FILE
    to its CA; ALL_PROXY is removed. Lower-case variants are set too, as they win in urllib and
    requests. Every variable is restored afterwards, exceptions included. Yields what it set."""
    values = {
        "HTTPS_PROXY": namespace.proxy_url,
        "HTTP_PROXY": namespace.proxy_url,
        "NO_PROXY": ",".join(_loopback_hosts(namespace.endpoints)),
        "REQUESTS_CA_BUNDLE": namespace.ca_path,
        "SSL_CERT_FILE": namespace.ca_path,
    }
    wanted: Dict[str, Optional[str]] = {}
    for name in PROXY_VARIABLES:
        wanted[name] = wanted[name.lower()] = values.get(name)
    for name in CA_VARIABLES:
        wanted[name] = values[name]
    saved = {name: os.environ.get(name) for name in wanted}
    try:
        for name, value in wanted.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield {k: v for k, v in values.items()}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
