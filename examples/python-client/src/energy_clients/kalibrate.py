"""Kalibrate's Data API behind Azure AD: a client-credentials token, then calls with it.

Honours Retry-After on 429 and 503 from the token endpoint, and fetches a new token once when the
API says the one it has is no longer valid.
"""

import time
from typing import Any, Callable, Dict, Optional, Union

import requests

LOGIN = "https://login.microsoftonline.com"
DATA = "https://dev.data.thekalibratecloud.com"
# Kalibrate's gateway refuses requests' default User-Agent: every client names itself.
USER_AGENT = "energy-clients/0.1"


class KalibrateError(Exception):
    """Kalibrate refused: the message says what it answered."""


def retry_after(answer: requests.Response, default: float = 1.0) -> float:
    try:
        return max(0.0, float(answer.headers["Retry-After"]))
    except (KeyError, ValueError):
        return default


class KalibrateClient:
    def __init__(self, tenant: str, client_id: str, client_secret: str, scope: str, *,
                 login_url: str = LOGIN, data_url: str = DATA, verify: Union[bool, str] = True,
                 retries: int = 3, sleep: Callable[[float], None] = time.sleep):
        self.tenant, self.client_id, self.client_secret, self.scope = tenant, client_id, client_secret, scope
        self.login_url, self.data_url = login_url.rstrip("/"), data_url.rstrip("/")
        self.retries, self.sleep = retries, sleep
        # Given on each call: requests lets REQUESTS_CA_BUNDLE override a session's `verify`.
        self.verify = verify
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._token: Optional[str] = None

    def token(self) -> str:
        """An access token, fetched once and reused."""
        if self._token is None:
            self._token = self._fetch_token()
        return self._token

    def _fetch_token(self) -> str:
        url = f"{self.login_url}/{self.tenant}/oauth2/v2.0/token"
        form = {"client_id": self.client_id, "client_secret": self.client_secret, "scope": self.scope,
                "grant_type": "client_credentials"}
        for attempt in range(self.retries + 1):
            answer = self.session.post(url, data=form, verify=self.verify, timeout=30)
            if answer.status_code in (429, 503) and attempt < self.retries:
                self.sleep(retry_after(answer))
                continue
            if answer.status_code != 200:
                raise KalibrateError(f"token request refused: {answer.status_code} {answer.text[:300]}")
            return answer.json()["access_token"]
        raise AssertionError("unreachable")

    def get(self, path: str) -> Any:
        """GET on the Data API; a 401 gets one new token and one more try."""
        for renewed in (False, True):
            answer = self.session.get(self.data_url + path, headers={"Authorization": f"Bearer {self.token()}"},
                                      verify=self.verify, timeout=30)
            if answer.status_code == 401 and not renewed:
                self._token = None
                continue
            if answer.status_code != 200:
                raise KalibrateError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
            return answer.json()
        raise AssertionError("unreachable")

    def status(self) -> Dict[str, Any]:
        """Kalibrate's own check that the API is up and the credentials valid."""
        return self.get("/api/status")
