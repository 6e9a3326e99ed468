"""The IoT Open suites certify the reference client (paho-mqtt and requests) and fail every
faulty client on exactly the checks it violates
(conformance/clients/iotopen/expected-verdicts.toml); together the faulty clients fail every
check the IoT Open scenarios use, and none of them passes its suite."""

from conformance_suite import ProviderSuite


class TestIotOpenSuite(ProviderSuite):
    PROVIDER = "iotopen"
    REFERENCE = {"paho-requests": "reference_client.py"}

    def test_the_broker_drop_is_a_fault_rule_on_the_gate(self, verdicts):
        passed = self.check_of(verdicts, "paho-requests", "robustness-broker-drops-client", "iotopen.resubscribes-after-drop")
        drop, again = passed["evidence"]
        assert drop["kind"] == "mqtt.disconnected" and "fault rule" in drop["reason"]
        assert again["kind"] == "mqtt.connected" and again["seq"] > drop["seq"]
        missed = self.check_of(verdicts, "no-resubscribe", "robustness-broker-drops-client", "iotopen.resubscribes-after-drop")
        assert "did not subscribe again to 1001/#" in missed["message"]


    def test_a_reconnect_storm_is_counted(self, verdicts):
        storm = self.check_of(verdicts, "reconnect-storm", "security-refused-connack", "iotopen.no-reconnect-storm")
        assert int(storm["message"].split()[0]) > 10, storm["message"]
        calm = self.check_of(verdicts, "paho-requests", "security-refused-connack", "iotopen.no-reconnect-storm")
        assert calm["message"].startswith("1 CONNECT attempt")
