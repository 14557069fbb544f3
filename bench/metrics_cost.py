#!/usr/bin/env python3
"""What metrics and the relay's own RTCP cost the packet path (issue 17):
relay CPU per relayed packet with a Prometheus-style scrape every second
and RTCP generation on (--rtcp-interval=5000, the default) against the same
build with both off (no scrape, --rtcp-interval=0), in alternating runs.
RTCP generation concerns transcoded streams: --transcode makes every call
one (voxload --transcode); without it the calls are relayed.

Each run starts voxrelay (socket backend, one worker, --listen-http in both
so that only the scraping differs), runs voxload (--calls, 50 packets/s per
stream, --duration s after 1 s of warm-up) and reads the relay's utime +
stime from /proc before and after: CPU per packet includes call set-up and
teardown, the same in both. Prints each run and the medians.

    /usr/bin/python3 bench/metrics_cost.py --build-dir build --rounds 5 [--transcode]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))
import vox  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def run(build: Path, scrape: bool, calls: int, duration: float, transcode: bool) -> tuple:
    port = vox.free_udp_port(25300, 25399)  # free for TCP too
    rtcp = "--rtcp-interval=5000" if scrape else "--rtcp-interval=0"
    with vox.Relay(build, port_min=42000, port_max=43999, extra_args=[f"--listen-http=127.0.0.1:{port}", rtcp],
                   verbose=False) as relay:
        stop, scrapes = threading.Event(), [0]

        def scraper():
            while not stop.wait(1.0):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
                scrapes[0] += 1
        thread = threading.Thread(target=scraper)
        if scrape:
            thread.start()
        c0 = cpu_seconds(relay.proc.pid)
        out = subprocess.run([str(build / "voxload"), f"--ng=127.0.0.1:{relay.ng_port}", f"--calls={calls}",
                              f"--duration={duration}", "--warmup=1", "--json",
                              *(["--transcode"] if transcode else [])],
                             capture_output=True, text=True, timeout=duration + 60)
        c1 = cpu_seconds(relay.proc.pid)
        stop.set()
        if scrape:
            thread.join()
        report = json.loads(out.stdout.strip().splitlines()[-1])
        return (c1 - c0) / report["sent"] * 1e6, report["lost"], scrapes[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--transcode", action="store_true", help="transcoded calls (PCMU <-> Opus)")
    args = ap.parse_args()
    build = Path(args.build_dir).resolve()
    res: dict = {False: [], True: []}
    for i in range(args.rounds):
        for scrape in (False, True):
            us, lost, scrapes = run(build, scrape, args.calls, args.duration, args.transcode)
            res[scrape].append(us)
            print(f"round {i + 1} {'scrape + RTCP on ' if scrape else 'both off         '}: "
                  f"{us:.3f} us relay CPU per packet, lost {lost}, scrapes {scrapes}", flush=True)
    ratios = [b / a for a, b in zip(res[False], res[True])]
    a, b = statistics.median(res[False]), statistics.median(res[True])
    print(f"median: off {a:.3f} us, on {b:.3f} us per packet; ratio per round "
          f"{', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
