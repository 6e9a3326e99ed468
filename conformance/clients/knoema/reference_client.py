"""Well-behaved Knoema client: the `knoema` package's ApiClient for signed requests (a new
signature per request, for the UTC hour), requests-oauthlib for the code flow (state checked,
the registered redirect_uri in both requests) and the client flow (the token read from the
fragment). All of it lives in common.KnoemaClient.
"""
import common

if __name__ == "__main__":
    common.main(common.KnoemaClient)
