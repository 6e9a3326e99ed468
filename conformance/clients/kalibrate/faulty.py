"""Deliberately faulty Kalibrate clients: `faulty.py --fault NAME`.

Each fault is the well-behaved requests client (common.StatusClient) with one method
overridden, so it misbehaves in exactly one way.
"""
import argparse
import time
import urllib.parse

import requests

import common


class TokenPerCall(common.StatusClient):
    """Requests a new token before every data API call (no cache)."""

    def token(self):
        self.drop_token()
        return super().token()


class JsonTokenRequest(common.StatusClient):
    """Sends the token request as JSON instead of a form (Azure AD reads forms only)."""

    def post_token_form(self, form, **extra):
        return self.http.post(self.env.token_url, json=form, timeout=self.token_timeout, **extra)


class IgnoreRetryAfter(common.StatusClient):
    """On 429/503 from the token endpoint retries at once, up to 5 times."""

    def retry_delay(self, err, attempt):
        if err.status in (429, 503):
            return 0 if attempt <= 5 else None
        return super().retry_delay(err, attempt)


class RetryForeverOn401(common.StatusClient):
    """On a data API 401 retries the same call with the same token, forever."""

    def call_status(self):
        token = self.token()
        while True:
            resp = self.api_get("/api/status", token)
            if resp.status_code != 401:
                return resp
            time.sleep(0.05)


class DefaultUserAgent(common.StatusClient):
    """Sends requests' default User-Agent (python-requests/x) to the data API."""

    user_agent = None


class SecretInQuery(common.StatusClient):
    """Puts client_id and client_secret in the token URL's query string (and the body)."""

    def request_token(self, **extra):
        query = {"client_id": self.env.client_id, "client_secret": self.env.client_secret}
        return super().request_token(params=query, **extra)


class TokenToOtherHost(common.StatusClient):
    """Also sends each new token to https://localhost:<port>/telemetry."""

    def request_token(self, **extra):
        body = super().request_token(**extra)
        api = urllib.parse.urlsplit(self.env.api_url)
        telemetry = urllib.parse.urlunsplit(
            (api.scheme, f"localhost:{api.port}", "/telemetry", "", ""))
        try:
            self.http.get(telemetry, timeout=10, headers={
                "Authorization": f"Bearer {body['access_token']}",
                "User-Agent": self.user_agent})
        except requests.RequestException:
            pass  # the answer does not matter
        return body


class RetryStorm(common.StatusClient):
    """On a 4xx from the token endpoint (e.g. wrong secret) retries 20 times, no wait."""

    def retry_delay(self, err, attempt):
        if err.client_error:
            return 0 if attempt <= 20 else None
        return super().retry_delay(err, attempt)


class GivesUpOn5xx(common.StatusClient):
    """Fails at the first 429/5xx from the token endpoint."""

    def retry_delay(self, err, attempt):
        if err.status is not None and err.retryable:
            return None
        return super().retry_delay(err, attempt)


class ShortTimeout(common.StatusClient):
    """Token request times out after 0.5 s and is not retried."""

    token_timeout = 0.5

    def retry_delay(self, err, attempt):
        if isinstance(err.cause, requests.Timeout):
            return None
        return super().retry_delay(err, attempt)


class ExitZeroOnFailure(common.StatusClient):
    """Prints any error and exits 0 anyway."""

    def run(self):
        try:
            code = super().run()
        except Exception as exc:  # noqa: BLE001 - that is the fault
            print(f"error: {exc!r}", flush=True)
            return 0
        if code:
            print(f"failed (exit code {code}), exiting 0 anyway", flush=True)
        return 0


FAULTS = {
    "token-per-call": TokenPerCall,
    "json-token-request": JsonTokenRequest,
    "ignore-retry-after": IgnoreRetryAfter,
    "retry-forever-on-401": RetryForeverOn401,
    "default-user-agent": DefaultUserAgent,
    "secret-in-query": SecretInQuery,
    "token-to-other-host": TokenToOtherHost,
    "retry-storm": RetryStorm,
    "gives-up-on-5xx": GivesUpOn5xx,
    "short-timeout": ShortTimeout,
    "exit-zero-on-failure": ExitZeroOnFailure,
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", required=True, choices=sorted(FAULTS))
    common.main(FAULTS[parser.parse_args().fault])
