"""Deliberately faulty Knoema clients: `faulty.py --fault NAME`.

Each fault is the well-behaved client (common.KnoemaClient) with one method overridden, so it
misbehaves in exactly one way.
"""
import argparse
import datetime
import urllib.parse

from knoema.api_client import ApiClient
from oauthlib.oauth2 import MobileApplicationClient

import common


def api_client_signing_with(hash_for):
    """The package's ApiClient, its signature replaced by `hash_for(secret)`."""

    class Signing(ApiClient):
        def _get_request_headers(self):
            headers = super()._get_request_headers()
            headers["Authorization"] = f"Knoema {self._appid}:{hash_for(self._appsecret)}:1.2"
            return headers

    return Signing


class LocalTime(common.KnoemaClient):
    """Signs with the machine's local time instead of UTC (datetime.now())."""

    def api_client(self):
        cls = api_client_signing_with(lambda s: common.signature(s, datetime.datetime.now()))
        return cls(self.env.host, self.env.app_id, self.env.app_secret)


class SwappedHmac(common.KnoemaClient):
    """HMAC keyed with the app secret over the hour: key and message swapped."""

    def api_client(self):
        cls = api_client_signing_with(lambda s: common.signature(s, common.utc_now(), swapped=True))
        return cls(self.env.host, self.env.app_id, self.env.app_secret)


class StaleHeader(common.KnoemaClient):
    """Replays a header cached from the last hour (signed for the hour before the current one)."""

    def api_client(self):
        cached = common.signature(self.env.app_secret, common.utc_now() - datetime.timedelta(hours=1))
        cls = api_client_signing_with(lambda s: cached)
        return cls(self.env.host, self.env.app_id, self.env.app_secret)


class NoState(common.KnoemaClient):
    """Builds the authorization URL by hand, without state (and does not check it back)."""

    @staticmethod
    def response_type(session):
        return "token" if isinstance(session._client, MobileApplicationClient) else "code"

    def authorization_url(self, session):
        query = urllib.parse.urlencode({"response_type": self.response_type(session), "client_id": self.env.app_id,
                                        "redirect_uri": self.redirect_uri(), "scope": "read",
                                        "consent": self.env.consent})
        session._state = None
        session._client.state = None
        return f"{self.env.base_url}/oauth/authorize?{query}"


class LooseRedirectUri(common.KnoemaClient):
    """Sends the registered redirect URI with a trailing slash ("it is the same page")."""

    def redirect_uri(self):
        return self.env.redirect_uri.rstrip("/") + "/"


class TokenFromQuery(common.KnoemaClient):
    """Looks for the client flow's token in the query string, not the fragment."""

    def token_from_callback(self, session, callback):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)
        token = query.get("access_token", [""])[0]
        session.token = {"access_token": token, "token_type": "Bearer"}
        return session.token


class ExchangesDespiteDenial(common.KnoemaClient):
    """Goes to the token endpoint with whatever came back, without looking at error=."""

    def exchange_code(self, session, callback):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)
        if "error" in query:
            return session.fetch_token(self.env.base_url + "/oauth/token", code=query.get("code", ["none"])[0],
                                       client_secret=self.env.app_secret, method="GET", include_client_id=True,
                                       timeout=common.TIMEOUT)
        return super().exchange_code(session, callback)


class IgnoresDenial(common.KnoemaClient):
    """Treats any failure of the authorization as success (exit 0)."""

    def oauth(self, implicit):
        code = super().oauth(implicit)
        if code:
            common.say(f"failed (exit code {code}), exiting 0 anyway")
        return 0


FAULTS = {
    "local-time": LocalTime,
    "swapped-hmac": SwappedHmac,
    "stale-header": StaleHeader,
    "no-state": NoState,
    "loose-redirect-uri": LooseRedirectUri,
    "token-from-query": TokenFromQuery,
    "exchanges-despite-denial": ExchangesDespiteDenial,
    "ignores-denial": IgnoresDenial,
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", required=True, choices=sorted(FAULTS))
    common.main(FAULTS[parser.parse_args().fault])
