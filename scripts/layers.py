#!/usr/bin/env python3
"""Holds the crates' shape: no import circle among a crate's files, and no file that imports
from a floor above its own (ARCHITECTURE.md, "Code map").

An import is any path a file names into its own crate: `use crate::a::b`, `super::x`,
`self::child::y`, a child module's name in a `mod.rs`, or a path through a name a `use` brought
in. It points at the file that defines the module the path ends in (the longest prefix that is a
file), so `crate::tls::CertAuthority` imports `tls/mod.rs`, which re-exports it. Comments, string
literals and `#[cfg(test)]` modules are ignored. Declaring a module (`mod x;`) is not an import.

Usage: scripts/layers.py [--edges]   exit status 1 when a rule is broken.
"""
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# Floors, from the top (where a request enters) down. A file may import only from its own floor
# (without a circle) or from a floor below. The first pattern a file matches gives its floor;
# a pattern ending in `/` matches every file in that folder.
FLOORS = {
    "mock-server/src": [
        ["main.rs", "lib.rs"],
        ["server/"],
        # The HTTP front door, in the order a request meets it (front/mod.rs), with the runs
        # registry and the assembly of a namespace where run selection and the door need them.
        ["front/mod.rs", "front/listener.rs"],
        ["front/connection.rs"],
        ["front/run_selection.rs"],
        ["admin/runs.rs"],
        ["runs.rs"],
        ["assembly.rs"],
        ["front/door.rs"],
        ["front/proxy.rs"],
        ["front/route.rs"],
        ["front/exchange.rs"],
        ["front/unread_body.rs"],
        ["front/fault.rs"],
        ["front/handler.rs"],
        ["front/deadlines.rs"],
        # What a request is handed to: a namespace's admin API, the MQTT gate beside it.
        ["admin/"],
        ["mqtt/"],
        # The registry, then the providers, which know only the floors below them.
        ["providers/mod.rs"],
        ["providers/"],
        ["contract/"],
        ["namespace.rs"],
        # Machinery that knows no request, no provider and no namespace.
        [
            "endpoints.rs",
            "journal/",
            "faults.rs",
            "fixtures/",
            "tls/",
            "tokens.rs",
            "spare_keys.rs",
            "clock.rs",
            "condition.rs",
            "outbox.rs",
            "wire.rs",
            "bounded.rs",
            "files.rs",
            "memory.rs",
        ],
    ],
    "conformance/src": [
        # The floors conformance/src/lib.rs documents too.
        ["main.rs", "lib.rs"],
        ["report.rs", "html_report.rs", "checks.rs"],
        ["runner.rs", "judge.rs", "results.rs", "target.rs", "client.rs", "expected.rs"],
        ["scenario/", "certificate.rs"],
        ["registry.rs"],
        ["providers/", "common_checks/"],
        ["contract/"],
    ],
}


def rust_files(src):
    files = {}
    for folder, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    files[os.path.relpath(path, src).replace(os.sep, "/")] = f.read()
    return files


def module_path(rel):
    parts = rel[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def code_only(text):
    """The text without comments, string and char literals, or the `#[cfg(test)]` module."""
    text = re.sub(r'r(#*)"(?:.|\n)*?"\1', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    text = re.sub(r"/\*(?:.|\n)*?\*/", "", text)
    text = re.sub(r"//[^\n]*", "", text)
    test = re.search(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{", text)
    return text[: test.start()] if test else text


def expand_use(tree):
    """`a::{b, c::{d, e as f}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = tree.strip()
    brace = tree.find("{")
    if brace == -1:
        return [tree.split(" as ")[0].strip()]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    items, current, depth = [], "", 0
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    out = []
    for item in filter(None, (i.strip() for i in items)):
        for sub in expand_use(item):
            out.append(prefix.rstrip(":") if sub == "self" else prefix + sub)
    return out


def imports(files):
    by_module = {module_path(rel): rel for rel in files}

    def resolve(parts):
        for n in range(len(parts), 0, -1):
            if tuple(parts[:n]) in by_module:
                return by_module[tuple(parts[:n])]
        return None

    edges = defaultdict(set)
    for rel, text in files.items():
        here = module_path(rel)
        code = code_only(text)
        declares = set(re.findall(r"\bmod\s+(\w+)\s*;", code))
        paths = [p for u in re.finditer(r"\buse\s+([^;]+);", code) for p in expand_use(u.group(1))]
        aliases = {}
        for p in paths:
            segs = [s for s in p.replace(" ", "").split("::") if s]
            if segs and segs[0] in ("crate", "super", "self") and segs[-1] != "*":
                aliases[segs[-1]] = segs
        for m in re.finditer(r"(?<![\w:])(\w+(?:::\w+)+)", code):
            segs = m.group(1).split("::")
            if segs[0] in ("crate", "super", "self"):
                paths.append(m.group(1))
            elif segs[0] in aliases:
                paths.append("::".join(aliases[segs[0]] + segs[1:]))
            elif segs[0] in declares:
                paths.append("::".join(["self"] + segs))
        for p in paths:
            segs = [s for s in p.replace(" ", "").split("::") if s and s != "*"]
            if not segs:
                continue
            if segs[0] == "crate":
                target = segs[1:]
            elif segs[0] in ("super", "self"):
                base = list(here)
                while segs and segs[0] in ("super", "self"):
                    if segs[0] == "super":
                        base = base[:-1]
                    segs = segs[1:]
                target = base + segs
            elif segs[0] in declares:
                target = list(here) + segs
            else:
                continue
            found = resolve(target)
            if found and found != rel:
                edges[rel].add(found)
    return edges


def circles(files, edges):
    """Strongly connected components with more than one file (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in sorted(files):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def floor_of(rel, floors):
    for number, patterns in enumerate(floors):
        for pattern in patterns:
            if rel == pattern or (pattern.endswith("/") and rel.startswith(pattern)):
                return number
    return None


def undocumented(floors):
    """Floor patterns that ARCHITECTURE.md does not name in backticks: its code map must show
    every floor this script enforces."""
    with open(os.path.join(ROOT, "ARCHITECTURE.md"), encoding="utf-8") as f:
        text = f.read()
    return [p for floor in floors for p in floor if f"`{p}`" not in text]


def main():
    show_edges = "--edges" in sys.argv
    broken = 0
    for crate, floors in FLOORS.items():
        for pattern in undocumented(floors):
            broken += 1
            print(f"{crate}/{pattern}: a floor that ARCHITECTURE.md's code map does not name")
        files = rust_files(os.path.join(ROOT, crate))
        edges = imports(files)
        for component in circles(files, edges):
            broken += 1
            print(f"{crate}: import circle among {len(component)} files: {', '.join(component)}")
        for rel in sorted(files):
            mine = floor_of(rel, floors)
            if floors and mine is None:
                broken += 1
                print(f"{crate}/{rel}: on no floor; add it to FLOORS in scripts/layers.py and to ARCHITECTURE.md")
                continue
            for target in sorted(edges[rel]):
                theirs = floor_of(target, floors)
                if mine is not None and theirs is not None and theirs < mine:
                    broken += 1
                    print(f"{crate}/{rel} imports {target}, a floor above it")
        if show_edges:
            for rel in sorted(edges):
                print(f"{crate}/{rel} -> {', '.join(sorted(edges[rel]))}")
        print(f"{crate}: {len(files)} files, {sum(len(e) for e in edges.values())} imports", file=sys.stderr)
    if broken:
        print(f"{broken} layering problem(s); see ARCHITECTURE.md, 'Code map'")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
