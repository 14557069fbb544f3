#!/usr/bin/env python3
"""High availability: a standby takes a failed relay's calls over when the
media address moves to it, with no call lost.

Three network namespaces as hosts on one LAN (a bridge in the first):
  LAN  10.79.0.100  the parties' media endpoints and Redis (AUTH);
  A    10.79.0.1    the active relay: --interface=10.79.0.10 (the media
                    address, on A's veth), --redis=...:PORT/1;
  B    10.79.0.2    the standby: the same --interface=10.79.0.10 (not on
                    this host yet), --redis=...:PORT/2 --subscribe-keyspace=1.
100 calls through A (70 plain, 20 plain <-> SDES-SRTP, 10 PCMU <-> Opus),
media checked packet by packet both ways (tests/lib/ha.py); B's `statistics`
show it follows all 100, and an NG `takeover` then (the address is not on
B yet) takes none. Then A is SIGKILLed and 10.79.0.10 moves from A to
B (what keepalived does; the LAN forgets A's MAC, as a gratuitous ARP would
make it): every call resumes both ways within 1 s of the move, zero calls
lost, with the SRTP keys and ports the parties were given; B's statistics
count 100 taken over; every call is then deleted through B and nothing is
left in Redis (database 1, where the calls were, nor 2). B exits 0 on SIGTERM.
Needs root, `ip netns`, redis-server. Exit 0 = pass; prints SKIP (exit 0)
without root or netns.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import ha  # noqa: E402
import netns  # noqa: E402
import vox  # noqa: E402

LAN_IP, A_IP, B_IP, VIP = "10.79.0.100", "10.79.0.1", "10.79.0.2", "10.79.0.10"
KINDS = ["plain"] * 70 + ["srtp"] * 20 + ["opus"] * 10
RESUME_LIMIT_S = 1.0
NG_PORT = 22222


class NsRelay:
    """voxrelay inside a namespace, NG on that namespace's 127.0.0.1."""

    def __init__(self, build: Path, ns: netns.Netns, args: list, log: Path):
        self.ns, self.log_path = ns, log
        self.cmd = [*ns.exec_prefix(), str(build / "voxrelay"), "--foreground",
                    f"--interface={VIP}", f"--listen-ng=127.0.0.1:{NG_PORT}",
                    "--port-min=42000", "--port-max=42999", *args]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        with ns.entered():
            self.ng = vox.NgClient("127.0.0.1", NG_PORT, timeout=1.0, retries=2)
        deadline = time.monotonic() + 10
        while not self.ng.ping(timeout=0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"relay in {ns.name} did not start:\n{vox.tail(log)}")

    def redis_figures(self) -> dict:
        return vox.ng_statistics(self.ng)["totalstatistics"].get("redis", {})

    def stop(self) -> int:
        rc, _ = vox.stop_process(self.proc, 5.0)
        self.ng.close()
        return rc


def build_lan(tag: str) -> tuple:
    lan, a, b = (netns.Netns(f"vha{n}{tag}").create() for n in "LAB")
    lan.ip("link", "add", "br0", "type", "bridge")
    lan.ip("link", "set", "br0", "up")
    lan.ip("addr", "add", f"{LAN_IP}/24", "dev", "br0")
    for ns, ip, near in ((a, A_IP, "la"), (b, B_IP, "lb")):
        netns.add_veth(ns, "eth0", lan, near)
        lan.ip("link", "set", near, "master", "br0")
        lan.ip("link", "set", near, "up")
        ns.ip("addr", "add", f"{ip}/24", "dev", "eth0")
        ns.ip("link", "set", "eth0", "up")
    a.ip("addr", "add", f"{VIP}/24", "dev", "eth0")
    return lan, a, b


