"""The conformance runner certifies the reference clients and fails every faulty one on exactly
the checks it violates (conformance/clients/kalibrate/expected-verdicts.toml); together the
faulty clients fail every check there is."""

import json
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import ROOT

RUNNER = ROOT / "target" / "debug" / "conformance"
CLIENTS = ROOT / "conformance" / "clients" / "kalibrate"
EXPECTED = tomllib.loads((CLIENTS / "expected-verdicts.toml").read_text())["faults"]
REFERENCE = {"requests": f"{sys.executable} {CLIENTS / 'requests_client.py'}",
             "msal": f"{sys.executable} {CLIENTS / 'msal_client.py'}"}
FAULTY = {name: f"{sys.executable} {CLIENTS / 'faulty.py'} --fault {name}" for name in EXPECTED}


def run(args, **kwargs):
    return subprocess.run([str(RUNNER), *args], capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="session")
def verdicts(tmp_path_factory):
    """Runs the Kalibrate suite once per client, four at a time, each with its own server."""
    out = tmp_path_factory.mktemp("conformance")

    def certify(item):
        name, command = item
        report, junit = out / f"{name}.json", out / f"{name}.xml"
        done = run(["run", "--suite", "kalibrate", "--client", command, "--json", str(report), "--junit", str(junit)])
        return name, {"exit": done.returncode, "stderr": done.stderr, "stdout": done.stdout,
                      "report": json.loads(report.read_text()) if report.exists() else None, "junit": junit}

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(certify, {**REFERENCE, **FAULTY}.items()))


def failed(report):
    return {f"{s['id'].split('/', 1)[1]}: {c['name']}" for s in report["scenarios"] for c in s["checks"]
            if c["status"] == "FAILED"}


@pytest.mark.parametrize("client", sorted(REFERENCE))
def test_reference_clients_are_certified(verdicts, client):
    v = verdicts[client]
    assert v["exit"] == 0, v["stderr"]
    assert "CERTIFIED" in v["stdout"]
    statuses = {c["status"] for s in v["report"]["scenarios"] for c in s["checks"]}
    assert statuses == {"PASSED"}, v["stderr"]
    assert len(v["report"]["scenarios"]) == 8
    # The JUnit file is one testcase per scenario check, none failed.
    root = ET.parse(v["junit"]).getroot()
    checks = sum(len(s["checks"]) for s in v["report"]["scenarios"])
    assert (root.tag, int(root.get("tests")), int(root.get("failures"))) == ("testsuites", checks, 0)
    assert {s.get("name") for s in root} == {"kalibrate/basic", "kalibrate/robustness", "kalibrate/security"}


@pytest.mark.parametrize("fault", sorted(FAULTY))
def test_faulty_clients_fail_exactly_the_checks_they_violate(verdicts, fault):
    v = verdicts[fault]
    assert v["exit"] == 1, v["stderr"]
    assert failed(v["report"]) == set(EXPECTED[fault]["fails"]), v["stderr"]
    root = ET.parse(v["junit"]).getroot()
    assert int(root.get("failures")) == len(EXPECTED[fault]["fails"])
    failure = root.find(".//failure")
    assert failure is not None and failure.get("message") and "clause:" in failure.text


def test_every_check_is_killed_by_some_faulty_client(verdicts):
    listed = run(["checks", "--provider", "kalibrate"])
    assert listed.returncode == 0
    names = {line.split()[0] for line in listed.stdout.splitlines() if line and not line[0].isspace()}
    killed = {entry.split(": ")[1] for fault in FAULTY for entry in failed(verdicts[fault]["report"])}
    assert names and killed == names, f"never failed: {sorted(names - killed)}"


def test_evidence_and_output_never_carry_the_secret_or_a_token(verdicts):
    for name, v in verdicts.items():
        text = json.dumps(v["report"]) + v["stderr"] + v["stdout"] + Path(v["junit"]).read_text()
        assert "sandpit-read-secret" not in text, name
        assert "eyJ0eXAi" not in text, name


def test_expected_failures_keep_ci_green_and_are_reported(tmp_path):
    known = tmp_path / "known.toml"
    known.write_text('[[expected]]\nscenario = "kalibrate/basic-token-reused"\ncheck = "kalibrate.token-reused"\n'
                     'reason = "token cache lands in v2"\n')
    done = run(["run", "--suite", "kalibrate/basic", "--client", FAULTY["token-per-call"],
                "--expected-failures", str(known), "--json", str(tmp_path / "r.json")])
    assert done.returncode == 0, done.stderr
    statuses = [c["status"] for s in json.loads((tmp_path / "r.json").read_text())["scenarios"] for c in s["checks"]]
    assert statuses.count("EXPECTED_FAILURE") == 1 and "FAILED" not in statuses
    assert "EXPECTED FAILURE kalibrate.token-reused" in done.stderr


