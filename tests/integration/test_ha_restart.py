#!/usr/bin/env python3
"""High availability: a relay killed and started again with the same Redis
runs its calls on, with no NG command.

A Redis server of the test's own (loopback, AUTH) and voxrelay with
``--redis=PW@127.0.0.1:PORT/1``. 200 calls: 140 plain, 40 plain caller <->
SDES-SRTP callee, 20 PCMU caller <-> Opus callee (transcoded). Media flows
both ways on every call (tests/lib/ha.py checks each packet: plain and SRTP
payloads byte for byte, SRTP decrypted with the keys of the SDPs, transcoded
audio as the other party's tone). Redis holds 200 keys. Then SIGKILL, and
voxrelay is started again with the same options while every party keeps
sending to the ports it was given:
  - every call carries media again both ways within 1 s of the start
    (measured from the spawn of the new process to each direction's first
    good packet), with the same relay ports and the same SRTP keys (the
    parties' sessions are the ones made from the original SDPs); the SRTP
    calls' streams wrapped their sequence numbers before the kill (the
    saved state says rollover counter 1), so this holds only if the
    restored contexts start there;
  - `list` shows the 200 calls, `query` the same local ports as before;
  - deleted through NG, every call's key leaves Redis; the relay exits 0
    on SIGTERM.
Needs redis-server (Debian's redis-server). Exit 0 = pass.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import ha  # noqa: E402
import vox  # noqa: E402

KINDS = ["plain"] * 140 + ["srtp"] * 40 + ["opus"] * 20
RESUME_LIMIT_S = 1.0


def local_ports(ng: vox.NgClient, call_id: str) -> list:
    q = vox.ng_ok(ng, {"command": "query", "call-id": call_id})
    return sorted(int(s["local port"]) for tag in ("A", "B") for _, s in vox.query_streams(q, tag))


def main() -> int:
    build = vox.build_dir_from_argv()
    work = Path(tempfile.mkdtemp(prefix="vox-ha-restart-"))
    redis = ha.RedisServer(work, vox.free_udp_port(16000, 17000), password="s3cret").start()
    args = [f"--redis={redis.target(1)}"]
    # Media ports below the kernel's ephemeral range: a socket opened after
    # the kill (the new relay's NG client) cannot take a port the restored
    # calls need, as it did once in CI with 41000-41999.
    ports = vox.free_udp_ports(1000, step=2)
    relay = vox.Relay(build, port_min=ports[0], port_max=ports[-1], extra_args=args, workdir=work).start()
    calls = ha.CallSet(relay.ng, prefix="restart")
    second = None
    try:
        t0 = time.monotonic()
        for kind in KINDS:
            # SRTP streams wrap their sequence numbers before the kill: the
            # restored contexts must start at rollover counter 1.
            calls.add(kind, first_seq=65536 - 20 if kind == "srtp" else 0)
        print(f"[ha] {len(KINDS)} calls set up in {time.monotonic() - t0:.1f} s", flush=True)
        calls.mark()
        calls.pump(1.0)
        problems = calls.problems(min_good=10)
        ha.check(not problems, "media flows both ways on every call before the kill", "; ".join(problems[:5]))
        ha.check(redis.wait_keys(1, len(KINDS)) == len(KINDS), "Redis holds a key per call",
              str(len(redis.keys(1))))
        before = {c.call_id: local_ports(relay.ng, c.call_id) for c in calls.calls[::25]}
        srtp_call = next(c for c in calls.calls if c.kind == "srtp")
        key = ha.KEY_PREFIX + srtp_call.call_id

        def rocs() -> list:
            doc = json.loads(redis.cli("GET", key, db=1) or "{}")
            return [m["stream"][1] for p in doc.get("parties", []) for m in p["media"]]

        deadline = time.monotonic() + 3
        while rocs() != [1, 1] and time.monotonic() < deadline:
            calls.pump(0.2)
        ha.check(rocs() == [1, 1], "the saved state knows both SRTP call streams wrapped (rollover counter 1)",
              str(rocs()))

        relay.proc.send_signal(signal.SIGKILL)
        relay.proc.wait(5)
        relay.stop()
        calls.drain(0.1)
        second = vox.Relay(build, ng_port=relay.ng_port, port_min=ports[0], port_max=ports[-1],
                           extra_args=args, workdir=work, verbose=False)
        calls.mark()  # from the spawn: what the new process needs to carry media again
        second.start()
        calls.pump(2.0)
        firsts = calls.first_arrivals()
        missing = sum(1 for f in firsts if f is None)
        slowest = max((f for f in firsts if f is not None), default=float("inf"))
        print(f"[ha] after the restart: first packet per direction p50 "
              f"{sorted(f for f in firsts if f is not None)[len(firsts) // 2] * 1000:.0f} ms, "
              f"slowest {slowest * 1000:.0f} ms, {missing} directions without media", flush=True)
        ha.check(missing == 0 and slowest <= RESUME_LIMIT_S,
              f"every call carries media both ways within {RESUME_LIMIT_S:g} s of the restart",
              f"{missing} silent, slowest {slowest:.2f} s")
        problems = calls.problems(min_good=50)
        ha.check(not problems, "... every packet the other party's (SRTP with the SDPs' keys, "
              "transcoded audio the other party's tone)", "; ".join(problems[:5]))
        log = second.stderr_path.read_text(errors="replace")
        ha.check(f"{len(KINDS)} call(s) found, {len(KINDS)} restored" in log,
              "the relay logs the calls it restored", vox.tail(second.stderr_path))

        listed = vox.ng_ok(second.ng, {"command": "list", "limit": 1000}).get("calls", [])
        ha.check(len(listed) == len(KINDS), "`list` shows every call after the restart", str(len(listed)))
        after = {cid: local_ports(second.ng, cid) for cid in before}
        ha.check(after == before, "`query` shows the same local ports", f"{before} vs {after}")
        for c in calls.calls:
            vox.ng_ok(second.ng, {"command": "delete", "call-id": c.call_id, "from-tag": "A"})
        ha.check(redis.wait_keys(1, 0) == 0, "deleted, every call's key leaves Redis",
              str(sorted(redis.keys(1))[:5]))
        second.sigterm_within(10)  # raises unless it exits 0
        ha.check(second.proc.returncode == 0, "the relay exits 0 on SIGTERM")
        print("test_ha_restart: PASS")
        return 0
    except AssertionError:
        for r in (relay, second):
            if r:
                print(vox.tail(r.stderr_path), file=sys.stderr)
        return 1
    finally:
        for r in (relay, second):
            if r:
                r.stop()
        calls.close()
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
