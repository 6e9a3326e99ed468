#!/usr/bin/env python3
"""Checks that each crate's package holds every file its compilation reads, without compiling
the packages again (`cargo package` verification does that, and takes minutes).

A crate builds from the workspace even when it reads a file outside its folder, but its package
does not: `cargo package` copies only the crate's own files. So, for every workspace package,
with the list of files `cargo package --list` gives:

- `include_str!`, `include_bytes!`, `include!` and `#[path = "..."]` in the packaged `.rs`
  files: a string literal resolves from the file's folder, `concat!(env!("CARGO_MANIFEST_DIR"),
  "...")` from the crate's, and the file must be in the package. `concat!(env!("OUT_DIR"), ...)`
  is the build script's output, checked below. Any other argument is reported, as it cannot be
  checked.
- The build script, as it last ran (`cargo build` runs it; this script asks cargo where its
  output is): every `rerun-if-changed` path it printed, and every path its generated `.rs` files
  include, must be in the package (a folder must hold files of the package).

Usage: scripts/package_paths.py   (builds what is stale first)   exit status 1 on a problem.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

INCLUDE = re.compile(r"\binclude(?:_str|_bytes)?!\s*\(")
LITERAL = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*\)')
FROM_MANIFEST_DIR = re.compile(
    r'\s*concat!\s*\(\s*env!\s*\(\s*"CARGO_MANIFEST_DIR"\s*\)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)\s*\)')
FROM_OUT_DIR = re.compile(r'\s*concat!\s*\(\s*env!\s*\(\s*"OUT_DIR"\s*\)')
PATH_ATTRIBUTE = re.compile(r'#\s*\[\s*path\s*=\s*"((?:[^"\\]|\\.)*)"\s*\]')
RERUN = re.compile(r"^cargo::?rerun-if-changed=(.*)$")
RAW_STRING = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"'(?:\\.[^']*|[^'\\])'")


def cargo(*args):
    done = subprocess.run(["cargo", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cargo {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def unescape(literal):
    return literal.encode().decode("unicode_escape")


def code_only(text):
    """`text` with comments and the contents of string and char literals blanked (same length,
    newlines kept), so a macro named in a comment or a string is not taken for a call."""
    out = list(text)
    i, n = 0, len(text)

    def blank(start, end):
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif (m := RAW_STRING.match(text, i)) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = '"' + m.group(1)
            end = text.find(close, m.end())
            end = n if end < 0 else end
            blank(m.end(), end)
            i = end + len(close)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'" and (m := CHAR.match(text, i)):
            blank(i + 1, m.end() - 1)
            i = m.end()
        else:
            i += 1
    return "".join(out)


class Package:
    def __init__(self, meta):
        self.name = meta["name"]
        self.id = meta["id"]
        self.dir = os.path.dirname(meta["manifest_path"])
        self.has_build_script = any("custom-build" in target["kind"] for target in meta["targets"])
        listed = cargo("package", "--list", "--allow-dirty", "--quiet", "-p", self.name).split()
        self.files = {os.path.normpath(f) for f in listed}
        self.folders = set()
        for f in self.files:
            parent = os.path.dirname(f)
            while parent:
                self.folders.add(parent)
                parent = os.path.dirname(parent)
        self.problems = []

    def relative(self, path):
        """`path` relative to the crate's folder, or None when it is outside."""
        rel = os.path.relpath(os.path.normpath(path), self.dir)
        return None if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel) else rel

    def require(self, path, where, folder_too=False):
        rel = self.relative(path)
        if rel is None:
            self.problems.append(f"{where}: {os.path.normpath(path)} is outside the crate's folder {self.dir}")
        elif rel not in self.files and not (folder_too and rel in self.folders):
            self.problems.append(f"{where}: {rel} is not in the package (cargo package --list -p "
                                 f"{self.name}); add it to `include` in {self.name}'s Cargo.toml")

    def check_includes(self, rel_file):
        path = os.path.join(self.dir, rel_file)
        text = open(path, encoding="utf-8").read()
        code = code_only(text)
        for m in INCLUDE.finditer(code):
            line = text.count("\n", 0, m.start()) + 1
            where = f"{self.name}: {rel_file}:{line}"
            rest = text[m.end():]
            if lit := LITERAL.match(rest):
                self.require(os.path.join(os.path.dirname(path), unescape(lit.group(1))), where)
            elif lit := FROM_MANIFEST_DIR.match(rest):
                self.require(self.dir + unescape(lit.group(1)), where)
            elif not FROM_OUT_DIR.match(rest):
                self.problems.append(f"{where}: cannot check this include's path: give a string literal, "
                                     'concat!(env!("CARGO_MANIFEST_DIR"), "...") or '
                                     'concat!(env!("OUT_DIR"), "...")')
        # The attribute's string is blanked in the code-only text: match the original there.
        for m in PATH_ATTRIBUTE.finditer(code):
            lit = PATH_ATTRIBUTE.match(text, m.start())
            line = text.count("\n", 0, m.start()) + 1
            where = f"{self.name}: {rel_file}:{line}"
            self.require(os.path.join(os.path.dirname(path), unescape(lit.group(1))), where)

    def check_build_script(self, out_dir):
        output = os.path.join(os.path.dirname(out_dir), "output")
        if not os.path.isfile(output):
            self.problems.append(f"{self.name}: the build script's output is not at {output}: "
                                 "cargo's layout changed; update scripts/package_paths.py")
            return
        for line in open(output, encoding="utf-8").read().splitlines():
            if m := RERUN.match(line):
                where = f"{self.name}: build script (rerun-if-changed)"
                self.require(os.path.join(self.dir, m.group(1)), where, folder_too=True)
        for folder, _, names in os.walk(out_dir):
            for name in sorted(n for n in names if n.endswith(".rs")):
                text = open(os.path.join(folder, name), encoding="utf-8").read()
                for m in INCLUDE.finditer(code_only(text)):
                    if lit := LITERAL.match(text[m.end():]):
                        path = unescape(lit.group(1))
                        self.require(os.path.join(folder, path), f"{self.name}: build script output {name}")


def main():
    meta = json.loads(cargo("metadata", "--no-deps", "--format-version", "1", "--locked"))
    packages = [Package(p) for p in meta["packages"] if p["id"] in meta["workspace_members"]]
    by_id = {p.id: p for p in packages}
    for p in packages:
        for rel_file in sorted(f for f in p.files if f.endswith(".rs")):
            p.check_includes(rel_file)
    # Where each build script's output is: cargo reports it (and builds only what is stale).
    with_build_script = set()
    build = cargo("build", "--locked", "--workspace", "--bins", "--message-format=json")
    for line in build.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "build-script-executed" and msg["package_id"] in by_id:
            by_id[msg["package_id"]].check_build_script(msg["out_dir"])
            with_build_script.add(msg["package_id"])
    for p in packages:
        if p.has_build_script and p.id not in with_build_script:
            p.problems.append(f"{p.name}: cargo reported no run of its build script")
    problems = [problem for p in packages for problem in p.problems]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s): built alone, as `cargo package` builds it, a package would miss "
              "these files")
        return 1
    print(f"package paths: {', '.join(f'{p.name} ({len(p.files)} files)' for p in packages)}: "
          "every file compilation reads is in its package")
    return 0


if __name__ == "__main__":
    sys.exit(main())
