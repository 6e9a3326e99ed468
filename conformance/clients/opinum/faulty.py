"""Deliberately faulty Opinum clients: `faulty.py --fault NAME`.

Each is the well-behaved client (common.PushClient) with one method overridden, so it
misbehaves in exactly one way.
"""
import argparse
import datetime
import time

import common


class ApiScopeOnly(common.PushClient):
    """Asks for datahub-api only: push answers 403."""

    scopes = ["datahub-api"]


class TokenPerCall(common.PushClient):
    """Logs in again before every call."""

    def token(self):
        self.drop_token()
        return super().token()


class NoProactiveRenewal(common.PushClient):
    """Keeps its token until a 401 says it died (ignores expires_in)."""

    def token(self):
        if self._token is None:
            self._token = self.login()["access_token"]
        return self._token


class GivesUpOn401(common.PushClient):
    """A 401 is final: no new login, the push fails."""

    def on_401(self, method, url, **kwargs):
        raise common.Failure(f"{method} {url} answered 401")


class BlindPush(common.PushClient):
    """Pushes without checking that the source and variable exist (the data may be lost)."""

    def check_structure(self):
        pass


class PasswordInQuery(common.PushClient):
    """Also puts username, password and client secret in the token URL's query string."""

    def fetch_token(self, oauth):
        e = self.env
        url = (f"{e.token_url}?username={e.username}&password={e.password}"
               f"&client_id={e.client_id}&client_secret={e.client_secret}")
        return oauth.fetch_token(token_url=url, username=e.username, password=e.password,
                                 client_id=e.client_id, client_secret=e.client_secret, scope=self.scopes,
                                 timeout=common.TIMEOUT)


class TokenInQuery(common.PushClient):
    """Also sends the token as ?access_token= on every call."""

    def send(self, method, url, token, **kwargs):
        return super().send(method, url, token, params={"access_token": token}, **kwargs)


class LegacyPush(common.PushClient):
    """Pushes with the 2019 .NET sample's legacy format to /api/standard."""

    def push(self, call):
        sources = self.authorized("GET", f"{self.env.api_url}/sources").json()
        source = next(s for s in sources if s.get("serialNumber") == self.env.serial)
        variables = self.authorized("GET", f"{self.env.api_url}/variables/source/{source['id']}").json()
        variable = next(v for v in variables if v.get("mappingConfig") == self.env.mapping_config)
        start = datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=15 * self.env.points * call)
        data = [{"VariableId": variable["id"], "Date": (start + datetime.timedelta(minutes=15 * i)).isoformat(),
                 "Value": 1.0 + i} for i in range(self.env.points)]
        return self.authorized("POST", f"{self.env.push_url}/api/standard", json={"Data": data})


class RetryStorm(common.PushClient):
    """Retries a refused login 10 times, without waiting."""

    def login(self):
        for _ in range(10):
            try:
                return super().login()
            except common.Failure as err:
                last = err
                time.sleep(0.01)
        raise last


class ExitZeroOnFailure(common.PushClient):
    """Prints any error and exits 0 anyway."""

    def run(self):
        code = super().run()
        if code:
            print(f"failed (exit code {code}), exiting 0 anyway", flush=True)
        return 0


FAULTS = {
    "api-scope-only": ApiScopeOnly,
    "token-per-call": TokenPerCall,
    "no-proactive-renewal": NoProactiveRenewal,
    "gives-up-on-401": GivesUpOn401,
    "blind-push": BlindPush,
    "password-in-query": PasswordInQuery,
    "token-in-query": TokenInQuery,
    "legacy-push": LegacyPush,
    "retry-storm": RetryStorm,
    "exit-zero-on-failure": ExitZeroOnFailure,
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", required=True, choices=sorted(FAULTS))
    common.main(FAULTS[parser.parse_args().fault])
