"""Two small clients of real data platforms, as an application would write them: Kalibrate's
Data API (Azure AD client credentials) and Opinum's push service (password grant)."""

from .kalibrate import KalibrateClient, KalibrateError
from .opinum import OpinumClient, OpinumError

__all__ = ["KalibrateClient", "KalibrateError", "OpinumClient", "OpinumError"]
