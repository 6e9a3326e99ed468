"""What every provider's conformance test checks, written once: the provider's suites certify its
reference client (directly and through conformance/clients/reference.py), fail every faulty
client on exactly the checks it violates (conformance/clients/<provider>/expected-verdicts.toml),
together fail every check the provider's scenarios use, and never show a secret.

A test module subclasses `ProviderSuite` as `Test<Provider>Suite`, names the provider, its
reference client script and the secrets that must never appear, and adds its own tests."""

import json
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT

RUNNER = ROOT / "target" / "debug" / "conformance"


def run(args):
    return subprocess.run([str(RUNNER), *args], capture_output=True, text=True, timeout=300)


def failed(report):
    return {f"{s['id'].split('/', 1)[1]}: {c['name']}" for s in report["scenarios"] for c in s["checks"]
            if c["status"] == "FAILED"}


#: A JWT (header and payload, base64url JSON): "eyJ" alone also turns up by chance inside
#: random base64url values such as certificate thumbprints.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


class ProviderSuite:
    PROVIDER = ""
    #: name → script in conformance/clients/<provider>/
    REFERENCE = {}
    #: Fixture secrets that must never show in the output (tokens are looked for as JWT too).
    SECRETS = ()

    @classmethod
    def clients(cls):
        folder = ROOT / "conformance" / "clients" / cls.PROVIDER
        expected = tomllib.loads((folder / "expected-verdicts.toml").read_text())["faults"]
        reference = {name: f"{sys.executable} {folder / script}" for name, script in cls.REFERENCE.items()}
        reference["dispatcher"] = f"{sys.executable} {ROOT / 'conformance' / 'clients' / 'reference.py'}"
        faulty = {name: f"{sys.executable} {folder / 'faulty.py'} --fault {name}" for name in expected}
        return reference, faulty, expected

    @pytest.fixture(scope="class")
    def verdicts(self, tmp_path_factory):
        """Runs the provider's suites once per client, four at a time, each with its own server."""
        out = tmp_path_factory.mktemp(f"conformance-{self.PROVIDER}")
        reference, faulty, _ = self.clients()

        def certify(item):
            name, command = item
            report = out / f"{name}.json"
            done = run(["run", "--suite", self.PROVIDER, "--client", command, "--json", str(report)])
            return name, {"exit": done.returncode, "stderr": done.stderr, "stdout": done.stdout,
                          "report": json.loads(report.read_text()) if report.exists() else None}

        with ThreadPoolExecutor(max_workers=4) as pool:
            return dict(pool.map(certify, {**reference, **faulty}.items()))

    def check_of(self, verdicts, client, scenario, check):
        [s] = [s for s in verdicts[client]["report"]["scenarios"] if s["id"] == f"{self.PROVIDER}/{scenario}"]
        return next(c for c in s["checks"] if c["name"] == check)

    def test_reference_client_is_certified(self, verdicts, reference_client):
        v = verdicts[reference_client]
        assert v["exit"] == 0, v["stderr"]
        statuses = {c["status"] for s in v["report"]["scenarios"] for c in s["checks"]}
        assert statuses == {"PASSED"}, v["stderr"]
        assert {s["suite"] for s in v["report"]["scenarios"]} == {"basic", "robustness", "security"}

    def test_faulty_client_fails_exactly_the_checks_it_violates(self, verdicts, faulty_client):
        v = verdicts[faulty_client]
        assert v["exit"] == 1, "a faulty client must not pass its suite\n" + v["stderr"]
        assert failed(v["report"]) == set(self.clients()[2][faulty_client]["fails"]), v["stderr"]

    def test_every_check_is_killed_by_some_faulty_client(self, verdicts):
        listed = run(["checks", "--provider", self.PROVIDER])
        assert listed.returncode == 0, listed.stderr
        names = {line.split()[0] for line in listed.stdout.splitlines() if line and not line[0].isspace()}
        killed = {entry.split(": ")[1] for fault in self.clients()[1] for entry in failed(verdicts[fault]["report"])}
        assert names and killed == names, f"never failed: {sorted(names - killed)}"

    def test_output_never_carries_a_secret_or_a_token(self, verdicts):
        for name, v in verdicts.items():
            text = json.dumps(v["report"]) + v["stderr"] + v["stdout"]
            for secret in self.SECRETS:
                assert secret not in text, (name, secret)
            assert not JWT.search(text), (name, JWT.search(text).group(0)[:20] + "...")


def parametrize(metafunc):
    """Called from conftest's pytest_generate_tests: one test per reference and faulty client."""
    cls = metafunc.cls
    if cls is None or not issubclass(cls, ProviderSuite):
        return
    reference, faulty, _ = cls.clients()
    if "reference_client" in metafunc.fixturenames:
        metafunc.parametrize("reference_client", sorted(reference))
    if "faulty_client" in metafunc.fixturenames:
        metafunc.parametrize("faulty_client", sorted(faulty))
