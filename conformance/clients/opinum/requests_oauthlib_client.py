"""Well-behaved Opinum client on requests-oauthlib's LegacyApplicationClient (the seed's code,
hardened): see common.PushClient."""
import common

if __name__ == "__main__":
    common.main(common.PushClient)
