#!/usr/bin/env bash
# Builds the Python wheel into dist/ (docs/python.md): the mock-server and conformance binaries,
# release build, and the pytest plugin, one wheel for this platform (py3-none-<platform>).
# Needs the Rust toolchain and Python 3.11+ with pip; pip installs the build backend (setuptools
# and setuptools-rust, pinned in python/pyproject.toml) in an isolated build environment.
# PYTHON names another interpreter; CARGO_TARGET_DIR is honoured as by cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}

# A release build whatever the caller's environment says (the suite's test builds a dev one).
unset SETUPTOOLS_RUST_CARGO_PROFILE
mkdir -p dist
rm -f dist/data_platform_mock-*.whl
"$python" -m pip wheel --no-deps --disable-pip-version-check --wheel-dir dist ./python
ls -l dist/data_platform_mock-*.whl
