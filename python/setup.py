"""The Rust half of the wheel: setuptools-rust builds the two binaries with cargo and puts them in
the wheel's scripts, which pip installs on the environment's PATH. Everything else is in
pyproject.toml.

The crates are named by manifest path and binary name only, never by package name.
SETUPTOOLS_RUST_CARGO_PROFILE=dev builds them unoptimised (the suite's test does, reusing the
debug build); the default is a release build.
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools_rust import RustBin, Strip

if sys.version_info < (3, 11):
    sys.exit("building the wheel needs Python 3.11 or later (tomllib); installing it needs 3.9")
import tomllib

ROOT = Path(__file__).resolve().parent.parent
MOCK_SERVER = ROOT / "mock-server" / "Cargo.toml"
CONFORMANCE = ROOT / "conformance" / "Cargo.toml"


class PlatformWheel(bdist_wheel):
    """The binaries depend on the platform, not on the Python version: `py3-none-<platform>`."""

    def get_tag(self):
        return "py3", "none", super().get_tag()[2]


def version() -> str:
    return tomllib.loads(MOCK_SERVER.read_text())["package"]["version"]


# A dev build keeps its debug info unless stripped (-S); a release build has none, so drop local
# symbols too (-x).
strip = Strip.Debug if os.environ.get("SETUPTOOLS_RUST_CARGO_PROFILE") == "dev" else Strip.All

setup(
    version=version(),
    rust_extensions=[
        RustBin("mock-server", path=str(MOCK_SERVER), cargo_manifest_args=["--locked"], strip=strip),
        RustBin("conformance", path=str(CONFORMANCE), cargo_manifest_args=["--locked"], strip=strip),
    ],
    cmdclass={"bdist_wheel": PlatformWheel},
    zip_safe=False,
)
