#!/usr/bin/env python3
"""Control-plane cost, voxrelay beside rtpengine: relay CPU per plain call's
offer + answer + delete, and offer latency, with 0 and 10,000 calls up.

Each relay is started fresh per measurement, pinned with all its threads to
core 0 (`taskset -a`), one worker (rtpengine --num-threads=1, --table=-1),
--delete-delay=0 and long timeouts (the calls held up send no media); this
client runs on core 1 and is sequential: one request, its reply, the next.
Per measurement: `--up` calls are set up (offer + answer) and kept, 200
calls warm up, then `--calls` calls each get offer, answer and
delete (`delete delay: 0` in the request, as the issue's figure). Relay CPU
is utime + stime of the whole process from /proc/PID/stat (10 ms ticks:
5,000 calls keep that under 1 %); latency is this client's round trip of
each measured offer. Rounds alternate the relays; ratios are taken within a
round, then the median.

    /usr/bin/python3 bench/ng_bench.py --build-dir build --rounds 3

A call held up costs 4 sockets on either relay: 10,000 calls need a hard
descriptor limit (ulimit -Hn) above 40,200; the script raises the soft
limit to the hard one and refuses --up values that do not fit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))
import vox  # noqa: E402

PORT_MIN, PORT_MAX = 20000, 62999  # 21,500 pairs: 10,000 calls use 20,000
RELAY_CORE, CLIENT_CORE = 0, 1


def raise_fd_limit() -> int:
    """The soft descriptor limit up to the hard one (children inherit it);
    returns it. A call held up costs 4 sockets on either relay."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(build: Path, impl: str) -> vox.Relay:
    args = ["--delete-delay=0", "--timeout=3600", "--silent-timeout=3600", "--offer-timeout=3600"]
    # rtpengine has no NG rate limit: voxrelay's is off too, so that the
    # client's pace (about 13,000 requests/s) is measured, not the limiter.
    args += ["--num-threads=1"] if impl == "rtpengine" else ["--workers=1", "--ng-rate-limit=0"]
    relay = vox.Relay(build, impl=impl, port_min=PORT_MIN, port_max=PORT_MAX, extra_args=args,
                      verbose=False)
    relay.start()
    subprocess.run(["taskset", "-a", "-p", "-c", str(RELAY_CORE), str(relay.proc.pid)],
                   check=True, capture_output=True)
    relay.ng.timeout = 5.0
    return relay


class Calls:
    """Plain calls (PCMU, telephone-event) with unique call-ids."""

    def __init__(self, ng: vox.NgClient, prefix: str):
        self.ng, self.prefix, self.n = ng, prefix, 0

    def sdp(self, port: int) -> str:
        return vox.make_sdp("127.0.0.1", [2000 + port % 60000])

    def offer(self) -> tuple:
        self.n += 1
        cid = f"{self.prefix}-{self.n}"
        t0 = time.perf_counter()
        r = self.ng.call({"command": "offer", "call-id": cid, "from-tag": "a",
                          "sdp": self.sdp(2 * self.n)})
        rtt = time.perf_counter() - t0
        if r.get("result") != "ok":
            raise RuntimeError(f"offer {cid}: {r}")
        return cid, rtt

    def answer(self, cid: str) -> None:
        r = self.ng.call({"command": "answer", "call-id": cid, "from-tag": "a", "to-tag": "b",
                          "sdp": self.sdp(2 * self.n + 1)})
        if r.get("result") != "ok":
            raise RuntimeError(f"answer {cid}: {r}")

    def delete(self, cid: str) -> None:
        r = self.ng.call({"command": "delete", "call-id": cid, "delete delay": 0})
        if r.get("result") != "ok":
            raise RuntimeError(f"delete {cid}: {r}")

    def whole(self) -> float:
        cid, rtt = self.offer()
        self.answer(cid)
        self.delete(cid)
        return rtt


def measure(build: Path, impl: str, up: int, calls: int) -> dict:
    relay = start(build, impl)
    try:
        held = Calls(relay.ng, f"{impl}-held")
        for _ in range(up):
            cid, _ = held.offer()
            held.answer(cid)
        run = Calls(relay.ng, f"{impl}-run")
        for _ in range(200):
            run.whole()
        cpu0, wall0 = cpu_seconds(relay.proc.pid), time.perf_counter()
        rtts = [run.whole() for _ in range(calls)]
        cpu1, wall1 = cpu_seconds(relay.proc.pid), time.perf_counter()
        rtts.sort()
        return {"relay": impl, "up": up, "calls": calls,
                "cpu_us_per_call": round((cpu1 - cpu0) / calls * 1e6, 1),
                "calls_per_s": round(calls / (wall1 - wall0), 1),
                "offer_p50_us": round(rtts[len(rtts) // 2] * 1e6),
                "offer_p99_us": round(rtts[int(len(rtts) * 0.99)] * 1e6)}
    finally:
        relay.stop()
        relay.cleanup()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--up", default="0,10000", help="calls held up, comma separated")
    ap.add_argument("--relays", default="voxrelay,rtpengine")
    ap.add_argument("--json", action="store_true", help="one JSON line per measurement")
    args = ap.parse_args()
    fds = raise_fd_limit()
    os.sched_setaffinity(0, {CLIENT_CORE})
    build = Path(args.build_dir).resolve()
    relays = args.relays.split(",")
    ups = [int(u) for u in args.up.split(",")]
    if max(ups) * 4 + 200 > fds:
        sys.exit(f"ng_bench: {max(ups)} calls up need {max(ups) * 4 + 200} descriptors, the limit "
                 f"here is {fds} (ulimit -Hn)")
    print(f"ng_bench: {args.calls} calls per figure, up {ups}, {args.rounds} rounds, load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for rnd in range(args.rounds):
        order = relays if rnd % 2 == 0 else relays[::-1]
        for up in ups:
            for impl in order:
                r = measure(build, impl, up, args.calls)
                r["round"] = rnd + 1
                results.append(r)
                print(json.dumps(r) if args.json else
                      f"  round {rnd + 1} {impl:9} up {up:5}: {r['cpu_us_per_call']:7.1f} us CPU per "
                      f"call, offer p50 {r['offer_p50_us']} us p99 {r['offer_p99_us']} us, "
                      f"{r['calls_per_s']} calls/s", flush=True)
    if set(relays) != {"voxrelay", "rtpengine"}:
        return 0
    print("\nmedians (ratio voxrelay/rtpengine per round, then the median):")
    for up in ups:
        pick = lambda impl, key: [r[key] for r in results if r["relay"] == impl and r["up"] == up]
        ratios = [v / e for v, e in zip(pick("voxrelay", "cpu_us_per_call"),
                                        pick("rtpengine", "cpu_us_per_call"))]
        print(f"  up {up:5}: CPU per call voxrelay {statistics.median(pick('voxrelay', 'cpu_us_per_call')):.1f} us, "
              f"rtpengine {statistics.median(pick('rtpengine', 'cpu_us_per_call')):.1f} us, ratio "
              f"{statistics.median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)}; target <= 0.5); "
              f"offer p99 voxrelay {statistics.median(pick('voxrelay', 'offer_p99_us'))} us, "
              f"rtpengine {statistics.median(pick('rtpengine', 'offer_p99_us'))} us (target <= 1000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
