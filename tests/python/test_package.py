"""The wheel as a user gets it: built from python/ (a debug-profile build that reuses the suite's
debug binaries; scripts/package.sh makes release ones), installed with the example's pinned
requirements in a fresh virtual environment, and examples/python-client's tests run there with
that environment's own pytest, with no Rust on PATH. The control: without the wheel the same
tests fail.

The example's requirements are downloaded once into a wheelhouse kept in the suite's virtual
environment (keyed by the requirements' hash), so later runs install offline."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import CA_BUNDLE_AT_START, ROOT

PYTHON_DIR = ROOT / "python"
EXAMPLE = ROOT / "examples" / "python-client"
DISTRIBUTION = "data-platform-mock"
CARGO_VERSION = tomllib.loads((ROOT / "mock-server" / "Cargo.toml").read_text())["package"]["version"]


def run(args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=1800, **kwargs)


def outside_environment() -> dict:
    """The suite's environment with REQUESTS_CA_BUNDLE as it was before the session set it to the
    mock's CA: pip honours it over its own `cert`, and would then trust only the mock."""
    env = dict(os.environ)
    env.pop("REQUESTS_CA_BUNDLE", None)
    if CA_BUNDLE_AT_START is not None:
        env["REQUESTS_CA_BUNDLE"] = CA_BUNDLE_AT_START
    return env


def shown(done) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-6000:]}"


def pins(lines) -> dict:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # The suite's environment has the build backend (pinned in tests/python/requirements.txt):
    # no isolated build environment to download.
    done = run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                "--disable-pip-version-check", "--wheel-dir", out, PYTHON_DIR],
               env={**outside_environment(), "SETUPTOOLS_RUST_CARGO_PROFILE": "dev"})
    assert done.returncode == 0, shown(done)
    [built] = out.glob("*.whl")
    return built


def wheelhouse(requirements: list) -> Path:
    """The example's pinned requirements as wheels, downloaded once per version of the list."""
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:16]
    in_venv = sys.prefix != sys.base_prefix
    base = Path(sys.prefix) / ".package-test-wheels" if in_venv else Path(os.environ.get("TMPDIR", "/tmp"))
    house = base / key
    if not (house / ".complete").exists():
        house.mkdir(parents=True, exist_ok=True)
        listed = house / "requirements.txt"
        listed.write_text("\n".join(requirements) + "\n")
        done = run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
                    "--no-deps", "--dest", house, "-r", listed], env=outside_environment())
        assert done.returncode == 0, shown(done)
        (house / ".complete").touch()
    return house


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh virtual environment with the wheel and the example's requirements."""
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    done = run([sys.executable, "-m", "venv", env_dir])
    assert done.returncode == 0, shown(done)
    requirements = (EXAMPLE / "requirements.txt").read_text().splitlines()
    from_index = [r for r in requirements if "==" in r and not r.startswith(DISTRIBUTION)]
    done = run([env_dir / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "--no-index",
                "--find-links", wheelhouse(from_index), "--find-links", wheel.parent,
                "-r", EXAMPLE / "requirements.txt"], env=outside_environment())
    assert done.returncode == 0, shown(done)
    return env_dir


def user_environment(env_dir: Path) -> dict:
    """What a user's shell would have: the virtual environment's bin and the system's, no cargo,
    nothing of this repository's build or of the suite's server."""
    env = {k: v for k, v in outside_environment().items()
           if not k.startswith(("MOCK_SERVER_", "CARGO", "RUST", "PYTEST_", "PYTHON")) and not k.lower().endswith("_proxy")}
    env["PATH"] = f"{env_dir / 'bin'}:/usr/bin:/bin"
    env["VIRTUAL_ENV"] = str(env_dir)
    return env


def example_tests(env_dir: Path, workdir: Path, *args):
    """The example's tests, from a copy of it, with the environment's own pytest."""
    copy = workdir / "python-client"
    if not copy.exists():
        shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return run([env_dir / "bin" / "pytest", "-p", "no:cacheprovider", *args], cwd=copy, env=user_environment(env_dir))


def test_the_wheel_holds_both_binaries_and_the_plugin(wheel):
    assert re.fullmatch(rf"data_platform_mock-{re.escape(CARGO_VERSION)}-py3-none-[a-z0-9_]+\.whl", wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        data = f"data_platform_mock-{CARGO_VERSION}.data/scripts/"
        assert {data + "mock-server", data + "conformance", "data_platform_mock/plugin.py"} <= names
        info = f"data_platform_mock-{CARGO_VERSION}.dist-info/"
        assert "[pytest11]\nmock_server = data_platform_mock.plugin" in z.read(info + "entry_points.txt").decode()
        metadata = z.read(info + "METADATA").decode()
        assert "Requires-Dist" not in metadata  # nothing to install at run time


def test_installed_binaries_run_from_the_environment(venv, tmp_path):
    env = user_environment(venv)
    version = run(["mock-server", "--version"], env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"mock-server {CARGO_VERSION}", shown(version)
    scenarios = run(["conformance", "list"], env=env, cwd=tmp_path)  # its scenarios are inside it
    assert scenarios.returncode == 0 and "kalibrate/" in scenarios.stdout and "opinum/" in scenarios.stdout, shown(scenarios)
    found = run([venv / "bin" / "python", "-c", "from data_platform_mock import find_binary; print(find_binary())"], env=env)
    assert found.stdout.strip() == str(venv / "bin" / "mock-server"), shown(found)


def test_the_examples_tests_pass_in_the_fresh_environment(venv, tmp_path):
    done = example_tests(venv, tmp_path, "-n", "2")
    assert done.returncode == 0, shown(done)
    assert "2 workers" in done.stdout and re.search(r"\b9 passed\b", done.stdout), shown(done)


def test_control_without_the_wheel_the_examples_tests_fail(venv, tmp_path):
    done = run([venv / "bin" / "python", "-m", "pip", "uninstall", "--yes", "--disable-pip-version-check", DISTRIBUTION])
    assert done.returncode == 0, shown(done)
    assert not (venv / "bin" / "mock-server").exists() and not (venv / "bin" / "conformance").exists()
    done = example_tests(venv, tmp_path)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 1 and "fixture 'mock_run' not found" in done.stdout, shown(done)
    assert re.search(r"\b9 errors\b", summary) and "passed" not in summary, shown(done)


def test_the_build_backend_is_pinned_as_in_the_suites_requirements():
    backend = pins(tomllib.loads((PYTHON_DIR / "pyproject.toml").read_text())["build-system"]["requires"])
    suite = pins((ROOT / "tests" / "python" / "requirements.txt").read_text().splitlines())
    assert backend and {name: suite.get(name) for name in backend} == backend


def test_the_example_names_the_version_this_repository_builds():
    example = pins((EXAMPLE / "requirements.txt").read_text().splitlines())
    assert example[DISTRIBUTION] == CARGO_VERSION
