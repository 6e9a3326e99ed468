"""Shared code of the Opinum conformance clients.

`PushClient` is the well-behaved client: requests-oauthlib's `LegacyApplicationClient` (the
password grant, as Opinum's own Python connectors use it) with both scopes, the token kept and
renewed (a new login) before `expires_in` runs out and once after a 401, the structure checked
in the Data Hub API before pushing (Opinum drops points for a missing structure without an
error), then the standard push. The faulty variants (faulty.py) override one method each.
"""
import datetime
import os
import sys
import time

import requests
from oauthlib.oauth2 import LegacyApplicationClient, OAuth2Error
from requests_oauthlib import OAuth2Session

SCOPES = ["datahub-api", "push-data"]
RENEW_MARGIN = 300  # seconds before expiry a token is renewed (at most half its life)
TIMEOUT = 30


def log(message):
    print(message, file=sys.stderr, flush=True)


class Env:
    """The runner's environment contract (README, "Conformance")."""

    required = ("OPINUM_TOKEN_URL", "OPINUM_API_URL", "OPINUM_PUSH_URL", "OPINUM_CLIENT_ID", "OPINUM_CLIENT_SECRET",
                "OPINUM_USERNAME", "OPINUM_PASSWORD", "OPINUM_SOURCE_SERIAL", "OPINUM_MAPPING_CONFIG")

    def __init__(self):
        missing = [n for n in self.required if not os.environ.get(n)]
        if missing:
            raise ValueError(f"missing environment: {', '.join(missing)}")
        get = os.environ.get
        self.action = get("CONFORMANCE_ACTION", "")
        self.calls = int(get("CONFORMANCE_CALLS") or 1)
        self.points = int(get("CONFORMANCE_POINTS") or 1)
        self.interval = int(get("CONFORMANCE_INTERVAL_MS") or 0) / 1000
        self.token_url = get("OPINUM_TOKEN_URL")
        self.api_url = get("OPINUM_API_URL").rstrip("/")
        self.push_url = get("OPINUM_PUSH_URL").rstrip("/")
        self.client_id = get("OPINUM_CLIENT_ID")
        self.client_secret = get("OPINUM_CLIENT_SECRET")
        self.username = get("OPINUM_USERNAME")
        self.password = get("OPINUM_PASSWORD")
        self.serial = get("OPINUM_SOURCE_SERIAL")
        self.mapping_config = get("OPINUM_MAPPING_CONFIG")
        self.ca = get("REQUESTS_CA_BUNDLE") or get("CONFORMANCE_CA") or True


class Failure(Exception):
    """The action cannot be done: exit 1 with this message."""


class PushClient:
    scopes = SCOPES

    def __init__(self, env):
        self.env = env
        self.http = requests.Session()
        self.http.verify = env.ca
        self.http.headers["User-Agent"] = "opinum-conformance-reference/1.0"
        self._token = None
        self._renew_at = 0.0
        self.pushed = 0

    # --- identity -------------------------------------------------------------------
    def login(self):
        """One password grant (requests-oauthlib LegacyApplicationClient, as in Opinum's documentation: docs/providers/opinum.md#client-libraries)."""
        oauth = OAuth2Session(client=LegacyApplicationClient(client_id=self.env.client_id), scope=self.scopes)
        oauth.verify = self.env.ca
        try:
            return self.fetch_token(oauth)
        except OAuth2Error as err:
            raise Failure(f"login refused: ({err.error}) {err.description or ''}") from err
        except requests.RequestException as err:
            raise Failure(f"identity server unreachable: {err!r}") from err

    def fetch_token(self, oauth):
        e = self.env
        return oauth.fetch_token(token_url=e.token_url, username=e.username, password=e.password,
                                 client_id=e.client_id, client_secret=e.client_secret, scope=self.scopes,
                                 timeout=TIMEOUT)

    def token(self):
        if self._token is None or time.monotonic() >= self._renew_at:
            body = self.login()
            lifetime = int(body.get("expires_in") or 0)
            self._token = body["access_token"]
            self._renew_at = time.monotonic() + lifetime - min(RENEW_MARGIN, lifetime / 2)
        return self._token

    def drop_token(self):
        self._token = None

    def authorized(self, method, url, **kwargs):
        """A call with the bearer token; on a 401 one new login and one retry."""
        resp = self.send(method, url, self.token(), **kwargs)
        if resp.status_code == 401:
            resp = self.on_401(method, url, **kwargs)
        return resp

    def on_401(self, method, url, **kwargs):
        log(f"{method} {url} answered 401: logging in again")
        self.drop_token()
        return self.send(method, url, self.token(), **kwargs)

    def send(self, method, url, token, **kwargs):
        headers = {"Authorization": f"Bearer {token}"}
        return self.http.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)

    # --- Data Hub: does the structure exist? ------------------------------------------
    def check_structure(self):
        """The source with the serial number and its variable with the mappingConfig, or Failure."""
        e = self.env
        resp = self.authorized("GET", f"{e.api_url}/sources")
        if resp.status_code != 200:
            raise Failure(f"GET sources answered {resp.status_code}")
        sources = [s for s in resp.json() if s.get("serialNumber") == e.serial]
        if not sources:
            raise Failure(f"no source with serial number {e.serial!r}: the push would be lost")
        resp = self.authorized("GET", f"{e.api_url}/variables/source/{sources[0]['id']}")
        if resp.status_code != 200:
            raise Failure(f"GET variables answered {resp.status_code}")
        if not any(v.get("mappingConfig") == e.mapping_config for v in resp.json()):
            raise Failure(f"source {e.serial!r} has no variable with mappingConfig {e.mapping_config!r}: the push would be lost")

    # --- push -----------------------------------------------------------------------
    def series(self, call):
        start = datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=15 * self.env.points * call)
        data = [{"date": (start + datetime.timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%S"), "value": 1.5 + i}
                for i in range(self.env.points)]
        return [{"sourceSerialNumber": self.env.serial, "mappingConfig": self.env.mapping_config, "data": data}]

    def push(self, call):
        return self.authorized("POST", f"{self.env.push_url}/api/data", json=self.series(call))

    def run(self):
        try:
            self.check_structure()
            for call in range(self.env.calls):
                if call and self.env.interval:
                    time.sleep(self.env.interval)
                resp = self.push(call)
                if resp.status_code != 200:
                    raise Failure(f"push {call + 1} answered {resp.status_code} {resp.text[:200]}")
                print(f"push {call + 1}: 200 ({self.env.points} point(s))", flush=True)
        except Failure as err:
            print(f"failed: {err}", flush=True)
            return 1
        except requests.RequestException as err:
            print(f"failed: {err!r}", flush=True)
            return 1
        return 0


def main(client_class):
    try:
        env = Env()
    except ValueError as exc:
        log(f"error: {exc}")
        sys.exit(2)
    if env.action != "push":
        log(f"error: unknown CONFORMANCE_ACTION {env.action!r} (Opinum has: push)")
        sys.exit(2)
    sys.exit(client_class(env).run())
