"""Shared code of the Kalibrate conformance clients.

`StatusClient` is the well-behaved requests client: environment, token cache, retry
policy and the `status` action. The MSAL client and the faulty variants subclass it and
override one method each.
"""
import email.utils
import os
import sys
import time

import requests

USER_AGENT = "kalibrate-conformance-reference/1.0"
RETRY_STATUSES = {429, 500, 502, 503, 504}  # the token endpoint's "try again later" answers
MAX_RETRIES = 3
MAX_RETRY_AFTER = 30  # seconds
EXPIRY_MARGIN = 300  # seconds: a token this close to `expires_in` counts as expired
TOKEN_TIMEOUT = 30  # seconds: a slow token endpoint is waited for
API_TIMEOUT = 60  # seconds


def log(message):
    """Diagnostics go to stderr; stdout has one line per data API call."""
    print(message, file=sys.stderr, flush=True)


class Env:
    """The runner's environment contract: only these variables are read."""

    def __init__(self, required):
        missing = [name for name in required if not os.environ.get(name)]
        if missing:
            raise ValueError(f"missing environment: {', '.join(missing)}")
        get = os.environ.get
        self.action = get("CONFORMANCE_ACTION", "")
        try:
            self.calls = int(get("CONFORMANCE_CALLS") or 1)
        except ValueError:
            raise ValueError("CONFORMANCE_CALLS must be an integer") from None
        self.token_url = get("KALIBRATE_TOKEN_URL")
        self.authority = get("KALIBRATE_AUTHORITY")
        self.tenant_id = get("KALIBRATE_TENANT_ID")
        self.api_url = get("KALIBRATE_API_URL", "").rstrip("/")
        self.client_id = get("KALIBRATE_CLIENT_ID")
        self.client_secret = get("KALIBRATE_CLIENT_SECRET")
        self.scope = get("KALIBRATE_SCOPE")
        self.ca_bundle = (get("REQUESTS_CA_BUNDLE") or get("CONFORMANCE_CA")
                          or get("SSL_CERT_FILE") or True)


class TokenError(Exception):
    """The token endpoint said no (status set) or could not be reached (status None)."""

    def __init__(self, message, status=None, retry_after=1.0, cause=None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.cause = cause

    @property
    def retryable(self):
        return self.status is None or self.status in RETRY_STATUSES

    @property
    def client_error(self):
        """A 4xx other than 429: the request itself is wrong (e.g. wrong secret)."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


def retry_after(headers, default=1.0):
    """Seconds to wait from a Retry-After header (seconds or HTTP date), capped."""
    value = headers.get("Retry-After")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            seconds = default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def describe(body, fallback):
    """`error: AADSTS...` (first line of error_description) from a token error body."""
    if not isinstance(body, dict) or "error" not in body:
        return fallback
    description = (body.get("error_description") or "").splitlines()
    return f"{body['error']}: {description[0]}" if description else body["error"]


def token_error(resp, default_retry_after=1.0, note=""):
    try:
        body = resp.json()
    except ValueError:
        body = None
    message = f"HTTP {resp.status_code} {describe(body, resp.text[:200])}{note}"
    return TokenError(message, resp.status_code,
                      retry_after(resp.headers, default_retry_after))


class StatusClient:
    """Well-behaved client with plain requests (the style of Kalibrate's own example)."""

    required_env = ("KALIBRATE_TOKEN_URL", "KALIBRATE_API_URL", "KALIBRATE_CLIENT_ID",
                    "KALIBRATE_CLIENT_SECRET", "KALIBRATE_SCOPE")
    user_agent = USER_AGENT
    token_timeout = TOKEN_TIMEOUT

    def __init__(self, env):
        self.env = env
        self.http = requests.Session()
        self.http.verify = env.ca_bundle
        self._token = None
        self._expires_at = 0.0

    # --- token endpoint -------------------------------------------------------------

    def request_token(self, **extra):
        """One POST to the token endpoint; the secret travels in the form body only."""
        env = self.env
        form = {"client_id": env.client_id, "client_secret": env.client_secret,
                "grant_type": "client_credentials", "scope": env.scope}
        try:
            resp = self.post_token_form(form, **extra)
        except requests.RequestException as exc:
            raise TokenError(f"token endpoint unreachable: {exc!r}", cause=exc) from exc
        if resp.status_code != 200:
            raise token_error(resp)
        return resp.json()

    def post_token_form(self, form, **extra):
        return self.http.post(self.env.token_url, data=form, timeout=self.token_timeout, **extra)

    def retry_delay(self, err, attempt):
        """Seconds to wait before retry number `attempt`, or None to give up."""
        if err.retryable and attempt <= MAX_RETRIES:
            return err.retry_after
        return None

    def with_retries(self, fetch):
        attempt = 0
        while True:
            try:
                return fetch()
            except TokenError as err:
                attempt += 1
                delay = self.retry_delay(err, attempt)
                if delay is None:
                    raise
                log(f"token request failed ({err}); retry {attempt} in {delay:g}s")
                time.sleep(delay)

    def token(self):
        """The cached token, or a new one when there is none or it is about to expire."""
        if self._token is None or time.monotonic() >= self._expires_at:
            body = self.with_retries(self.request_token)
            self._token = body["access_token"]
            lifetime = int(body.get("expires_in") or 0)
            self._expires_at = time.monotonic() + lifetime - EXPIRY_MARGIN
        return self._token

    def drop_token(self):
        self._token = None

    # --- data API -------------------------------------------------------------------

    def api_get(self, path, token):
        headers = {"Authorization": f"Bearer {token}"}
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        return self.http.get(self.env.api_url + path, headers=headers, timeout=API_TIMEOUT)

    def call_status(self):
        resp = self.api_get("/api/status", self.token())
        if resp.status_code == 401:
            log("data API answered 401: dropping the token, retrying once with a new one")
            self.drop_token()
            resp = self.api_get("/api/status", self.token())
        return resp

    def run(self):
        """The `status` action: exit code 0 when every call got 200 in the end, else 1."""
        failures = 0
        try:
            for i in range(1, self.env.calls + 1):
                try:
                    resp = self.call_status()
                except requests.RequestException as exc:
                    print(f"call {i}: error {exc!r}", flush=True)
                    failures += 1
                    continue
                if resp.status_code == 200:
                    body = resp.json()
                    print(f"call {i}: 200 clientId={body.get('clientId')} "
                          f"expirationTime={body.get('expirationTime')}", flush=True)
                else:
                    print(f"call {i}: {resp.status_code} {resp.text[:200]}", flush=True)
                    failures += 1
        except TokenError as err:
            print(f"token request failed: {err}", flush=True)
            return 1
        return 1 if failures else 0


def main(client_class):
    """Check the action and environment, run the client, exit with its code."""
    try:
        env = Env(client_class.required_env)
    except ValueError as exc:  # a missing variable, or CONFORMANCE_CALLS not an int
        log(f"error: {exc}")
        sys.exit(2)
    if env.action != "status":
        log(f"error: unknown CONFORMANCE_ACTION {env.action!r} (Kalibrate has: status)")
        sys.exit(2)
    sys.exit(client_class(env).run())
