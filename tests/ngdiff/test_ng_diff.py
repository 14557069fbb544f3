#!/usr/bin/env python3
"""Differential NG test: voxrelay against rtpengine (issue 16).

Starts voxrelay (from --build-dir) and Debian's rtpengine once each, on
127.0.0.1 with the same interfaces and options but their own NG port and
media port range, sends every case of cases.py to both (each case with its
own call-ids, deleted afterwards), normalises the replies (normalise.py: the
rules are in its docstring) and compares them. Every difference must be
listed in differences.toml (kind ``intended``, ``defect`` or ``rtpengine``);
an unlisted difference fails its case, and a listed difference that no
longer occurs fails the run (a stale entry). Exit 0 = pass.

    /usr/bin/python3 tests/ngdiff/test_ng_diff.py --build-dir build [-v] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
import vox  # noqa: E402
import cases as case_table  # noqa: E402
from normalise import Difference, Normaliser, diff_replies, glob_match  # noqa: E402

DIFFERENCES = HERE / "differences.toml"
INTERFACES = ["127.0.0.1", "::1", "int/127.0.0.2", "ext/127.0.0.3"]
PORTS = {"voxrelay": (44000, 44999), "rtpengine": (46000, 46999)}
COMMON_ARGS = ["--delete-delay=0"]
EXTRA_ARGS = {"voxrelay": [], "rtpengine": ["--config-file=none"]}   # not Debian's /etc config
KINDS = ("intended", "defect", "rtpengine")
WHOLE_RUN_LIMIT_S = 60.0


# ---------------------------------------------------------------------------
# differences.toml


@dataclass
class Entry:
    case: str
    path: str
    detail: str
    kind: str
    reason: str
    theme: str
    index: int
    hits: int = 0

    @property
    def exact_case(self) -> bool:
        return "*" not in self.case and "?" not in self.case


def load_entries(names: set) -> list:
    with open(DIFFERENCES, "rb") as f:
        doc = tomllib.load(f)
    out = []
    problems = []
    for i, e in enumerate(doc.get("difference", [])):
        where = f"differences.toml entry {i + 1} ({e.get('case')!r}, {e.get('path')!r})"
        for k in ("path", "kind", "reason"):
            if not isinstance(e.get(k), str) or not e[k]:
                problems.append(f"{where}: '{k}' missing")
        case_list = e.get("case")
        if isinstance(case_list, str):
            case_list = [case_list]
        if not isinstance(case_list, list) or not case_list or \
                not all(isinstance(c, str) and c for c in case_list):
            problems.append(f"{where}: 'case' must be a case name, a pattern or a list of them")
            case_list = []
        if e.get("kind") not in KINDS:
            problems.append(f"{where}: kind must be one of {KINDS}")
        extra = set(e) - {"case", "path", "detail", "kind", "reason", "theme"}
        if extra:
            problems.append(f"{where}: unknown fields {sorted(extra)}")
        for c in case_list:  # a list: one entry per case, each must keep occurring
            entry = Entry(c, e.get("path", ""), e.get("detail", "*"), e.get("kind", ""),
                          e.get("reason", ""), e.get("theme", ""), i)
            if entry.exact_case and entry.case not in names:
                problems.append(f"{where}: no case is named {entry.case!r}")
            elif not entry.exact_case and not any(glob_match(entry.case, n) for n in names):
                problems.append(f"{where}: the case pattern {entry.case!r} matches no case")
            out.append(entry)
    extra_tables = set(doc) - {"difference"}
    if extra_tables:
        problems.append(f"differences.toml: unknown tables {sorted(extra_tables)}")
    if problems:
        raise SystemExit("\n".join(problems))
    return out


def match(entries: list, case: str, diff: Difference):
    """The entry that accepts ``diff``: one naming the case exactly wins over
    a case pattern; among equals, the first in the file."""
    best = None
    for e in entries:
        if not (glob_match(e.case, case) and glob_match(e.path, diff.path) and
                glob_match(e.detail, diff.detail)):
            continue
        if best is None or (e.exact_case and not best.exact_case):
            best = e
            if e.exact_case:
                break
    return best


# ---------------------------------------------------------------------------
# running a case against one daemon


def substitute(v, ids: dict):
    if isinstance(v, str):
        for k, x in ids.items():
            v = v.replace(k, x)
        return v
    if isinstance(v, bytes):
        for k, x in ids.items():
            v = v.replace(k.encode(), x.encode())
        return v
    if isinstance(v, dict):
        return {substitute(k, ids): substitute(x, ids) for k, x in v.items()}
    if isinstance(v, list):
        return [substitute(x, ids) for x in v]
    return v


def command_of(msg) -> str:
    if isinstance(msg, case_table.Json):
        msg = msg.msg
    if isinstance(msg, dict):
        c = msg.get("command")
        return c if isinstance(c, str) else "?"
    if isinstance(msg, case_table.Repeat):
        return "repeat"
    return "raw"


def parse_reply(data, cookie: bytes):
    if data is None:
        return "<no reply>"
    if not data.startswith(cookie + b" "):
        return f"<reply with another cookie: {data[:60]!r}>"
    rest = data[len(cookie) + 1:]
    try:
        if rest[:1] == b"{":
            return json.loads(rest)
        return vox.bdecode(rest)
    except (ValueError, vox.BencodeError):
        return f"<undecodable reply: {rest[:80]!r}>"


def run_case(relay: vox.Relay, case, ids: dict) -> list:
    """Send the case's messages; the raw replies (dict, or a string saying
    what came instead)."""
    ng = relay.ng
    replies = []
    last = None
    for msg in case.msgs:
        if isinstance(msg, case_table.Repeat):
            datagram, cookie = last
        else:
            cookie = ng.new_cookie()
            if isinstance(msg, case_table.Json):
                body = json.dumps(substitute(msg.msg, ids)).encode()
            elif isinstance(msg, case_table.Raw):
                body = substitute(msg.data, ids)
            else:
                body = vox.bencode(substitute(msg, ids))
            datagram = cookie + b" " + body if not isinstance(msg, case_table.Raw) or msg.cookie else body
            last = (datagram, cookie)
        raw = isinstance(msg, case_table.Raw)
        data = ng.exchange(datagram, cookie, timeout=0.5 if raw else 1.0, retries=0 if raw else 2)
        replies.append(parse_reply(data, cookie))
    for cid in ids.values():  # clean up, not compared
        try:
            ng.call({"command": "delete", "call-id": cid, "delete delay": 0}, timeout=1.0, retries=2)
        except vox.NgTimeout:
            pass
    return replies


def request_sdps(case, ids: dict) -> list:
    out = []
    for msg in case.msgs:
        m = msg.msg if isinstance(msg, case_table.Json) else msg
        if isinstance(m, dict) and isinstance(m.get("sdp"), str):
            out.append(substitute(m["sdp"], ids))
    return out


# ---------------------------------------------------------------------------
# report


def show(v, indent: str = "      ") -> str:
    if isinstance(v, dict) and isinstance(v.get("sdp"), list):
        rest = {k: x for k, x in v.items() if k != "sdp"}
        lines = [f"{indent}{rest}"] + [f"{indent}  {i + 1:2d}  {l}" for i, l in enumerate(v["sdp"])]
        return "\n".join(lines)
    return f"{indent}{v}"


@dataclass
class Outcome:
    name: str
    accepted: list = field(default_factory=list)    # (Difference, Entry)
    unlisted: list = field(default_factory=list)    # Difference
    text: str = ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("VOX_BUILD_DIR", str(vox.REPO_ROOT / "build")))
    ap.add_argument("--only", action="append", default=[],
                    help="run only the cases whose name contains this (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every normalised reply pair and every accepted difference")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--suggest", action="store_true",
                    help="at the end, print a differences.toml stub for every unlisted difference")
    args = ap.parse_args()

    cases = case_table.CASES
    names = [c.name for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        print(f"duplicate case names: {dup}")
        return 2
    if args.list:
        for c in cases:
            print(f"{c.name:36s} {c.desc}")
        print(f"{len(cases)} cases")
        return 0
    entries = load_entries(set(names))
    selected = [c for c in cases if not args.only or any(o in c.name for o in args.only)]
    if not selected:
        print(f"no case matches {args.only}")
        return 2

    t0 = time.monotonic()
    run_id = secrets.token_hex(4)
    build = Path(args.build_dir).resolve()
    outcomes = []
    leftover: dict = {}
    try:
        with vox.Relay(build, impl="rtpengine", port_min=PORTS["rtpengine"][0], port_max=PORTS["rtpengine"][1],
                       extra_args=COMMON_ARGS + EXTRA_ARGS["rtpengine"], interfaces=INTERFACES,
                       verbose=args.verbose) as rtpe, \
             vox.Relay(build, impl="voxrelay", port_min=PORTS["voxrelay"][0], port_max=PORTS["voxrelay"][1],
                       extra_args=COMMON_ARGS + EXTRA_ARGS["voxrelay"], interfaces=INTERFACES,
                       verbose=args.verbose) as voxr:
            for n, case in enumerate(selected):
                ids = {case_table.CID: f"ngdiff-{run_id}-{n}-{case.name}",
                       case_table.CID2: f"ngdiff-{run_id}-{n}-{case.name}-2"}
                raw_r = run_case(rtpe, case, ids)
                raw_v = run_case(voxr, case, ids)
                sdps = request_sdps(case, ids)
                nr = Normaliser(PORTS["rtpengine"], run_id, sdps)
                nv = Normaliser(PORTS["voxrelay"], run_id, sdps)
                out = Outcome(case.name)
                text = []
                cmd = "?"
                for i, (msg, r, v) in enumerate(zip(case.msgs, raw_r, raw_v), 1):
                    if not isinstance(msg, case_table.Repeat):  # a retransmission: as the original
                        cmd, request = command_of(msg), msg.msg if isinstance(msg, case_table.Json) else msg
                    rn, vn = nr.reply(r, cmd, request), nv.reply(v, cmd, request)
                    diffs = diff_replies(f"{i} {cmd}: ", rn, vn)
                    if args.verbose or diffs:
                        text.append(f"    message {i} ({cmd})\n      rtpengine:\n{show(rn, '        ')}\n"
                                    f"      voxrelay:\n{show(vn, '        ')}")
                    for d in diffs:
                        e = match(entries, case.name, d)
                        if e is None:
                            out.unlisted.append(d)
                        else:
                            e.hits += 1
                            out.accepted.append((d, e))
                out.text = "\n".join(text)
                outcomes.append(out)
                if out.unlisted:
                    print(f"FAIL  {case.name}: {case.desc}", flush=True)
                    for d in out.unlisted:
                        print(f"      unlisted difference  {d.path}\n          {d.detail}")
                    print(out.text, flush=True)
                else:
                    print(f"ok    {case.name}" + (f"  ({len(out.accepted)} listed differences)"
                                                  if out.accepted else ""), flush=True)
                    if args.verbose:
                        for d, e in out.accepted:
                            print(f"      {e.kind:9s} {d.path}\n          {d.detail}")
                        print(out.text)
                if not rtpe.alive() or not voxr.alive():
                    dead = "rtpengine" if not rtpe.alive() else "voxrelay"
                    print(f"FAIL  {dead} died during case {case.name}")
                    outcomes[-1].unlisted.append(Difference("daemon", f"{dead} died"))
                    break
            # every case deleted its calls: nothing may be left in either daemon
            leftover = {}
            for name, relay in (("rtpengine", rtpe), ("voxrelay", voxr)):
                try:
                    calls = relay.ng.call({"command": "list", "limit": 1000}).get("calls", [])
                except vox.NgTimeout:
                    calls = ["<no reply to list>"]
                if calls:
                    leftover[name] = calls
    except vox.RelayError as e:
        print(f"FAIL  starting the daemons: {e}")
        return 1

    # stale entries: an entry naming a case that ran must have matched; a case
    # pattern is checked only when every case ran
    ran = {o.name for o in outcomes}
    full = len(selected) == len(cases) and len(outcomes) == len(cases)
    stale = [e for e in entries if e.hits == 0 and
             ((e.exact_case and e.case in ran) or (not e.exact_case and full))]
    elapsed = time.monotonic() - t0

    failed = [o for o in outcomes if o.unlisted]
    by_kind: dict = {}
    for o in outcomes:
        for _, e in o.accepted:
            by_kind[e.kind] = by_kind.get(e.kind, 0) + 1
    print(f"\nNG differential test, voxrelay against rtpengine: {len(outcomes)} cases, "
          f"{len(failed)} with unlisted differences, {len(stale)} stale entries, {elapsed:.1f} s")
    print("listed differences seen: " + (", ".join(f"{k} {v}" for k, v in sorted(by_kind.items())) or "none"))
    defects = [e for e in entries if e.kind == "defect" and e.hits]
    if defects:
        print(f"defect entries still occurring: {len({e.index for e in defects})}, in "
              f"{len({e.case for e in defects})} cases")
    for o in failed:
        print(f"FAIL  {o.name}: {len(o.unlisted)} unlisted: " + "; ".join(d.path for d in o.unlisted[:6])
              + (" ..." if len(o.unlisted) > 6 else ""))
    for e in stale:
        print(f"FAIL  stale entry {e.index + 1} in differences.toml (no longer occurs): case {e.case!r}, "
              f"path {e.path!r}, "
              f"detail {e.detail!r} "
              f"({e.kind}: {e.reason})")
    if args.suggest and failed:
        print("\n# --- stubs for the unlisted differences (fill in kind and reason) ---")
        for o in failed:
            for d in o.unlisted:
                detail = d.detail.replace("\\", "\\\\").replace('"', '\\"')
                print(f'[[difference]]\ncase = "{o.name}"\npath = "{d.path}"\ndetail = "{detail}"\n'
                      f'kind = "?"\nreason = "?"\n')
    if not full:
        print("(partial run: entries with a case pattern were not checked for staleness)")
    if elapsed > WHOLE_RUN_LIMIT_S:
        print(f"FAIL  the run took {elapsed:.1f} s (limit {WHOLE_RUN_LIMIT_S:.0f} s)")
    for name, calls in leftover.items():
        print(f"FAIL  {name} still has calls after the run (a case did not delete its calls): {calls[:5]}")
    ok = not failed and not stale and not leftover and elapsed <= WHOLE_RUN_LIMIT_S
    print("PASS" if ok else "FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
