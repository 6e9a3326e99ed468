"""The Open Energy suites certify the reference client (ib1-openenergy-support's FAPISession, with
the certificate the runner had the dev CA sign) and fail every faulty client on exactly the
checks it violates (conformance/clients/openenergy/expected-verdicts.toml); together the faulty
clients fail every check the Open Energy scenarios use, and none of them passes its suite."""

from conformance_suite import ProviderSuite


class TestOpenEnergySuite(ProviderSuite):
    PROVIDER = "openenergy"
    REFERENCE = {"fapi-session": "fapi_session_client.py"}
    SECRETS = ("BEGIN PRIVATE KEY",)

    def test_the_client_certificate_is_the_runs_own_and_bound_to_its_tokens(self, verdicts):
        report = verdicts["fapi-session"]["report"]
        [scenario] = [s for s in report["scenarios"] if s["id"] == "openenergy/basic-token-reused"]
        reused = next(c for c in scenario["checks"] if c["name"] == "openenergy.token-reused-until-expiry")
        assert reused["evidence"][0]["bound_to"]
        [revoked] = [s for s in report["scenarios"] if s["id"] == "openenergy/security-revoked-certificate"]
        refusal = next(c for c in revoked["checks"] if c["name"] == "openenergy.no-calls-after-refusal")
        assert "has been revoked" in refusal["message"]
