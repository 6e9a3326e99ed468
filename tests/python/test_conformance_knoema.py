"""The Knoema suites certify the reference client (the `knoema` package and requests-oauthlib)
and fail every faulty client on exactly the checks it violates
(conformance/clients/knoema/expected-verdicts.toml); together the faulty clients fail every
check the Knoema scenarios use, and none of them passes its suite."""

from conformance_suite import ProviderSuite


class TestKnoemaSuite(ProviderSuite):
    PROVIDER = "knoema"
    REFERENCE = {"knoema-package": "reference_client.py"}
    SECRETS = ("demo-app-secret",)

    def test_the_verdicts_name_the_signature_mistake(self, verdicts):
        local = self.check_of(verdicts, "local-time", "robustness-local-time-zone", "knoema.signature-utc-hour")
        assert "local time instead of UTC" in local["message"] and "9 hours ahead" in local["message"]
        swapped = self.check_of(verdicts, "swapped-hmac", "basic-signed-data", "knoema.signature-construction")
        assert "key and message swapped" in swapped["message"]
        stale = self.check_of(verdicts, "stale-header", "robustness-hour-rollover", "knoema.signature-across-rollover")
        assert "stale hour" in stale["message"] and stale["evidence"][0]["kind"] == "fault.applied"
