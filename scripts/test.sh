#!/usr/bin/env bash
# Runs every check and test: formatting, clippy and the crates' layering (ARCHITECTURE.md) first,
# then the Rust unit and integration tests, then the Python suite that drives the providers'
# real client libraries (pinned in tests/python/requirements.txt) against the binary.
# Sets up the Python environment itself in .venv (git-ignored). Exit status: 0 when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "==> layering (no import circle, no import from a floor above: scripts/layers.py)"
python3 scripts/layers.py

echo "==> dependencies (the MQTT engine's console, exporter and config parsers stay out: vendor/README.md)"
for unwanted in axum@0.7 metrics-exporter-prometheus config; do
    if cargo tree --locked --workspace -e normal,build -i "$unwanted" >/dev/null 2>&1; then
        echo "error: $unwanted is in the build again (cargo tree -i $unwanted says through what)" >&2
        exit 1
    fi
done

echo "==> cargo build (the mock-server and conformance binaries the Python suite runs)"
cargo build --locked --workspace --bins

echo "==> package paths (every file the build reads is in its crate's package: scripts/package_paths.py)"
python3 scripts/package_paths.py

echo "==> cargo test"
cargo test --locked --workspace

echo "==> cargo test of the patched MQTT engine (vendor/rumqttd: its own unit tests, its own lock file)"
cargo test --locked --manifest-path vendor/rumqttd/Cargo.toml --lib --no-default-features --target-dir target/vendor

echo "==> Python environment (.venv)"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
    echo "$want" > "$stamp"
fi

# The container-image test (tests/python/test_container.py) builds the local image with podman and
# runs it under chroot, as root. Where this runs as root with apt-get and without podman (a fresh
# CI container), install podman: about 15 s. Elsewhere the test says why it skips.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v podman >/dev/null; then
    echo "==> apt-get install podman (for the container-image test)"
    apt-cache show podman >/dev/null 2>&1 || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
fi

# The web view's test (tests/python/test_web_view.py) drives the system's Chromium through
# Playwright. Installed the same way where possible (about 30 s); elsewhere the test skips.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v chromium >/dev/null; then
    echo "==> apt-get install chromium (for the web view's browser test)"
    apt-cache show chromium >/dev/null 2>&1 || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

echo "==> pytest (real client libraries against target/debug/mock-server)"
MOCK_SERVER_BIN="$PWD/target/debug/mock-server" .venv/bin/python -m pytest -q tests/python "$@"
