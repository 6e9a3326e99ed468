"""The Knoema suites certify the reference client (the `knoema` package and requests-oauthlib)
and fail every faulty client on exactly the checks it violates
(conformance/clients/knoema/expected-verdicts.toml); together the faulty clients fail every
check the Knoema scenarios use, and none of them passes its suite."""

import json
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT

PROVIDER = "knoema"
RUNNER = ROOT / "target" / "debug" / "conformance"
CLIENTS = ROOT / "conformance" / "clients" / PROVIDER
EXPECTED = tomllib.loads((CLIENTS / "expected-verdicts.toml").read_text())["faults"]
REFERENCE = {"knoema-package": f"{sys.executable} {CLIENTS / 'reference_client.py'}",
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


def test_the_verdicts_name_the_signature_mistake(verdicts):
    local = check_of(verdicts, "local-time", "robustness-local-time-zone", "knoema.signature-utc-hour")
    assert "local time instead of UTC" in local["message"] and "9 hours ahead" in local["message"]
    swapped = check_of(verdicts, "swapped-hmac", "basic-signed-data", "knoema.signature-construction")
    assert "key and message swapped" in swapped["message"]
    stale = check_of(verdicts, "stale-header", "robustness-hour-rollover", "knoema.signature-across-rollover")
    assert "stale hour" in stale["message"] and stale["evidence"][0]["kind"] == "fault.applied"


def test_secrets_stay_out_of_the_reports(verdicts):
    for name, v in verdicts.items():
        text = json.dumps(v["report"]) + v["stderr"] + v["stdout"]
        assert "demo-app-secret" not in text, name
