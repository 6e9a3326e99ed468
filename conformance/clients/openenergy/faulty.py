"""Deliberately faulty Open Energy clients: `faulty.py --fault NAME`.

Each is the well-behaved FAPISession client (common.Reader) with one method overridden, so it
misbehaves in exactly one way.
"""
import argparse
import json
import time
import uuid

import requests

import common


class NoCertOnData(common.Reader):
    """Gets its token over mTLS but reads the data set without presenting the certificate."""

    def read(self, url):
        headers = {"Authorization": f"Bearer {self.fapi.access_token}", "x-fapi-interaction-id": str(uuid.uuid4())}
        return requests.get(url, headers=headers, timeout=common.TIMEOUT)


class TokenPerCall(common.Reader):
    """Drops its token before every call: a token request (and handshake) per call."""

    def read(self, url):
        self.fapi.clear_token()
        return super().read(url)


class IgnoresExpiry(common.Reader):
    """Keeps its first token forever, whatever expires_in said."""

    def read(self, url):
        self.fapi.access_token  # noqa: B018 - gets the token when there is none
        self.fapi._token["expiry_time"] = float("inf")
        return super().read(url)


class NoInteractionId(common.Reader):
    """Sends the bearer token and certificate but no x-fapi-interaction-id."""

    def read(self, url):
        return self.fapi.plain_session.get(url, headers={"Authorization": f"Bearer {self.fapi.access_token}"},
                                           timeout=common.TIMEOUT)


class TokenInQuery(common.Reader):
    """Also puts the token in the query string (?access_token=)."""

    def read(self, url):
        return self.fapi.session.get(url, params={"access_token": self.fapi.access_token}, timeout=common.TIMEOUT)


class TokenToPlainHttps(common.Reader):
    """Also sends the token to the data provider's plain HTTPS (non-mTLS) address."""

    def read(self, url):
        with open(self.env.endpoints) as f:
            https = json.load(f)["https"].rstrip("/")
        path = url.split("/openenergy/", 1)[1]
        try:
            requests.get(f"{https}/openenergy/{path}", timeout=common.TIMEOUT,
                         headers={"Authorization": f"Bearer {self.fapi.access_token}"})
        except requests.RequestException:
            pass  # the answer does not matter
        return super().read(url)


class ProceedsWithoutToken(common.Reader):
    """When the token request fails, reads the data set anyway (without a token)."""

    def read(self, url):
        try:
            self.fapi.access_token  # noqa: B018
        except requests.HTTPError as err:
            common.log(f"no token ({err}); trying without one")
            return self.fapi.plain_session.get(url, timeout=common.TIMEOUT)
        return super().read(url)


class RetryStorm(common.Reader):
    """Retries a refused token request 10 times, without waiting."""

    def read(self, url):
        for _ in range(9):
            try:
                self.fapi.access_token  # noqa: B018
                break
            except requests.HTTPError:
                time.sleep(0.01)
        return super().read(url)


class ExitZeroOnFailure(common.Reader):
    """Prints any error and exits 0 anyway."""

    def run(self):
        code = super().run()
        if code:
            print(f"failed (exit code {code}), exiting 0 anyway", flush=True)
        return 0


FAULTS = {
    "no-cert-on-data": NoCertOnData,
    "token-per-call": TokenPerCall,
    "ignores-expiry": IgnoresExpiry,
    "no-interaction-id": NoInteractionId,
    "token-in-query": TokenInQuery,
    "token-to-plain-https": TokenToPlainHttps,
    "proceeds-without-token": ProceedsWithoutToken,
    "retry-storm": RetryStorm,
    "exit-zero-on-failure": ExitZeroOnFailure,
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", required=True, choices=sorted(FAULTS))
    common.main(FAULTS[parser.parse_args().fault])
