#!/usr/bin/env python3
"""How long it takes to get the mock without compiling, next to compiling it, in one run.

From an empty virtual environment: install the release wheel (scripts/package.sh builds it into
dist/), install MSAL from PyPI (pinned), start the bundled server as the pytest fixture does, and
get the first token from MSAL through it. Then, unless --skip-cargo, `cargo build --release`
from a clean target directory of its own (a temporary one: nobody's build is touched).
Everything but the PyPI download talks to 127.0.0.1 only. Figures: docs/performance.md.

    scripts/bench-install.py [--wheel PATH] [--no-pip-cache] [--skip-cargo]
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MSAL = "msal==1.39.0"
# MSAL and what it needs, pinned as the suite's environment has them (tests/python/requirements.txt
# and what it resolved to).
MSAL_PINNED = [MSAL, "requests==2.34.2", "urllib3==1.26.20", "certifi==2026.10.19.post1",
               "charset-normalizer==3.5.3", "idna==3.20", "PyJWT==2.15.1", "cryptography==50.0.2",
               "cffi==2.1.1", "pycparser==3.12", "typing_extensions==4.16.0"]

# Runs inside the new environment: the plugin's own start(), then MSAL as an application uses it.
FIRST_TOKEN = r"""
import json, os, sys, time
t0 = time.perf_counter()
from data_platform_mock import start
server = start()
# requests lets this variable win over MSAL's `verify=`: trust the mock's CA the documented way.
os.environ["REQUESTS_CA_BUNDLE"] = server.ca_path
t1 = time.perf_counter()
import msal
app = msal.ConfidentialClientApplication(
    "0525b217-cbb9-4d4a-b8a1-7551c30098cf", client_credential="sandpit-read-secret",
    authority=server.url("kalibrate.login") + "/efa98c7b-2114-46e8-be99-954a4f1a2d9c",
    instance_discovery=False)
result = app.acquire_token_for_client(
    scopes=["api://dev.data.thekalibratecloud.com/c770a337-3c7e-4bbe-a8cb-2fbc9601b94f/.default"])
t2 = time.perf_counter()
server.stop()
assert "access_token" in result, result
print(json.dumps({"start": t1 - t0, "token": t2 - t1}))
"""


def timed(args, **kwargs):
    t = time.perf_counter()
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(map(str, args))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="the wheel to install (default: the one in dist/)")
    parser.add_argument("--no-pip-cache", action="store_true", help="download MSAL as on a machine that never did")
    parser.add_argument("--skip-cargo", action="store_true", help="leave out the cargo build baseline")
    options = parser.parse_args()

    wheel = options.wheel
    if wheel is None:
        found = sorted((ROOT / "dist").glob("data_platform_mock-*.whl"))
        if not found:
            sys.exit("no wheel in dist/: run scripts/package.sh first, or give --wheel")
        wheel = found[-1]
    cache = ["--no-cache-dir"] if options.no_pip_cache else []
    pip_quiet = ["--disable-pip-version-check", "--quiet"]

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-install-") as work:
        venv = Path(work) / "venv"
        python = venv / "bin" / "python"
        creation, _ = timed([sys.executable, "-m", "venv", venv])
        seconds, _ = timed([python, "-m", "pip", "install", *pip_quiet, "--no-index", "--no-deps", wheel])
        rows.append((f"pip install the wheel ({wheel.stat().st_size / 1e6:.1f} MB, local file)", seconds))
        seconds, _ = timed([python, "-m", "pip", "install", *pip_quiet, *cache, "--no-deps", *MSAL_PINNED])
        rows.append((f"pip install {MSAL} and its dependencies (PyPI{', no cache' if cache else ''})", seconds))
        # Away from the repository: nothing of it on the way, no cargo on PATH.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCK_SERVER_", "CARGO"))}
        env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
        seconds, done = timed([python, "-c", FIRST_TOKEN], env=env, cwd=work)
        inside = json.loads(done.stdout)
        rows.append(("python starts, the plugin starts the server (admin API answers)",
                     seconds - inside["token"]))
        rows.append(("MSAL imported, first token through the server", inside["token"]))
        total = sum(s for _, s in rows)
        rows.append(("total: empty environment to first token", total))
        rows.append(("python -m venv, making the empty environment (not in the total)", creation))
        rows.append(("total with the environment's creation", total + creation))

        if not options.skip_cargo:
            target = Path(work) / "cargo-target"
            env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
            seconds, _ = timed(["cargo", "build", "--release", "--locked", "--workspace", "--bins"], env=env, cwd=ROOT)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            rows.append((f"cargo build --release (both binaries, clean target dir, crates already downloaded; "
                         f"load average after: {load})", seconds))
            rows.append(("ratio: cargo build / wheel to first token", seconds / total))
            shutil.rmtree(target, ignore_errors=True)

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else platform.machine()
    print(f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, wheel {wheel.name}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:9.2f}{'x' if name.startswith('ratio') else ' s'}")


if __name__ == "__main__":
    main()