def wait_for(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def main() -> int:
    why = netns.unavailable_reason()
    if why:
        print(f"SKIP: {why}")
        return 0
    build = vox.build_dir_from_argv()
    work = Path(tempfile.mkdtemp(prefix="vox-ha-takeover-"))
    tag = str(os.getpid())
    netns.reap_stale(["vhaL", "vhaA", "vhaB"])
    lan = a = b = None
    active = standby = redis = calls = None
    try:
        lan, a, b = build_lan(tag)
        redis = ha.RedisServer(work, 6379, password="s3cret", bind=LAN_IP,
                               prefix=lan.exec_prefix()).start()
        active = NsRelay(build, a, [f"--redis={redis.target(1)}"], work / "active.log")
        standby = NsRelay(build, b, [f"--redis={redis.target(2)}", "--subscribe-keyspace=1"],
                          work / "standby.log")
        with lan.entered():
            peers = [(vox.UdpPeer(LAN_IP), vox.UdpPeer(LAN_IP)) for _ in KINDS]
        calls = ha.CallSet(active.ng, host=LAN_IP, prefix="takeover")
        for kind, pair in zip(KINDS, peers):
            calls.add(kind, pair)
        calls.mark()
        calls.pump(1.0)
        problems = calls.problems(min_good=10)
        ha.check(not problems, "media flows through the active relay on every call", "; ".join(problems[:5]))
        ha.check(redis.wait_keys(1, len(KINDS)) == len(KINDS), "Redis database 1 holds every call")
        ha.check(wait_for(lambda: standby.redis_figures().get("followed") == len(KINDS), 5),
              "the standby follows every call", str(standby.redis_figures()))

        early = vox.ng_ok(standby.ng, {"command": "takeover"})
        ha.check(early.get("taken over") == 0 and standby.redis_figures().get("followed") == len(KINDS),
              "NG takeover before the address is on the standby takes nothing (the ports cannot be "
              "bound) and keeps following", str(early))

        active.proc.send_signal(signal.SIGKILL)
        active.proc.wait(5)
        calls.drain(0.1)
        a.ip("addr", "del", f"{VIP}/24", "dev", "eth0")
        calls.mark()  # from the address move
        b.ip("addr", "add", f"{VIP}/24", "dev", "eth0")
        lan.ip("neigh", "flush", "dev", "br0")
        calls.pump(2.0)
        firsts = calls.first_arrivals()
        missing = sum(1 for f in firsts if f is None)
        got = sorted(f for f in firsts if f is not None)
        slowest = got[-1] if got else float("inf")
        print(f"[ha] after the move: first packet per direction p50 "
              f"{got[len(got) // 2] * 1000 if got else -1:.0f} ms, slowest {slowest * 1000:.0f} ms, "
              f"{missing} directions without media", flush=True)
        ha.check(missing == 0 and slowest <= RESUME_LIMIT_S,
              f"every call resumes both ways within {RESUME_LIMIT_S:g} s of the move, none lost",
              f"{missing} silent, slowest {slowest:.2f} s")
        problems = calls.problems(min_good=50)
        ha.check(not problems, "... every packet the other party's, through the standby", "; ".join(problems[:5]))
        figures = standby.redis_figures()
        ha.check(figures.get("taken over") == len(KINDS) and figures.get("followed") == 0,
              "the standby counts every call taken over", str(figures))

        for c in calls.calls:
            vox.ng_ok(standby.ng, {"command": "delete", "call-id": c.call_id, "from-tag": "A"})
        ha.check(redis.wait_keys(1, 0) == 0 and redis.wait_keys(2, 0) == 0,
              "deleted through the standby: nothing left in Redis",
              f"db1 {len(redis.keys(1))}, db2 {len(redis.keys(2))}")
        rc = standby.stop()
        standby = None
        ha.check(rc == 0, "the standby exits 0 on SIGTERM", str(rc))
        print("test_ha_takeover: PASS")
        return 0
    except AssertionError:
        for name in ("active.log", "standby.log"):
            if (work / name).exists():
                print(f"--- {name}\n{vox.tail(work / name)}", file=sys.stderr)
        return 1
    finally:
        for r in (active, standby):
            if r:
                r.stop()
        if calls:
            calls.close()
        if redis:
            redis.stop()
        for ns in (lan, a, b):
            if ns:
                ns.delete()


if __name__ == "__main__":
    sys.exit(main())
