"""Well-behaved Opinum client on requests-oauthlib's LegacyApplicationClient (Opinum's documented code,
hardened): see common.PushClient."""
import common

if __name__ == "__main__":
    common.main(common.PushClient)
