#!/usr/bin/env python3
"""Keeps the layers: tools -> control -> dataplane -> codecs -> base.

Reads every #include line of the project's sources and fails, naming the
file and line, when one reaches a layer it must not: upward or sideways
(codecs/ including dataplane/), into the tests from production code or the
benchmarks, or DPDK's rte_* headers outside the DPDK backend's own
sources (DPDK's headers bring -march and C++20 warnings, STYLE.md).
CMake enforces the same at compile time (cmake/layers.cmake); this check
names the offending line, and also covers headers no target compiles.
Run by ctest as layering.includes; exit status 1 on any violation.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

# What each folder may include, by the include path's first component.
LIBRARIES = ["base", "codecs", "dataplane", "control"]
ALLOWED = {
    "base": {"base"},
    "codecs": {"base", "codecs"},
    "dataplane": {"base", "codecs", "dataplane"},
    "control": {"base", "codecs", "dataplane", "control"},
    "tools": {"base", "codecs", "dataplane", "control"},
    "bench": {"base", "codecs", "dataplane", "control", "bench"},
}
# rte_*-free DPDK headers the layers above may name (configuration limits,
# the engine's rte_*-free API for the daemon and the bench).
DPDK_PUBLIC_TO = {
    "control": {"dataplane/dpdk/limits.h"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def violations(path: pathlib.Path, root: pathlib.Path = ROOT):
    rel = path.relative_to(root)
    top = rel.parts[0]
    in_dpdk = rel.parts[:2] == ("dataplane", "dpdk")
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        kind, target = m.groups()
        if kind == "<":
            if target.startswith("rte_") and not in_dpdk:
                yield n, target, "DPDK headers only in dataplane/dpdk/"
            continue
        if "/" not in target:
            continue  # a file beside this one
        layer = target.split("/")[0]
        if layer not in ALLOWED[top]:
            yield n, target, f"{top}/ may include only {', '.join(sorted(ALLOWED[top]))}"
        elif target.startswith("dataplane/dpdk/") and top not in ("dataplane", "tools", "bench"):
            if target not in DPDK_PUBLIC_TO.get(top, set()):
                yield n, target, f"{top}/ does not use the DPDK backend"
        elif target.startswith("dataplane/dpdk/") and top == "dataplane" and not in_dpdk:
            yield n, target, "the dataplane knows no backend: dataplane/dpdk/ includes it, not the reverse"


def check_tree(root: pathlib.Path) -> int:
    bad = 0
    for top in ALLOWED:
        for path in sorted((root / top).rglob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            for n, target, why in violations(path, root):
                print(f"{path.relative_to(root)}:{n}: includes \"{target}\": {why}")
                bad += 1
    return bad


def self_test() -> int:
    """The check finds each kind of violation in a made-up tree, and
    passes the allowed includes: proof it can fail."""
    import tempfile
    files = {
        "codecs/a.cc": '#include "codecs/g711.h"\n#include "dataplane/flow.h"\n',    # upward
        "dataplane/b.cc": '#include "base/result.h"\n#include "control/call.h"\n',   # upward
        "dataplane/c.cc": '#include "dataplane/dpdk/port.h"\n',                       # into a backend
        "control/d.cc": '#include <rte_mbuf.h>\n#include "dataplane/dpdk/limits.h"\n',  # rte_* outside
        "bench/e.cc": '#include "tests/control/fake_dataplane.h"\n#include "bench/raw_srtp.h"\n',
        "dataplane/dpdk/f.cc": '#include <rte_mbuf.h>\n#include "dataplane/flow.h"\n',  # allowed
        "tools/g.cc": '#include "control/config.h"\n#include "dataplane/dpdk/dpdk_engine.h"\n',  # allowed
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        found = check_tree(root)
    if found != 5:
        print(f"self-test: expected 5 violations, found {found}")
        return 1
    print("self-test: the check finds all 5 planted violations")
    return 0


def main() -> int:
    if "--self-test" in sys.argv:
        return self_test()
    bad = check_tree(ROOT)
    print(f"check_includes: {bad} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
