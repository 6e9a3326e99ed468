"""The Opinum suites certify the reference client (requests-oauthlib LegacyApplicationClient) and
fail every faulty client on exactly the checks it violates
(conformance/clients/opinum/expected-verdicts.toml); together the faulty clients fail every
check the Opinum scenarios use, and none of them passes its suite."""

from conformance_suite import ProviderSuite


class TestOpinumSuite(ProviderSuite):
    PROVIDER = "opinum"
    REFERENCE = {"requests-oauthlib": "requests_oauthlib_client.py"}
    SECRETS = ("opinum-demo-secret", "pusher-password")

    def test_lost_data_is_reported_with_the_points(self, verdicts):
        report = verdicts["blind-push"]["report"]
        [scenario] = [s for s in report["scenarios"] if s["id"] == "opinum/robustness-missing-structure"]
        lost = next(c for c in scenario["checks"] if c["name"] == "opinum.no-data-lost")
        assert lost["message"].startswith("3 point(s) would have been lost: sourceSerialNumber 'SN-0404'")
        assert lost["evidence"][0]["kind"] == "push.unmapped"
