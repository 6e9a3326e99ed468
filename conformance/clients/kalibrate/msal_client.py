"""Well-behaved Kalibrate client: MSAL for tokens, requests for the data API.

MSAL 1.39 hides the HTTP status and headers of token errors, so MSAL gets its own
requests session that remembers the last token response. What MSAL does on errors:
- 5xx: raises MsalServiceError("HTTP Error: 503") (no headers, no body);
- 429 / 4xx: returns the error JSON as a dict, no status;
- 429/5xx are then replayed from its throttle cache for Retry-After seconds (5 s when
  absent), without calling the server; exact 400s are replayed for 60 s.
So the retry wait is Retry-After, or MSAL's own 5 s when absent, and a retry lands after
MSAL's throttle has lapsed.
"""
import msal
import requests

import common

MSAL_DEFAULT_THROTTLE = 5  # seconds: ThrottledHttpClient's default_throttle_time for CCA


class TokenSession(requests.Session):
    """The http_client given to MSAL: a timeout, and the last token response kept."""

    def __init__(self, verify, timeout):
        super().__init__()
        self.verify = verify
        self.timeout = timeout
        self.last_post = None
        self.posts = 0

    def request(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout  # MSAL passes none to a custom http_client
        resp = super().request(method, url, **kwargs)
        if method.upper() == "POST":
            self.last_post, self.posts = resp, self.posts + 1
        return resp


class MsalStatusClient(common.StatusClient):
    required_env = ("KALIBRATE_AUTHORITY", "KALIBRATE_API_URL", "KALIBRATE_CLIENT_ID",
                    "KALIBRATE_CLIENT_SECRET", "KALIBRATE_SCOPE")

    def __init__(self, env):
        super().__init__(env)
        self.token_http = TokenSession(env.ca_bundle, self.token_timeout)
        self.app = msal.ConfidentialClientApplication(
            env.client_id, client_credential=env.client_secret, authority=env.authority,
            instance_discovery=False, http_client=self.token_http)

    def acquire(self):
        """One acquire_token_for_client: from MSAL's cache, the server, or MSAL's throttle."""
        posts = self.token_http.posts
        try:
            result = self.app.acquire_token_for_client(scopes=[self.env.scope])
        except requests.RequestException as exc:
            raise common.TokenError(f"token endpoint unreachable: {exc!r}", cause=exc) from exc
        except (msal.exceptions.MsalServiceError, ValueError) as exc:  # 5xx, or not JSON
            result = {"error": str(exc)}
        if "access_token" in result:
            return result["access_token"]
        resp = self.token_http.last_post
        if resp is None:
            raise common.TokenError(common.describe(result, str(result)))
        note = "" if self.token_http.posts > posts else " (replayed by MSAL's throttle cache)"
        raise common.token_error(resp, MSAL_DEFAULT_THROTTLE, note)

    def token(self):
        return self.with_retries(self.acquire)  # MSAL caches (5 min margin, like ours)

    def drop_token(self):
        self.app.remove_tokens_for_client()


if __name__ == "__main__":
    common.main(MsalStatusClient)
