"""The reference client of whichever provider the runner names in CONFORMANCE_PROVIDER, so one
command certifies them all: `conformance run --suite all --client "python conformance/clients/reference.py"`.

Each provider's entry is its reference client (relative to this folder); add a line per provider.
"""
import os
import sys
from pathlib import Path

REFERENCE = {
    "kalibrate": "kalibrate/requests_client.py",
    "opinum": "opinum/requests_oauthlib_client.py",
    "openenergy": "openenergy/fapi_session_client.py",
    "knoema": "knoema/reference_client.py",
    "iotopen": "iotopen/reference_client.py",
}

if __name__ == "__main__":
    provider = os.environ.get("CONFORMANCE_PROVIDER", "")
    if provider not in REFERENCE:
        print(f"error: no reference client for CONFORMANCE_PROVIDER={provider!r} (have: {', '.join(sorted(REFERENCE))})",
              file=sys.stderr)
        sys.exit(2)
    script = Path(__file__).resolve().parent / REFERENCE[provider]
    os.execv(sys.executable, [sys.executable, str(script), *sys.argv[1:]])
