"""Shared code of the Knoema conformance clients.

`KnoemaClient` is the well-behaved client: the `signed` action on the `knoema` package's own
ApiClient (which signs every request for the current UTC hour), and the OAuth code and client
(implicit) flows on requests-oauthlib. The faulty variants in faulty.py subclass it and
override one method each.
"""
import base64
import datetime
import hashlib
import hmac
import os
import sys
import urllib.error

import requests
from knoema.api_client import ApiClient
from oauthlib.oauth2 import MobileApplicationClient, WebApplicationClient
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from requests_oauthlib import OAuth2Session

USER_AGENT = "knoema-conformance-reference/1.0"
TIMEOUT = 30  # seconds, every HTTP call


def log(message):
    """Diagnostics go to stderr; stdout has one line per step."""
    print(message, file=sys.stderr, flush=True)


def say(message):
    print(message, flush=True)


class Env:
    """The runner's environment contract: only these variables are read."""

    required = ("KNOEMA_HOST", "KNOEMA_BASE_URL", "KNOEMA_APP_ID", "KNOEMA_APP_SECRET",
                "KNOEMA_REDIRECT_URI", "KNOEMA_DATASET")

    def __init__(self):
        missing = [name for name in self.required if not os.environ.get(name)]
        if missing:
            raise ValueError(f"missing environment: {', '.join(missing)}")
        get = os.environ.get
        self.action = get("CONFORMANCE_ACTION", "")
        try:
            self.calls = int(get("CONFORMANCE_CALLS") or 1)
        except ValueError:
            raise ValueError("CONFORMANCE_CALLS must be an integer") from None
        self.host = get("KNOEMA_HOST")
        self.base_url = get("KNOEMA_BASE_URL").rstrip("/")
        self.app_id = get("KNOEMA_APP_ID")
        self.app_secret = get("KNOEMA_APP_SECRET")
        self.redirect_uri = get("KNOEMA_REDIRECT_URI")
        self.dataset = get("KNOEMA_DATASET")
        self.consent = get("KNOEMA_CONSENT", "auto-approve")
        self.ca_bundle = get("REQUESTS_CA_BUNDLE") or get("CONFORMANCE_CA") or True


def signature(secret, key_time, swapped=False):
    """base64(HMAC-SHA1(key = "dd-MM-yy-HH" of key_time, message = secret)), as Knoema documents it (docs/providers/knoema.md#signed-header)."""
    key = key_time.strftime("%d-%m-%y-%H").encode()
    message = secret.encode()
    if swapped:
        key, message = message, key
    return base64.b64encode(hmac.new(key, message, hashlib.sha1).digest()).decode()


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


class KnoemaClient:
    """Well-behaved Knoema client."""

    def __init__(self, env):
        self.env = env

    # --- the signed header (the knoema package) ------------------------------------------

    def api_client(self):
        """The package's client: it signs each request when it is made, for the UTC hour."""
        return ApiClient(self.env.host, self.env.app_id, self.env.app_secret)

    def signed(self):
        client = self.api_client()
        for i in range(1, self.env.calls + 1):
            try:
                ds = client.get_dataset(self.env.dataset)
            except urllib.error.HTTPError as exc:
                say(f"call {i}: HTTP {exc.code} {exc.reason}")
                return 1
            except (urllib.error.URLError, ValueError) as exc:
                say(f"call {i}: error {exc!r}")
                return 1
            say(f"call {i}: dataset {ds.id}")
        return 0

    # --- OAuth (requests-oauthlib) -------------------------------------------------------

    def oauth_session(self, client):
        session = OAuth2Session(client=client, redirect_uri=self.redirect_uri(), scope=["read"])
        session.verify = self.env.ca_bundle
        session.headers["User-Agent"] = USER_AGENT
        return session

    def redirect_uri(self):
        return self.env.redirect_uri

    def authorization_url(self, session):
        """The URL the browser opens (with a fresh state); `consent` stands for the user's click."""
        url, _state = session.authorization_url(self.env.base_url + "/oauth/authorize", consent=self.env.consent)
        return url

    def browser(self, url):
        """Where the consent page sends the browser back to: the Location of its redirect."""
        r = requests.get(url, allow_redirects=False, timeout=TIMEOUT, verify=self.env.ca_bundle,
                         headers={"User-Agent": USER_AGENT})
        location = r.headers.get("Location")
        if r.status_code not in (302, 303) or not location:
            raise OAuth2Error(description=f"the authorization page answered {r.status_code} without a redirect: {r.text[:200]}")
        if not location.startswith(self.redirect_uri()):
            raise OAuth2Error(description=f"redirected to an unexpected place: {location[:80]}")
        return location

    def exchange_code(self, session, callback):
        """Knoema's token endpoint: GET, client credentials as parameters; oauthlib checks
        state and error= in the callback first."""
        return session.fetch_token(self.env.base_url + "/oauth/token", client_secret=self.env.app_secret,
                                   authorization_response=callback, method="GET", include_client_id=True,
                                   timeout=TIMEOUT)

    def token_from_callback(self, session, callback):
        """The client flow's token: in the fragment (oauthlib checks state there too)."""
        return session.token_from_fragment(callback)

    def read_dataset(self, session):
        r = session.get(f"{self.env.base_url}/api/1.0/meta/dataset/{self.env.dataset}", timeout=TIMEOUT)
        if r.status_code != 200:
            say(f"data API: HTTP {r.status_code}")
            return 1
        say(f"data API: dataset {r.json().get('id')}")
        return 0

    def oauth(self, implicit):
        client = MobileApplicationClient(self.env.app_id) if implicit else WebApplicationClient(self.env.app_id)
        session = self.oauth_session(client)
        try:
            callback = self.browser(self.authorization_url(session))
            if implicit:
                token = self.token_from_callback(session, callback)
            else:
                token = self.exchange_code(session, callback)
        except (OAuth2Error, requests.RequestException) as exc:
            say(f"authorization failed: {exc!r}")
            return 1
        if not token.get("access_token"):
            say("authorization failed: no access token")
            return 1
        say(f"token: expires_in={token.get('expires_in')}")
        return self.read_dataset(session)

    def run(self):
        if self.env.action == "signed":
            return self.signed()
        return self.oauth(implicit=self.env.action == "oauth-implicit")


ACTIONS = ("signed", "oauth-code", "oauth-implicit")


def main(client_class):
    try:
        env = Env()
    except ValueError as exc:
        log(f"error: {exc}")
        sys.exit(2)
    if env.action not in ACTIONS:
        log(f"error: unknown CONFORMANCE_ACTION {env.action!r} (Knoema has: {', '.join(ACTIONS)})")
        sys.exit(2)
    sys.exit(client_class(env).run())
