"""JSON over HTTP to the admin API, with the standard library only (the plugin has no dependencies)."""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Optional

# Admin calls go straight to the server: proxy mode sets HTTP_PROXY for the client under test, and
# a run's proxy URL would put these calls in that run.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MockServerError(RuntimeError):
    """Something about the mock server went wrong: it did not start, a service does not exist, ..."""


class AdminError(MockServerError):
    """The admin API refused a call, or could not be reached. `status` is the HTTP status (0 when
    there was no answer), `error` the API's error code (`bad_fault`, `unknown_run`, ...)."""

    def __init__(self, method: str, url: str, status: int, error: str, message: str):
        self.method, self.url, self.status, self.error = method, url, status, error
        what = f"{status} {error}" if status else error
        super().__init__(f"{method} {url}: {what}: {message}")


def call(method: str, url: str, body: Any = None, query: Optional[Mapping[str, Any]] = None,
         timeout: float = 10.0) -> Any:
    """One admin call: `body` sent as JSON (or as is when bytes), the answer's JSON returned (None
    for an empty answer). A 4xx or 5xx answer raises AdminError with the API's own message."""
    if query:
        url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    data, headers = None, {}
    if isinstance(body, bytes):
        data = body
    elif body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            doc = json.loads(raw)
            error, message = doc.get("error", "error"), doc.get("message", raw.decode(errors="replace"))
        except (ValueError, AttributeError):
            error, message = "error", raw.decode(errors="replace")[:500]
        raise AdminError(method, url, e.code, error, message) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise AdminError(method, url, 0, "unreachable", f"no answer from the admin API ({reason})") from None
    return json.loads(raw) if raw else None