def test_attaches_to_a_running_server(mock, tmp_path):
    done = run(["run", "--suite", "kalibrate/security", "--client", REFERENCE["requests"], "--server", mock.admin,
                "--json", str(tmp_path / "r.json")])
    assert done.returncode == 0, done.stderr
    # It worked in a run of its own, named on stderr, and deleted it at the end.
    server = json.loads((tmp_path / "r.json").read_text())["server"]
    match = re.fullmatch(re.escape(mock.endpoints["http"]) + r"/__run/(conformance-\d+-[0-9a-f]{8})/__admin", server)
    assert match, server
    assert f", run {match.group(1)})" in done.stderr
    assert requests.get(f"{mock.admin}/runs/{match.group(1)}", timeout=10).status_code == 404
    assert requests.get(f"{mock.admin}/runs", timeout=10).json()["runs"] == []
    # The last scenario (a wrong secret) was rejected in that run, not in the default namespace.
    assert mock.events(kind="token.rejected") == []
    assert mock.events() == []


def test_attaches_to_a_run_it_is_given(mock, tmp_path):
    created = requests.post(f"{mock.admin}/runs", json={"id": "given-run"}, timeout=10)
    assert created.status_code == 201, created.text
    try:
        run_admin = created.json()["endpoints"]["admin"]
        done = run(["run", "--suite", "kalibrate/security", "--client", REFERENCE["requests"], "--server", run_admin,
                    "--json", str(tmp_path / "r.json")])
        assert done.returncode == 0, done.stderr
        assert json.loads((tmp_path / "r.json").read_text())["server"] == run_admin
        # Used as it is and left in place: the last scenario's rejection is in its journal.
        rejected = requests.get(f"{run_admin}/events", params={"kind": "token.rejected"}, timeout=10).json()["events"]
        assert [e["code"] for e in rejected] == [7000215]
        assert mock.events(kind="token.rejected") == []
    finally:
        requests.delete(f"{mock.admin}/runs/given-run", timeout=10)


def test_bad_scenario_files_are_explained(tmp_path):
    good = (ROOT / "conformance" / "scenarios" / "kalibrate" / "basic-token-reused.toml").read_text()
    (tmp_path / "kalibrate").mkdir()
    bad = tmp_path / "kalibrate" / "bad.toml"
    bad.write_text(good.replace('name = "kalibrate.token-reused"', 'name = "kalibrate.token-reuse"'))
    done = run(["check-scenarios", str(tmp_path)])
    assert done.returncode == 2
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if "token-reuse\"" in l)
    assert f"{bad}:{line}: checks[2].name: unknown check 'kalibrate.token-reuse'" in done.stderr
    assert "fix: `conformance checks` lists the checks" in done.stderr

    bad.write_text(good.replace("max_tokens = 1", "max_tokens = \"one\""))
    done = run(["check-scenarios", str(tmp_path)])
    assert done.returncode == 2 and "checks[2].max_tokens: must be a whole number" in done.stderr


def test_a_hanging_client_is_stopped_at_the_time_limit(tmp_path):
    done = run(["run", "--suite", "kalibrate/basic-token-and-status", "--client", "sleep 60", "--json", str(tmp_path / "r.json")])
    assert done.returncode == 1
    [scenario] = json.loads((tmp_path / "r.json").read_text())["scenarios"]
    assert scenario["client"]["timed_out"] is True
    outcome = next(c for c in scenario["checks"] if c["name"] == "common.client-outcome")
    assert outcome["status"] == "FAILED" and "killed" in outcome["message"]


def test_a_scenario_can_serve_its_own_fixtures(tmp_path):
    (tmp_path / "kalibrate").mkdir()
    scenario = (ROOT / "conformance" / "scenarios" / "kalibrate" / "basic-token-and-status.toml").read_text()
    scenario += '''
[setup]
fixtures = """
[[kalibrate.tenants]]
id = "11111111-2222-4333-8444-555555555555"
[[kalibrate.tenants.apis]]
audience = "api://dev.data.thekalibratecloud.com/66666666-7777-4888-9999-000000000000"
[[kalibrate.tenants.clients]]
client_id = "abcdefab-1111-4222-8333-444444444444"
secret = "scenario-only-secret"
roles = ["Read"]
"""
'''
    (tmp_path / "kalibrate" / "own-fixtures.toml").write_text(scenario)
    done = run(["run", "--suite", "kalibrate", "--scenarios", str(tmp_path), "--client", REFERENCE["requests"],
                "--json", str(tmp_path / "r.json")])
    assert done.returncode == 0, done.stderr
    [result] = json.loads((tmp_path / "r.json").read_text())["scenarios"]
    issued = next(c for c in result["checks"] if c["name"] == "kalibrate.token-by-client-credentials")["evidence"]
    assert issued[0]["client_id"] == "abcdefab-1111-4222-8333-444444444444"
    assert issued[0]["audience"].endswith("66666666-7777-4888-9999-000000000000")
