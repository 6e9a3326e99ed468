"""Opinum's push service: a password-grant token from the identity server (requests-oauthlib, as
in Opinum's own example), then standard-format pushes with it."""

from datetime import datetime
from typing import Iterable, Tuple, Union

from oauthlib.oauth2 import LegacyApplicationClient, OAuth2Error
from requests_oauthlib import OAuth2Session

IDENTITY = "https://identity.opinum.com"
PUSH = "https://push.opinum.com"
SCOPES = ["datahub-api", "push-data"]


class OpinumError(Exception):
    """Opinum refused: the message says what it answered."""


class OpinumClient:
    def __init__(self, client_id: str, client_secret: str, username: str, password: str, *,
                 identity_url: str = IDENTITY, push_url: str = PUSH, verify: Union[bool, str] = True):
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.identity_url, self.push_url = identity_url.rstrip("/"), push_url.rstrip("/")
        # Given on each call: requests lets REQUESTS_CA_BUNDLE override a session's `verify`.
        self.verify = verify
        self.session = OAuth2Session(client=LegacyApplicationClient(client_id=client_id))

    def connect(self) -> None:
        try:
            self.session.fetch_token(token_url=f"{self.identity_url}/connect/token", username=self.username,
                                     password=self.password, client_id=self.client_id,
                                     client_secret=self.client_secret, scope=SCOPES,
                                     verify=self.verify)
        except OAuth2Error as e:
            raise OpinumError(f"login refused: {e.error}: {e.description}") from e

    def push(self, serial_number: str, mapping: str, points: Iterable[Tuple[datetime, float]]) -> None:
        """Pushes points to the variable with this mapping on the source with this serial number."""
        if not self.session.authorized:
            self.connect()
        series = [{"sourceSerialNumber": serial_number, "mappingConfig": mapping,
                   "data": [{"date": at.isoformat(), "value": value} for at, value in points]}]
        answer = self.session.post(f"{self.push_url}/api/data", json=series, verify=self.verify, timeout=30)
        if answer.status_code != 200:
            raise OpinumError(f"push refused: {answer.status_code} {answer.text[:300]}")
