"""The Open Energy suites certify the reference client (ib1-openenergy-support's FAPISession, with
the certificate the runner had the dev CA sign) and fail every faulty client on exactly the
checks it violates (conformance/clients/openenergy/expected-verdicts.toml); together the faulty
clients fail every check the Open Energy scenarios use, and none of them passes its suite."""

import json
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT

PROVIDER = "openenergy"
RUNNER = ROOT / "target" / "debug" / "conformance"
CLIENTS = ROOT / "conformance" / "clients" / PROVIDER
EXPECTED = tomllib.loads((CLIENTS / "expected-verdicts.toml").read_text())["faults"]
REFERENCE = {"fapi-session": f"{sys.executable} {CLIENTS / 'fapi_session_client.py'}",
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


def test_the_client_certificate_is_the_runs_own_and_bound_to_its_tokens(verdicts):
    report = verdicts["fapi-session"]["report"]
    [scenario] = [s for s in report["scenarios"] if s["id"] == "openenergy/basic-token-reused"]
    reused = next(c for c in scenario["checks"] if c["name"] == "openenergy.token-reused-until-expiry")
    assert reused["evidence"][0]["bound_to"]
    [revoked] = [s for s in report["scenarios"] if s["id"] == "openenergy/security-revoked-certificate"]
    refusal = next(c for c in revoked["checks"] if c["name"] == "openenergy.no-calls-after-refusal")
    assert "has been revoked" in refusal["message"]


def test_output_never_carries_a_secret_password_or_token(verdicts):
    for name, v in verdicts.items():
        text = json.dumps(v["report"]) + v["stderr"] + v["stdout"]
        for secret in ("BEGIN PRIVATE KEY", "eyJ"):
            assert secret not in text, (name, secret)
