"""The IoT Open suites certify the reference client (paho-mqtt and requests) and fail every
faulty client on exactly the checks it violates
(conformance/clients/iotopen/expected-verdicts.toml); together the faulty clients fail every
check the IoT Open scenarios use, and none of them passes its suite."""

import json
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT

PROVIDER = "iotopen"
RUNNER = ROOT / "target" / "debug" / "conformance"
CLIENTS = ROOT / "conformance" / "clients" / PROVIDER
EXPECTED = tomllib.loads((CLIENTS / "expected-verdicts.toml").read_text())["faults"]
REFERENCE = {"paho-requests": f"{sys.executable} {CLIENTS / 'reference_client.py'}",
             "dispatcher": f"{sys.executable} {ROOT / 'conformance' / 'clients' / 'reference.py'}"}
FAULTY = {name: f"{sys.executable} {CLIENTS / 'faulty.py'} --fault {name}" for name in EXPECTED}


def run(args):
    return subprocess.run([str(RUNNER), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    out = tmp_path_factory.mktemp(f"conformance-{PROVIDER}")

    def certify(item):
        name, command = item
        report = out / f"{name}.json"
        done = run(["run", "--suite", PROVIDER, "--client", command, "--json", str(report)])
        return name, {"exit": done.returncode, "stderr": done.stderr, "stdout": done.stdout,
                      "report": json.loads(report.read_text()) if report.exists() else None}

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(certify, {**REFERENCE, **FAULTY}.items()))


def failed(report):
    return {f"{s['id'].split('/', 1)[1]}: {c['name']}" for s in report["scenarios"] for c in s["checks"]
            if c["status"] == "FAILED"}


@pytest.mark.parametrize("client", sorted(REFERENCE))
def test_reference_client_is_certified(verdicts, client):
    v = verdicts[client]
    assert v["exit"] == 0, v["stderr"]
    statuses = {c["status"] for s in v["report"]["scenarios"] for c in s["checks"]}
    assert statuses == {"PASSED"}, v["stderr"]
    assert {s["suite"] for s in v["report"]["scenarios"]} == {"basic", "robustness", "security"}


@pytest.mark.parametrize("fault", sorted(FAULTY))
def test_faulty_client_fails_exactly_the_checks_it_violates(verdicts, fault):
    v = verdicts[fault]
    assert v["exit"] == 1, "a faulty client must not pass its suite\n" + v["stderr"]
    assert failed(v["report"]) == set(EXPECTED[fault]["fails"]), v["stderr"]


def test_every_check_is_killed_by_some_faulty_client(verdicts):
    listed = run(["checks", "--provider", PROVIDER])
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line and not line[0].isspace()}
    killed = {entry.split(": ")[1] for fault in FAULTY for entry in failed(verdicts[fault]["report"])}
    assert names and killed == names, f"never failed: {sorted(names - killed)}"


def check_of(verdicts, client, scenario, check):
    report = verdicts[client]["report"]
    [s] = [s for s in report["scenarios"] if s["id"] == f"{PROVIDER}/{scenario}"]
    return next(c for c in s["checks"] if c["name"] == check)


def test_the_broker_drop_is_a_fault_rule_on_the_gate(verdicts):
    passed = check_of(verdicts, "paho-requests", "robustness-broker-drops-client", "iotopen.resubscribes-after-drop")
    drop, again = passed["evidence"]
    assert drop["kind"] == "mqtt.disconnected" and "fault rule" in drop["reason"]
    assert again["kind"] == "mqtt.connected" and again["seq"] > drop["seq"]
    missed = check_of(verdicts, "no-resubscribe", "robustness-broker-drops-client", "iotopen.resubscribes-after-drop")
    assert "did not subscribe again to 1001/#" in missed["message"]


def test_a_reconnect_storm_is_counted(verdicts):
    storm = check_of(verdicts, "reconnect-storm", "security-refused-connack", "iotopen.no-reconnect-storm")
    assert int(storm["message"].split()[0]) > 10, storm["message"]
    calm = check_of(verdicts, "paho-requests", "security-refused-connack", "iotopen.no-reconnect-storm")
    assert calm["message"].startswith("1 CONNECT attempt")
