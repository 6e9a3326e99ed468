"""Shared code of the Open Energy conformance clients.

`Reader` is the well-behaved client: `ib1-openenergy-support`'s FAPISession (discovery, a
certificate-bound token by client_credentials with tls_client_auth, reused until its expiry, a
fresh x-fapi-interaction-id on every call, the certificate on every connection), reading the
data set `CONFORMANCE_CALLS` times, `CONFORMANCE_INTERVAL_MS` apart. Any refusal ends the run with
exit 1. The faulty variants (faulty.py) override one method each.
"""
import os
import sys
import time

import requests
from ib1.openenergy.support import FAPISession

TIMEOUT = 30
# FAPISession retries GETs (and failed connections) with exponential back-off, 3 times by default
# (0 + 2 + 4 s); one immediate retry keeps a refused handshake from taking 6 s.
RETRIES = 1


def log(message):
    print(message, file=sys.stderr, flush=True)


class Env:
    """The runner's environment contract (README, "Conformance")."""

    required = ("OPENENERGY_ISSUER_URL", "OPENENERGY_DATA_URL", "OPENENERGY_CLIENT_ID", "OPENENERGY_SCOPES",
                "OPENENERGY_DATASET", "CONFORMANCE_CLIENT_CERT", "CONFORMANCE_CLIENT_KEY")

    def __init__(self):
        missing = [n for n in self.required if not os.environ.get(n)]
        if missing:
            raise ValueError(f"missing environment: {', '.join(missing)}")
        get = os.environ.get
        self.action = get("CONFORMANCE_ACTION", "")
        self.calls = int(get("CONFORMANCE_CALLS") or 1)
        self.interval = int(get("CONFORMANCE_INTERVAL_MS") or 0) / 1000
        self.issuer = get("OPENENERGY_ISSUER_URL")
        self.data_url = get("OPENENERGY_DATA_URL").rstrip("/")
        self.client_id = get("OPENENERGY_CLIENT_ID")
        self.scopes = get("OPENENERGY_SCOPES")
        self.dataset = get("OPENENERGY_DATASET")
        self.cert = get("CONFORMANCE_CLIENT_CERT")
        self.key = get("CONFORMANCE_CLIENT_KEY")
        self.endpoints = get("CONFORMANCE_ENDPOINTS")


class Reader:
    def __init__(self, env):
        self.env = env
        self.fapi = None

    def connect(self):
        """FAPISession: reads the issuer's discovery document now, gets tokens on use."""
        e = self.env
        self.fapi = FAPISession(client_id=e.client_id, issuer_url=e.issuer, requested_scopes=e.scopes,
                                private_key=e.key, certificate=e.cert, retries=RETRIES)

    def read(self, url):
        return self.fapi.session.get(url, timeout=TIMEOUT)

    def run(self):
        url = self.env.data_url + self.env.dataset
        try:
            self.connect()
            for call in range(self.env.calls):
                if call and self.env.interval:
                    time.sleep(self.env.interval)
                resp = self.read(url)
                if resp.status_code != 200:
                    print(f"read {call + 1}: {resp.status_code} {resp.headers.get('WWW-Authenticate', '')}", flush=True)
                    return 1
                print(f"read {call + 1}: 200, {len(resp.content)} bytes, "
                      f"x-fapi-interaction-id {resp.headers.get('x-fapi-interaction-id')}", flush=True)
        except requests.HTTPError as err:  # FAPISession raises this when the token request fails
            body = err.response.text[:200] if err.response is not None else ""
            print(f"failed: {err} {body}", flush=True)
            return 1
        except (requests.RequestException, OSError, ValueError, TypeError, KeyError) as err:
            print(f"failed: {err!r}", flush=True)
            return 1
        return 0


def main(client_class):
    try:
        env = Env()
    except ValueError as exc:
        log(f"error: {exc}")
        sys.exit(2)
    if env.action != "read":
        log(f"error: unknown CONFORMANCE_ACTION {env.action!r} (Open Energy has: read)")
        sys.exit(2)
    sys.exit(client_class(env).run())
