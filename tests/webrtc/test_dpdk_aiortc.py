#!/usr/bin/python3
"""WebRTC on the DPDK backend (issue 15): aiortc 1.4 (ICE, DTLS-SRTP, Opus or
PCMU) <-> voxrelay --backend=dpdk <-> a plain G.711 RTP peer, through NG with
the flags Kamailio's rtpengine module sends (tests/webrtc/test_aiortc.py's
cases on the socket backend over loopback; these run over a veth).

Topology and relay: tests/integration/test_dpdk_netns.py's (imported as
``dn``): namespace voxr-PID holds voxrelay with DPDK's net_af_packet on vm-r
(`--no-huge --no-pci -m 512`, no kernel address for 10.77.0.1: only DPDK
answers ARP, STUN and DTLS for it, the handshake thread fed by the DPDK
worker's slow path), namespace voxp-PID holds aiortc and the plain peer on
10.77.0.2 (vm-p) and drives NG over the kernel-owned management veth
(10.78.0.1:22222). Both are created here and removed at the end, also on a
failure, Ctrl-C, SIGTERM or the watchdog. This test's main thread enters P
(setns, netns.Netns.entered()) for each case, so every socket aiortc, aioice
and the plain peer open lives in P; aioice gathers 10.77.0.2 only.

Cases (each a fresh call; audio both ways for ~3 s, then decoded):
  a-pcmu      browser -> trunk, aiortc offers PCMU only (NG BROWSER_SIDE):
              ICE + DTLS-SRTP terminated on DPDK, plain RTP/AVP to the trunk;
  a-opus      browser -> trunk, Opus only, NG `codec: {transcode: [PCMU]}`;
  b-trunk     trunk -> browser (NG WEBRTC_SIDE offer, BROWSER_SIDE answer);
  c-fingerprint  wrong a=fingerprint for aiortc: DTLS fails, no media reaches
              the plain peer;
  c-forged-stun  mid-call Binding requests with a bad MESSAGE-INTEGRITY (and
              USE-CANDIDATE) from another socket: only STUN errors (or
              nothing) reach the forger, audio continues both ways;
  d-new-address  mid-call aiortc's socket moves to 10.77.0.3 (a second
              address on vm-p) and sends a fresh nominating check: the relay
              (DPDK, ARP-resolving the new address) follows, audio continues.
In every media case the plain peer decodes aiortc's 440 Hz tone and aiortc
decodes the plain peer's 1000 Hz tone; afterwards no call is left, the relay
exits 0 on SIGTERM and the namespaces and veths are gone.

Run (root; Debian's Python for aiortc):
  /usr/bin/python3 tests/webrtc/test_dpdk_aiortc.py --build-dir build
  /usr/bin/python3 tests/webrtc/test_dpdk_aiortc.py --build-dir build --backend socket
  /usr/bin/python3 tests/webrtc/test_dpdk_aiortc.py --build-dir build --only a-opus -v
Prints "SKIP: ..." and exits 0 when not root, without `ip netns`, or (dpdk)
when voxrelay has no DPDK backend. VOX_KEEP_TMP=1 keeps the relay's log.
Exit 0 = pass.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE.parent / "integration"))
import netns  # noqa: E402
import test_dpdk_netns as dn  # noqa: E402
import vox  # noqa: E402
import webrtc_calls as wc  # noqa: E402

PEER_IP, MOVED_IP = dn.PEER_IP, "10.77.0.3"
CASE_S = 40          # asyncio.wait_for per case
IDLE_SLEEP_US = 100  # the DPDK worker naps when idle: aiortc needs the CPU
WATCHDOG_S = 115     # the whole run (brief: < 120 s)
ARGS = None


def parse_args():
    ap = dn.topology_args(__doc__.split("\n")[0], load=False)
    ap.add_argument("--only", action="append", default=[],
                    help="run only the cases whose name contains this (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print SDPs and NG replies")
    args = ap.parse_args()
    args.workers = 1
    if args.backend == "dpdk":
        args.relay_arg = [f"--dpdk-idle-sleep-us={IDLE_SLEEP_US}", *args.relay_arg]
    return args


def call(ng: vox.NgClient) -> wc.Call:
    """A fresh call: aiortc (tag `browser`) and a plain peer (tag `trunk`),
    both on 10.77.0.2 in P (the caller's thread is in P)."""
    return wc.Call(ng, PEER_IP, prefix="dpdk-webrtc", verbose=ARGS.verbose,
                   diag=lambda: slow_path_diag(ng))


def slow_path_diag(ng: vox.NgClient) -> str:
    """The relay's slow-path and backend counters (for failures)."""
    try:
        st = vox.ng_statistics(ng)
    except Exception as e:  # diagnostics only
        return f"(statistics failed: {e})"
    tot = st.get("totalstatistics", {})
    slow_in, slow_out = slow_path_counts(st)
    keys = ("packets received", "packets relayed")
    drops = {k: v for k, v in tot.get("drops", {}).items() if v}
    b = st.get("backend", {})
    return (f"relay: slow path in {slow_in}, out {slow_out}, "
            f"{', '.join(f'{k} {tot.get(k)}' for k in keys)}, drops {drops or 'none'}, backend "
            f"{ {k: v for k, v in b.items() if v} }")


def slow_path_counts(st: dict) -> tuple:
    """(slow path in, slow path out) summed over the workers of a statistics reply."""
    ws = st.get("workers", [])
    return (sum(int(w.get("slow path in", 0)) for w in ws),
            sum(int(w.get("slow path out", 0)) for w in ws))


def check_slow_path(ng: vox.NgClient, before: tuple, backend: str) -> None:
    """STUN and DTLS reached the handshake thread through the worker's slow
    path, and its answers went out through the worker (DPDK: the TX queue)."""
    st = vox.ng_statistics(ng)
    now = slow_path_counts(st)
    d_in, d_out = now[0] - before[0], now[1] - before[1]
    assert d_in > 0 and d_out > 0, (f"slow path in +{d_in}, out +{d_out} during the cases: "
                                    f"{slow_path_diag(ng)}")
    print(f"      slow path: +{d_in} packets to the handshake thread, +{d_out} replies sent "
          f"({backend}); backend frames rx {st.get('backend', {}).get('frames rx', '-')}",
          flush=True)


def in_p(topo: dn.Topology, fn):
    """Runs the case's coroutine (``fn()``) with this thread inside P."""
    def run():
        with topo.p.entered():
            asyncio.run(asyncio.wait_for(fn(), CASE_S))
    return run


def main() -> int:
    global ARGS
    ARGS = args = parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    build_dir = Path(args.build_dir).resolve()
    early = dn.preflight(build_dir, args.backend, ("voxrelay",))
    if early is not None:
        return early
    try:
        import aiortc  # noqa: F401
    except ImportError as e:
        print(f"FAIL: aiortc missing ({e}): run with /usr/bin/python3 (python3-aiortc)")
        return 1
    runner = vox.CaseRunner(f"test_dpdk_aiortc (--backend {args.backend})")
    topo = dn.Topology(args.backend, args.keep_offloads)

    def cases(_relay, ng):
        # the address the d-new-address case moves aiortc's socket to
        topo.p.ip("addr", "add", f"{MOVED_IP}/24", "dev", dn.MEDIA_P)
        b = args.backend
        slow_before = slow_path_counts(vox.ng_statistics(ng))
        # test_aiortc.py's cases (webrtc_calls.shared_cases) on PEER_IP, also
        # checking that the SDPs name the relay's DPDK address
        for name, label, fn in wc.shared_cases(lambda: call(ng), MOVED_IP,
                                               relay_ip=dn.RELAY_IP):
            if args.only and not any(o in name for o in args.only):
                continue
            runner.run(f"{b}: {name}: {label}", in_p(topo, fn))
        runner.run(f"{b}: STUN/DTLS went through the workers' slow path both ways",
                   check_slow_path, ng, slow_before, b)

    return dn.run_cases(runner, topo, args, build_dir, cases,
                        "media + management veths, addresses", watchdog_s=WATCHDOG_S)


if __name__ == "__main__":
    sys.exit(main())
