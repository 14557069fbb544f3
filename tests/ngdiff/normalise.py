"""Normalisation and comparison of NG replies for the differential test.

Two relays given the same requests answer with values that are theirs alone
(ports, keys, times). Those are replaced by placeholders before comparing;
everything else is compared as it is: ``result``, ``error-reason`` and
``warning`` wording, which keys exist, SDP line order, attribute presence,
codec lists, ``m=`` protocols, ``a=rtcp``, ``a=sendrecv``...

Rules (each daemon's replies are normalised on their own, per case; "the
requests" are the SDP bodies this case sent, and a value that occurs in them
was copied by the relay, so it is kept):

R1  Call-ids. Every call-id this run sends contains the run's random id,
    which is replaced by ``RUN`` in every string of every reply.
R2  Relay ports. Any number inside the daemon's media port range, in a
    dictionary value (``local port``) or in SDP text (``m=`` ports,
    ``a=rtcp``, candidates), becomes ``PORT<n>``, numbered in order of first
    appearance within the case; a port is named by its number and the
    address it is on (the section's ``c=``, the candidate's address, the
    stream's ``local address``: rtpengine gives the two sides of a
    ``direction`` call the same number on two addresses), and the port right
    after ``PORT<n>`` on the same address becomes ``PORT<n>+1`` (its RTCP).
    Dictionaries are walked in sorted key order, so the same allocation
    shape compares equal whatever numbers were picked. A candidate's port
    that no m=/a=rtcp line named already (rtpengine's candidates on its
    other addresses) is numbered apart, ``CAND-PORT<n>``, so it does not
    shift the numbering of the ports that follow. Port 0 (a rejected
    stream) and the parties' own ports are left alone.
R3  Relay addresses need nothing: both daemons listen on the same
    addresses (127.0.0.1, ::1, 127.0.0.2, 127.0.0.3).
R4  SDP lines copied verbatim from one of the case's request SDPs are kept
    as they are. The rules below apply to the other lines, the ones the
    relay wrote.
R5  ``o=``: a session id or version that is not in the requests becomes
    ``SESS-ID<n>`` / ``SESS-VER<n>`` (numbered per case in order of first
    appearance, so an increment still shows); the user name and the
    address are kept.
R6  SRTP keys: ``a=crypto`` key parameters not copied from the requests
    become ``inline:KEY`` (followed by the key's base64 padding ``=``, which
    SDES ``pad`` is about); the tag, the suite, ``|lifetime``, ``|MKI`` and
    the session parameters are kept.
R7  ICE: ``a=ice-ufrag`` and ``a=ice-pwd`` values become ``UFRAG`` / ``PWD``;
    in ``a=candidate`` lines the foundation and the priority become ``F`` /
    ``PRIO`` (component, transport, address, port (R2), type and the rest
    are kept).
R8  DTLS: the ``a=fingerprint`` value becomes ``FINGERPRINT`` (the hash name
    is kept); an ``a=tls-id`` value becomes ``TLS-ID``.
R9  SSRCs: ``a=ssrc`` / ``a=ssrc-group`` numbers become ``SSRC``; the keys of
    a reply's ``SSRC`` dictionary become ``SSRC``.
R10 Times: the values of ``created``, ``created_us``, ``last signal``,
    ``last packet``, ``last redis update`` and ``uptime`` become ``TIME``.
R11 Tags a relay generates: the value of ``a=rtpengine`` (loop protection)
    becomes ``TAG``.
R12 ``statistics``: every number in the reply (integers and numeric
    strings) becomes ``N``. The counters are global to a daemon, so they
    depend on every case that ran before (and on ``--only``); which keys
    exist is still compared.
R13 ``list``: the call-ids are sorted (the order is not specified: voxrelay
    walks a hash table, so its order changes with the run's call-ids); when
    the request had a ``limit``, which calls were kept is not specified
    either, so each becomes ``CALL`` (how many is still compared).
R14 SDP lines are split at LF and a CR before it is dropped; an SDP with
    lines that end in LF alone gets a last pseudo-line
    ``<line ends: LF only on N of M lines>``, so line ends are compared too.

Comparison: the two normalised replies are compared as whole dictionaries.
A difference is a path, prefixed with the message (``2 answer: ``), and a
detail saying what differs:

- ``result``, ``error-reason``, ``warning``, ``message``: these top-level
  keys (detail ``changed: rtpengine X / voxrelay Y``). When ``result``
  differs, that is the only difference reported for the reply (the rest of
  it follows from it); the detail shows both results and reasons.
- ``sdp: line N``: line N (1-based) of rtpengine's SDP, with detail
  ``changed: rtpengine 'L1' / voxrelay 'L2'`` (voxrelay has another line of
  the same kind there: same attribute, same payload type, same crypto
  suite...), ``missing: rtpengine 'L' / not in voxrelay``, or ``moved: 'L'
  (rtpengine line N, voxrelay line M)`` (the same line elsewhere in the same
  section); ``sdp: extra line after N``, detail ``extra: voxrelay 'L' / not
  in rtpengine``. The SDPs are aligned with difflib first, so one missing
  line does not make every later line differ.
- ``key a.b[2].c``: any other key, by its path (list items by index):
  ``only rtpengine: V``, ``only voxrelay: V`` or ``changed: ...``.
- ``reply``: one daemon sent no reply, or one that is not a dictionary.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

TIME_KEYS = {"created", "created_us", "last signal", "last packet", "last redis update", "uptime"}
TOP_LEVEL = ("result", "error-reason", "warning", "message")


@dataclass(frozen=True)
class Difference:
    path: str          # what differs, e.g. "2 answer: sdp: line 7"
    detail: str        # both sides, for the report


class Normaliser:
    """Per daemon and case: the port and token numbering of R2/R5."""

    def __init__(self, port_range: tuple, run_id: str, request_sdps: Iterable[str]):
        self.lo, self.hi = port_range
        self.run_id = run_id
        self.ports: dict = {}
        self.counts: dict = {}
        self.tokens: dict = {}
        self.request_lines: set = set()
        self.request_words: set = set()
        for sdp in request_sdps:
            for line in sdp.replace("\r\n", "\n").split("\n"):
                self.request_lines.add(line)
                self.request_words.update(re.split(r"[\s:|/]+", line))

    # R2: a port is named by the address it is on and its number
    def port(self, n: int, addr: Optional[str] = None, prefix: str = "PORT") -> str:
        key = (addr, n)
        if key in self.ports:
            return self.ports[key]
        prev = self.ports.get((addr, n - 1))
        if prev is not None and not prev.endswith("+1"):
            name = prev + "+1"
        else:
            self.counts[prefix] = self.counts.get(prefix, 0) + 1
            name = f"{prefix}{self.counts[prefix]}"
        self.ports[key] = name
        return name

    def in_range(self, n: int) -> bool:
        return self.lo <= n <= self.hi

    def token(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self.tokens:
            self.tokens[key] = f"{kind}{1 + sum(1 for k in self.tokens if k[0] == kind)}"
        return self.tokens[key]

    def ports_in_text(self, text: str, addr: Optional[str], prefix: str = "PORT") -> str:
        return re.sub(r"(?<![\d.A-Za-z])(\d{4,5})(?![\d.A-Za-z])",
                      lambda m: self.port(int(m.group(1)), addr, prefix) if self.in_range(int(m.group(1)))
                      else m.group(1), text)

    # R4-R11 on one SDP line; ``addr``: the connection address of its section
    def sdp_line(self, line: str, addr: Optional[str]) -> str:
        if line in self.request_lines:
            return line
        if line.startswith("o="):
            f = line[2:].split(" ")
            if len(f) >= 6:
                if f[1] not in self.request_words:
                    f[1] = self.token("SESS-ID", f[1])
                if f[2] not in self.request_words:
                    f[2] = self.token("SESS-VER", f[2])
                return "o=" + " ".join(f)
            return line
        if line.startswith("a=crypto:"):
            def key(m):
                k = m.group(1)
                pad = len(k) - len(k.rstrip("="))
                return m.group(0) if k in self.request_words else "inline:KEY" + "=" * pad
            return re.sub(r"inline:([A-Za-z0-9+/=]+)", key, line)
        if line.startswith("a=ice-ufrag:"):
            return "a=ice-ufrag:UFRAG"
        if line.startswith("a=ice-pwd:"):
            return "a=ice-pwd:PWD"
        if line.startswith("a=candidate:"):
            f = line[len("a=candidate:"):].split(" ")
            if len(f) >= 6:
                f[0] = "F"
                f[3] = "PRIO"
                cand_addr = f[4]
                f[5] = self.ports_in_text(f[5], cand_addr, "CAND-PORT")
                # raddr/rport (relay candidates) name the relay's own port
                for k in range(6, len(f) - 1):
                    if f[k] == "rport" and k >= 2:
                        raddr = f[k - 2] if f[k - 3] == "raddr" else cand_addr
                        f[k + 1] = self.ports_in_text(f[k + 1], raddr, "CAND-PORT")
                line = "a=candidate:" + " ".join(f)
            return line
        if line.startswith("a=fingerprint:"):
            f = line.split(" ", 1)
            return f[0] + " FINGERPRINT" if len(f) == 2 else line
        if line.startswith("a=tls-id:"):
            return "a=tls-id:TLS-ID"
        if line.startswith("a=rtpengine:"):
            return "a=rtpengine:TAG"
        if line.startswith(("a=ssrc:", "a=ssrc-group:")):
            return re.sub(r"(?<![\w])\d{3,10}(?![\w])", "SSRC", line)
        if line.startswith("a=rtcp:"):
            f = line.split(" ")
            if len(f) >= 4:  # a=rtcp:PORT IN IP4 ADDR
                addr = f[3]
            return self.ports_in_text(line, addr)
        if line.startswith("m="):
            return self.ports_in_text(line, addr)
        return line

    def sdp(self, text: str) -> list:
        text = text.replace(self.run_id, "RUN")
        raw = text.split("\n")
        if raw and raw[-1] == "":
            raw.pop()
        lines = [l[:-1] if l.endswith("\r") else l for l in raw]
        lf = [i + 1 for i, l in enumerate(raw) if not l.endswith("\r")]
        # the connection address of each line's section (a media c= wins)
        addrs, session, media = [], None, None
        sections: list = []
        for l in lines:
            if l.startswith("m="):
                sections.append([])
            (sections[-1] if sections else addrs).append(l)
        for l in addrs:
            if l.startswith("c="):
                session = l.split(" ")[-1]
        out = [self.sdp_line(l, session) for l in addrs]
        for sec in sections:
            media = next((l.split(" ")[-1] for l in sec if l.startswith("c=")), session)
            out.extend(self.sdp_line(l, media) for l in sec)
        if lf:
            out.append(f"<line ends: LF only on {len(lf)} of {len(raw)} lines>")
        return out

    def value(self, v: Any, key: Optional[str] = None, stats: bool = False,
              addr: Optional[str] = None) -> Any:
        if isinstance(v, dict):
            out = {}
            local = v.get("local address") if isinstance(v.get("local address"), str) else None
            for k in sorted(v):
                nk = k.replace(self.run_id, "RUN")
                if key == "SSRC" and re.fullmatch(r"\d+", k):
                    nk = "SSRC"
                out[nk] = self.value(v[k], k, stats, local if k == "local port" else None)
            return out
        if isinstance(v, list):
            return [self.value(x, key, stats) for x in v]
        if key in TIME_KEYS:
            return "TIME"
        if stats and (isinstance(v, (int, float)) or
                      (isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v))):
            return "N"
        if isinstance(v, int) and not isinstance(v, bool):
            return self.port(v, addr) if self.in_range(v) and key != "index" else v
        if isinstance(v, str):
            if key == "sdp":
                return self.sdp(v)
            return v.replace(self.run_id, "RUN")
        return v

    def reply(self, reply: Any, command: str, request: Any = None) -> Any:
        if not isinstance(reply, dict):
            return reply
        out = self.value(reply, None, stats=(command == "statistics"))
        if command == "list" and isinstance(out.get("calls"), list):
            # R13: the order is not specified, and what a limit keeps neither
            calls = sorted(out["calls"], key=str)
            limited = isinstance(request, dict) and "limit" in request
            out["calls"] = ["CALL"] * len(calls) if limited else calls
        return out


def _short(v: Any, n: int = 160) -> str:
    s = repr(v)
    return s if len(s) <= n else s[:n - 3] + "..."


def _kind(line: str) -> tuple:
    """What a line is about, for pairing changed lines: the attribute name,
    and for a=rtpmap/a=fmtp/a=rtcp-fb the payload type, for a=crypto the
    suite, for a=candidate the component and address, for m= the media."""
    if line.startswith("a="):
        name, _, value = line.partition(":")
        f = value.split(" ")
        if name in ("a=rtpmap", "a=fmtp", "a=rtcp-fb"):
            return (name, f[0])
        if name == "a=crypto" and len(f) > 1:
            return (name, f[1])
        if name == "a=candidate" and len(f) > 4:
            return (name, f[1], f[4])
        return (name,)
    if line.startswith("m="):
        return ("m", line[2:].split(" ")[0])
    return (line[:1],)


def diff_sdp(prefix: str, r: list, v: list) -> list:
    """SDP line differences. The lines are aligned (difflib); within a block
    that differs, a line of rtpengine's is paired with the most similar
    voxrelay line of the same kind (see _kind: ``a=rtpmap:8`` with
    ``a=rtpmap:8``, a crypto line with one of the same suite) as "changed";
    the rest are
    "missing" (only rtpengine) or "extra" (only voxrelay); a missing line
    that voxrelay has elsewhere in the same section (session or the same
    m= section) is one "moved" difference instead."""
    missing, extra, changed = [], [], []       # (rtpengine index | after index, line)
    sm = difflib.SequenceMatcher(a=r, b=v, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        free = list(range(j1, j2))
        for i in range(i1, i2):
            best, score = None, 0.0
            for j in free:
                if _kind(v[j]) != _kind(r[i]):
                    continue
                s = difflib.SequenceMatcher(a=r[i], b=v[j], autojunk=False).ratio()
                if s > score:
                    best, score = j, s
            if best is None:
                missing.append((i, r[i]))
            else:
                free.remove(best)
                changed.append((i, r[i], v[best]))
        for j in free:
            extra.append((i2, j, v[j]))
    def section(lines: list, i: int) -> int:
        return sum(1 for l in lines[:i + 1] if l.startswith("m="))

    out = []
    moved_extra = set()
    # a line of one kind missing here and extra there, in the same section,
    # is one changed line (difflib put them in different blocks)
    still_missing = []
    for i, line in missing:
        k = next((k for k, e in enumerate(extra) if e[2] != line and k not in moved_extra
                  and _kind(e[2]) == _kind(line) and section(v, e[1]) == section(r, i)
                  and not any(m[1] == e[2] for m in missing)), None)
        if k is None:
            still_missing.append((i, line))
        else:
            moved_extra.add(k)
            changed.append((i, line, extra[k][2]))
    missing = still_missing
    for i, line in missing:
        k = next((k for k, e in enumerate(extra) if e[2] == line and k not in moved_extra
                  and section(v, e[1]) == section(r, i)), None)
        if k is not None:
            moved_extra.add(k)
            out.append((i, Difference(f"{prefix}sdp: line {i + 1}",
                                      f"moved: {line!r} (rtpengine line {i + 1}, voxrelay line "
                                      f"{extra[k][1] + 1})")))
        else:
            out.append((i, Difference(f"{prefix}sdp: line {i + 1}",
                                      f"missing: rtpengine {line!r} / not in voxrelay")))
    for i, a, b in changed:
        out.append((i, Difference(f"{prefix}sdp: line {i + 1}", f"changed: rtpengine {a!r} / voxrelay {b!r}")))
    for k, (after, j, line) in enumerate(extra):
        if k in moved_extra:
            continue
        out.append((after - 0.5, Difference(f"{prefix}sdp: extra line after {after}",
                                            f"extra: voxrelay {line!r} / not in rtpengine")))
    return [d for _, d in sorted(out, key=lambda x: x[0])]


def _diff_value(prefix: str, path: str, r: Any, v: Any, out: list) -> None:
    if isinstance(r, dict) and isinstance(v, dict):
        for k in sorted(set(r) | set(v)):
            p = f"{path}.{k}" if path else k
            if k not in v:
                out.append(Difference(f"{prefix}key {p}", f"only rtpengine: {_short(r[k])}"))
            elif k not in r:
                out.append(Difference(f"{prefix}key {p}", f"only voxrelay: {_short(v[k])}"))
            else:
                _diff_value(prefix, p, r[k], v[k], out)
        return
    if isinstance(r, list) and isinstance(v, list) and not (path.endswith("sdp") and path.count(".") == 0):
        for i in range(max(len(r), len(v))):
            p = f"{path}[{i}]"
            if i >= len(v):
                out.append(Difference(f"{prefix}key {p}", f"only rtpengine: {_short(r[i])}"))
            elif i >= len(r):
                out.append(Difference(f"{prefix}key {p}", f"only voxrelay: {_short(v[i])}"))
            else:
                _diff_value(prefix, p, r[i], v[i], out)
        return
    if r != v:
        out.append(Difference(f"{prefix}key {path}", f"changed: rtpengine {_short(r)} / voxrelay {_short(v)}"))


def diff_replies(prefix: str, r: Any, v: Any) -> list:
    """Differences between rtpengine's normalised reply ``r`` and voxrelay's
    ``v``; ``prefix`` names the message (``"2 answer: "``)."""
    if not isinstance(r, dict) or not isinstance(v, dict):
        return [] if r == v else [Difference(f"{prefix}reply",
                                             f"changed: rtpengine {_short(r)} / voxrelay {_short(v)}")]
    if r.get("result") != v.get("result"):
        def brief(d):
            return {k: d[k] for k in ("result", "error-reason", "warning", "message") if k in d}
        return [Difference(f"{prefix}result", f"changed: rtpengine {brief(r)} / voxrelay {brief(v)}")]
    out: list = []
    for k in sorted(set(r) | set(v)):
        if k in TOP_LEVEL:
            if r.get(k) != v.get(k):
                out.append(Difference(f"{prefix}{k}", f"changed: rtpengine {_short(r.get(k))} / "
                                                      f"voxrelay {_short(v.get(k))}"))
        elif k == "sdp" and isinstance(r.get(k), list) and isinstance(v.get(k), list):
            out.extend(diff_sdp(prefix, r[k], v[k]))
        elif k not in v:
            out.append(Difference(f"{prefix}key {k}", f"only rtpengine: {_short(r[k])}"))
        elif k not in r:
            out.append(Difference(f"{prefix}key {k}", f"only voxrelay: {_short(v[k])}"))
        else:
            _diff_value(prefix, k, r[k], v[k], out)
    return out


def glob_match(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters (dots and brackets included),
    ``?`` one character; nothing else is special."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.S) is not None
