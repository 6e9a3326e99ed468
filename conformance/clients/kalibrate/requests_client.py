"""Well-behaved Kalibrate client with plain requests (Kalibrate's own example, hardened).

All behaviour lives in common.StatusClient: token by client_credentials with the secret in
the POST body, cached until expires_in - 300 s, Retry-After honoured on 429/5xx (3 retries),
one fresh token on a data API 401, a custom User-Agent on every data API call.
"""
import common

if __name__ == "__main__":
    common.main(common.StatusClient)
