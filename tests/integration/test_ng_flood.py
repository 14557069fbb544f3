#!/usr/bin/env python3
"""NG under a flood (issue 16): voxload --ng-flood sends 200k garbage
datagrams/s (half without a cookie, half with an undecodable body) at the
relay's NG socket for a few seconds, on loopback, and stops by itself.
Meanwhile, from other sockets:

  - NG ping round trips stay short: p99 <= 10 ms, none lost (the flood from
    127.0.0.2, the pings from 127.0.0.1: the per-source rate limit takes
    the flood; and again with --ng-rate-limit=0, the flood from the pinger's
    own address: the bounded work per poll alone);
  - a proxy's offer, answer, list and delete succeed, within 100 ms;
  - the once-a-second timers run: with --offer-timeout=2 an unanswered
    offer is gone after about 3 s (at most 4);
  - SIGTERM stops the daemon within 2 s with exit code 0.

Prints the measured figures (ping p50/p99/max, the flood rate voxload
reached, the relay's `ng` counters). Exit 0 = pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"
FLOODER = "127.0.0.2"  # another source address: its own rate-limit bucket
FLOOD_RATE = 200_000
FLOOD_S = 5.0
P99_LIMIT_MS = 10.0
CALL_LIMIT_MS = 100.0  # offer + answer + list + delete, during the flood
TIMEOUT_LIMIT_S = 4.0  # --offer-timeout=2 plus the once-a-second tick plus a margin
MIN_RATE_FRACTION = 0.5  # below half the asked rate the test proves little: fail
DEFAULT_RATE_LIMIT = 20_000  # --ng-rate-limit's default: requests/s per source, bursts of twice that


class Flood:
    """voxload --ng-flood in the background; result() waits for its report."""

    def __init__(self, build_dir: Path, ng_port: int, source: str, seconds: float = FLOOD_S,
                 rate: int = FLOOD_RATE):
        self.cmd = [str(build_dir / "voxload"), f"--ng={LOCAL}:{ng_port}", f"--ng-flood={rate}",
                    f"--ng-flood-seconds={seconds}", f"--local={source}", "--json"]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.started = time.monotonic()
        self.seconds = seconds

    def running(self) -> bool:
        return self.proc.poll() is None

    def result(self) -> dict:
        out, err = self.proc.communicate(timeout=self.seconds + 20)
        assert self.proc.returncode == 0, f"voxload exited {self.proc.returncode}: {err.strip()}"
        report = json.loads(out.strip().splitlines()[-1])
        print(f"      flood: {report['sent']} datagrams in {report['seconds']:.2f} s = "
              f"{report['achieved_rate']:.0f}/s (asked {report['target_rate']:.0f}/s), "
              f"{report['send_errors']} send errors, {report['replies']} replies", flush=True)
        assert report["achieved_rate"] >= MIN_RATE_FRACTION * report["target_rate"], \
            f"voxload reached only {report['achieved_rate']:.0f}/s: the flood is too weak to test"
        return report

    def stop(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.wait()


def ng_counters(ng: vox.NgClient) -> dict:
    return vox.ng_statistics(ng).get("totalstatistics", {}).get("ng", {})


def percentile(sorted_values: list, p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p / 100.0 * len(sorted_values)))]


def measure_pings(relay: vox.Relay, flood: Flood) -> tuple:
    """Pings one at a time from a fresh socket while the flood runs (after
    its first 0.3 s); (round trips in ms, lost)."""
    rtts, lost = [], 0
    with vox.NgClient(LOCAL, relay.ng_port, timeout=0.5, retries=0) as ng:
        time.sleep(max(0.0, flood.started + 0.3 - time.monotonic()))
        while flood.running():
            t0 = time.perf_counter()
            if ng.ping(timeout=0.5):
                rtts.append((time.perf_counter() - t0) * 1000.0)
            elif flood.running():
                lost += 1
            time.sleep(0.002)
    return rtts, lost


def case_ping(build_dir: Path, source: str, extra_args: list, expect_limited: bool) -> dict:
    with vox.Relay(build_dir, extra_args=extra_args) as relay:
        flood = Flood(build_dir, relay.ng_port, source)
        try:
            rtts, lost = measure_pings(relay, flood)
            report = flood.result()
        finally:
            flood.stop()
        counters = ng_counters(relay.ng)
        assert relay.alive(), "the relay died during the flood"
    rtts.sort()
    assert len(rtts) > 100, f"only {len(rtts)} pings answered during the flood"
    p50, p99, worst = percentile(rtts, 50), percentile(rtts, 99), rtts[-1]
    print(f"      ping during the flood: {len(rtts)} answered, {lost} lost, p50 {p50:.3f} ms, "
          f"p99 {p99:.3f} ms, max {worst:.3f} ms", flush=True)
    print(f"      relay ng counters: {counters}", flush=True)
    assert lost == 0, f"{lost} pings got no reply within 0.5 s during the flood"
    assert p99 <= P99_LIMIT_MS, f"ping p99 {p99:.3f} ms > {P99_LIMIT_MS} ms during the flood"
    if expect_limited:
        # All the limit lets through is its rate over the flood plus one burst.
        allowed = DEFAULT_RATE_LIMIT * (report["sent"] / report["achieved_rate"] + 2)
        assert counters.get("rate limited", 0) >= 0.9 * (report["sent"] - allowed), \
            f"the flooding source was not rate limited to {DEFAULT_RATE_LIMIT}/s: {counters}"
    else:
        assert counters.get("rate limited", 0) == 0, f"--ng-rate-limit=0 but: {counters}"
        assert counters.get("no cookie", 0) > 0.25 * report["sent"], \
            f"the relay handled little of the flood: {counters}"
    assert counters.get("cache bytes", 0) < 1 << 20, f"garbage filled the reply cache: {counters}"
    return {"p50": p50, "p99": p99, "max": worst, "rate": report["achieved_rate"]}


def offer_msg(cid: str, port: int) -> dict:
    return {"command": "offer", "call-id": cid, "from-tag": "tagA", "sdp": vox.make_sdp(LOCAL, [port])}


def case_signalling(build_dir: Path) -> None:
    with vox.Relay(build_dir) as relay:
        flood = Flood(build_dir, relay.ng_port, FLOODER)
        try:
            time.sleep(0.5)
            ng = relay.ng
            for i in range(5):
                cid = f"flood-call-{i}"
                t0 = time.monotonic()
                vox.ng_ok(ng, offer_msg(cid, 40000 + 4 * i), f"offer {i} during the flood")
                vox.ng_ok(ng, {"command": "answer", "call-id": cid, "from-tag": "tagA",
                               "to-tag": "tagB", "sdp": vox.make_sdp(LOCAL, [40002 + 4 * i])},
                          f"answer {i} during the flood")
                assert cid in ng.list_calls(), f"{cid} not listed during the flood"
                vox.ng_ok(ng, {"command": "delete", "call-id": cid, "delete delay": 0},
                          f"delete {i} during the flood")
                took_ms = (time.monotonic() - t0) * 1000
                print(f"      call {i}: offer, answer, list, delete in {took_ms:.1f} ms", flush=True)
                assert took_ms <= CALL_LIMIT_MS, \
                    f"call {i}: offer, answer, list, delete took {took_ms:.1f} ms during the flood"
            assert flood.running(), "the flood ended before the calls were done"
            flood.result()
        finally:
            flood.stop()
        assert ng.list_calls() == [], "calls left after their delete"


def case_offer_timeout(build_dir: Path) -> None:
    with vox.Relay(build_dir, extra_args=["--offer-timeout=2"]) as relay:
        flood = Flood(build_dir, relay.ng_port, FLOODER, seconds=6.0)
        try:
            time.sleep(0.5)
            ng = relay.ng
            vox.ng_ok(ng, offer_msg("flood-unanswered", 40100), "offer during the flood")
            t0 = time.monotonic()
            gone = None
            while time.monotonic() - t0 < 4.5:
                if "flood-unanswered" not in ng.list_calls():
                    gone = time.monotonic() - t0
                    break
                time.sleep(0.1)
            assert flood.running(), "the flood ended before the offer timed out"
            assert gone is not None, "--offer-timeout=2: the offer is still listed 4.5 s later"
            assert gone >= 1.5, f"--offer-timeout=2: the offer went after only {gone:.1f} s"
            assert gone <= TIMEOUT_LIMIT_S, \
                f"--offer-timeout=2: the offer went only after {gone:.1f} s (the tick is late)"
            print(f"      unanswered offer removed after {gone:.1f} s during the flood", flush=True)
            flood.result()
        finally:
            flood.stop()


def case_sigterm(build_dir: Path) -> None:
    relay = vox.Relay(build_dir)
    with relay:
        flood = Flood(build_dir, relay.ng_port, FLOODER)
        try:
            time.sleep(1.0)
            assert flood.running(), "the flood ended early"
            took = relay.sigterm_within(2.0, "SIGTERM during the flood")
            print(f"      exited 0 after {took:.2f} s", flush=True)
        finally:
            flood.stop()


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    if not (build_dir / "voxload").exists():
        print(f"SKIP: {build_dir / 'voxload'} not built")
        return 0
    runner = vox.CaseRunner("test_ng_flood")
    figures = {}
    figures["limited"] = runner.run(
        f"ping p99 <= {P99_LIMIT_MS} ms during a {FLOOD_RATE}/s garbage flood from another address",
        case_ping, build_dir, FLOODER, [], True)
    figures["unlimited"] = runner.run(
        "the same with --ng-rate-limit=0, the flood from the pinger's own address",
        case_ping, build_dir, LOCAL, ["--ng-rate-limit=0"], False)
    runner.run("offer, answer, list, delete during the flood", case_signalling, build_dir)
    runner.run("--offer-timeout=2: the once-a-second timers run during the flood",
               case_offer_timeout, build_dir)
    runner.run("SIGTERM during the flood: exit 0 within 2 s", case_sigterm, build_dir)
    for name, f in figures.items():
        if f:
            print(f"figures ({name}): flood {f['rate']:.0f}/s, ping p50 {f['p50']:.3f} ms, "
                  f"p99 {f['p99']:.3f} ms, max {f['max']:.3f} ms")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
