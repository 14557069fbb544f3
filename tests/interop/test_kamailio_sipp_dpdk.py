#!/usr/bin/env python3
"""Interop on the DPDK backend: test_kamailio_sipp.py's call through voxrelay --backend=dpdk.

The same scenario as test_kamailio_sipp.py (SIPp UAC -> Kamailio with its
rtpengine module -> SIPp UAS, PCMU + RFC 2833 DTMF, sniffer-verified media
UA -> relay -> UA both ways, nothing UA -> UA, NG `list` empty after BYE),
but the relay is voxrelay --backend=dpdk owning one end of a veth pair
through DPDK's net_af_packet, in its own network namespace. Topology (made
here, removed at the end, also on failure, SIGTERM/SIGINT/SIGHUP and the
watchdog; names carry this process's pid, and a SIGKILLed run's leftovers
are removed by the next run):

    namespace voxkr-PID (relay)                namespace voxkp-PID (SIP side)
      vm-r  media, no kernel address:  <---->  vm-p  10.77.0.2/24, TX csum offload off
            DPDK answers for 10.77.0.1         Kamailio, both SIPp UAs, sniffer,
      vg-r  10.78.0.1/24, NG :22222    <---->  vg-p  10.78.0.2/24   the test logic
      lo up                                    lo up (SIP on 127.0.0.1)

test_kamailio_sipp.py runs inside P with --external-relay-ng 10.78.0.1:22222
--media-ip 10.77.0.2 --relay-ip 10.77.0.1 --sniff-iface any: SIPp binds its
media (and plays its pcaps through raw sockets) from 10.77.0.2, Kamailio
talks NG over the management veth, and the sniffer sees all of P's
interfaces: media on vm-p, NG on vg-p, and any UA -> UA shortcut on P's lo.
Here: R's kernel must not own 10.77.0.1 (only DPDK can have relayed), the
relay's own counters must show the call's packets relayed, and the relay
must exit 0 on SIGTERM.

Run (root): python3 tests/interop/test_kamailio_sipp_dpdk.py --build-dir build
Prints "SKIP: ..." and exits 0 when not root, without `ip netns`, or when
`voxrelay --version` does not list the dpdk backend. VOX_KEEP_TMP=1 keeps
the relay's log. Exit 0 = pass.
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
import netns  # noqa: E402
import vox  # noqa: E402
import test_kamailio_sipp as interop  # noqa: E402

RELAY_IP, PEER_IP = "10.77.0.1", "10.77.0.2"
MGMT_R, MGMT_P = "10.78.0.1", "10.78.0.2"
MEDIA_R, MEDIA_P, MGMT_IF_R, MGMT_IF_P = "vm-r", "vm-p", "vg-r", "vg-p"
NG_PORT = 22222
NS_PREFIXES = ("voxkr-", "voxkp-")
DPDK_ARGS = ("--no-huge --no-pci -m 512 --no-shconf --no-telemetry -l 0-1 "
             f"--vdev=net_af_packet0,iface={MEDIA_R}")
RELAY_START_S = 20      # EAL init is slow on a busy VM
INNER_LIMIT_S = 45      # test_kamailio_sipp.py --time-limit (a call takes ~11 s)
WATCHDOG_S = 70         # whole test; the cleanup after it takes <= 16 s (< 90 s in all)


class Abort(BaseException):
    """SIGTERM/SIGINT/SIGHUP/watchdog: not an Exception, so nothing swallows it."""


def log(msg: str) -> None:
    print(f"[interop-dpdk] {msg}", flush=True)


def skip_reason(build_dir: Path) -> Optional[str]:
    reason = netns.unavailable_reason()
    if reason:
        return reason
    exe = build_dir / "voxrelay"
    if not exe.exists():
        return None  # not a skip: main() fails on it
    out = netns.run([exe, "--version"], check=False)
    m = re.search(r"backends:\s*([^)]*)", out.stdout + out.stderr)
    backends = [b.strip() for b in m.group(1).split(",")] if m else []
    if "dpdk" not in backends:
        return (f"{exe} has no DPDK backend (`--version`: "
                f"{(out.stdout + out.stderr).strip()!r}); build with libdpdk")
    return None


class Topology:
    def __init__(self):
        self.r = netns.Netns(f"{NS_PREFIXES[0]}{os.getpid()}")
        self.p = netns.Netns(f"{NS_PREFIXES[1]}{os.getpid()}")
        self.torn_down = False

    def create(self) -> None:
        for ns in (self.r, self.p):
            ns.create()
            for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
                try:
                    ns.sysctl(key, 1)  # no RS/MLD/DAD frames on the media wire
                except FileNotFoundError:
                    pass
        netns.add_veth(self.r, MEDIA_R, self.p, MEDIA_P)
        netns.add_veth(self.r, MGMT_IF_R, self.p, MGMT_IF_P)
        # Kernel UDP sockets on a veth with TX checksum offload hand frames
        # over with CHECKSUM_PARTIAL: DPDK's net_af_packet would read an
        # unfinished UDP checksum and the engine drops the packet (see
        # tests/integration/test_dpdk_netns.py). Real NICs finish it.
        netns.set_tx_checksum(self.p, MEDIA_P, False)
        netns.set_tx_checksum(self.r, MEDIA_R, False)
        self.p.ip("addr", "add", f"{PEER_IP}/24", "dev", MEDIA_P)
        self.r.ip("addr", "add", f"{MGMT_R}/24", "dev", MGMT_IF_R)
        self.p.ip("addr", "add", f"{MGMT_P}/24", "dev", MGMT_IF_P)
        for ns, ifs in ((self.r, (MEDIA_R, MGMT_IF_R)), (self.p, (MEDIA_P, MGMT_IF_P))):
            for i in ifs:
                ns.ip("link", "set", i, "up")
        deadline = time.monotonic() + 5
        while True:
            down = [f"{ns.name}/{i}" for ns, i in ((self.r, MEDIA_R), (self.r, MGMT_IF_R),
                                                   (self.p, MEDIA_P), (self.p, MGMT_IF_P))
                    if ns.ip_json("link", "show", "dev", i)[0].get("operstate") != "UP"]
            if not down:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"links not operationally UP after 5 s: {down}")
            time.sleep(0.05)
        log(f"R={self.r.name}: {MEDIA_R} {self.r.mac(MEDIA_R)} (no IP: DPDK answers for "
            f"{RELAY_IP}), {MGMT_IF_R} {MGMT_R}; P={self.p.name}: {MEDIA_P} {self.p.mac(MEDIA_P)} "
            f"{PEER_IP} (tx checksum offload off), {MGMT_IF_P} {MGMT_P}")

    def check_kernel_not_owner(self) -> None:
        owned = [a["local"] for link in self.r.ip_json("-4", "addr", "show")
                 for a in link.get("addr_info", [])]
        if RELAY_IP in owned:
            raise AssertionError(f"R's kernel owns {RELAY_IP} ({owned}): it, not DPDK, could relay")
        if self.r.read_sysctl("net.ipv4.ip_forward") != "0":
            raise AssertionError("R forwards IPv4: the kernel might relay instead of DPDK")

    def teardown(self) -> None:
        """Idempotent; also from atexit after a partial create()."""
        if self.torn_down:
            return
        self.torn_down = True
        for ns in (self.r, self.p):
            for pid in ns.pids():  # all started by this test (relay, kamailio, sipp, ...)
                log(f"killing leftover pid {pid} in {ns.name}")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.r.ip("link", "del", MEDIA_R, check=False)  # removes the peers in P too
        self.r.ip("link", "del", MGMT_IF_R, check=False)
        for ns in (self.r, self.p):
            ns.delete()

    def gone(self) -> list:
        names = netns.list_namespaces()
        left = [ns.name for ns in (self.r, self.p) if ns.name in names or os.path.exists(ns.path)]
        left += [i for i in (MEDIA_R, MEDIA_P, MGMT_IF_R, MGMT_IF_P)
                 if netns.run(["ip", "link", "show", "dev", i], check=False).returncode == 0]
        return left


def relay_counters(ng: vox.NgClient) -> dict:
    st = vox.ng_statistics(ng)
    tot = st.get("totalstatistics", {})
    return {"packets received": tot.get("packets received"),
            "packets relayed": tot.get("packets relayed"),
            "drops": {k: v for k, v in tot.get("drops", {}).items() if v},
            "backend (non-zero)": {k: v for k, v in st.get("backend", {}).items() if v}}


def stop_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process, then SIGKILL its whole group (own session)."""
    vox.stop_process(proc, grace)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", type=Path, default=vox.build_dir_from_argv([]))
    ap.add_argument("--dpdk-args", default=DPDK_ARGS, help="EAL arguments (default: %(default)s)")
    args = ap.parse_args()
    build_dir = args.build_dir.resolve()

    reason = skip_reason(build_dir)
    if reason:
        print(f"SKIP: {reason}", flush=True)
        return 0
    if not (build_dir / "voxrelay").exists():
        log(f"FAIL: {build_dir / 'voxrelay'} not found (build the voxrelay target)")
        return 1
    removed = netns.reap_stale((*NS_PREFIXES, "voxprobe-"))
    if removed:
        log(f"removed stale namespaces of dead runs: {removed}")

    t0 = time.monotonic()
    errors: list = []
    topo = Topology()
    atexit.register(topo.teardown)
    tmp = Path(tempfile.mkdtemp(prefix="vox-interop-dpdk-"))
    relay_log = tmp / "voxrelay.log"
    relay: Optional[subprocess.Popen] = None
    relay_fh = None
    relay_ready = False
    inner: Optional[subprocess.Popen] = None
    ng: Optional[vox.NgClient] = None

    def abort(signum, _frame):
        raise Abort(f"watchdog: test exceeded {WATCHDOG_S} s" if signum == signal.SIGALRM
                    else f"got {signal.Signals(signum).name}")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, abort)
    signal.alarm(WATCHDOG_S)
    try:
        topo.create()
        cmd = [*topo.r.exec_prefix(), str(build_dir / "voxrelay"), "--foreground",
               f"--interface={RELAY_IP}", f"--listen-ng={MGMT_R}:{NG_PORT}",
               f"--port-min={interop.RELAY_MIN}", f"--port-max={interop.RELAY_MAX}",
               "--backend=dpdk", f"--dpdk-args={args.dpdk_args}", "--dpdk-idle-sleep-us=100"]
        log("$ " + " ".join(cmd))
        relay_fh = open(relay_log, "wb")
        # `ip netns exec` execs: this pid is voxrelay's.
        relay = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=relay_fh,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        with topo.p.entered():  # the test's NG socket lives in P, like Kamailio's
            ng = vox.NgClient(MGMT_R, NG_PORT, timeout=1.0, retries=2)
        deadline = time.monotonic() + RELAY_START_S
        while not ng.ping(timeout=0.3):
            if relay.poll() is not None:
                raise AssertionError(f"voxrelay exited with {relay.returncode} during startup")
            if time.monotonic() > deadline:
                raise AssertionError(f"voxrelay did not answer NG ping on {MGMT_R}:{NG_PORT} "
                                     f"within {RELAY_START_S} s")
        relay_ready = True
        log(f"voxrelay (pid {relay.pid}) answered NG ping after {time.monotonic() - t0:.1f} s")
        topo.check_kernel_not_owner()

        inner_cmd = [*topo.p.exec_prefix(), sys.executable, str(HERE / "test_kamailio_sipp.py"),
                     "--build-dir", str(build_dir), "--external-relay-ng", f"{MGMT_R}:{NG_PORT}",
                     "--media-ip", PEER_IP, "--relay-ip", RELAY_IP, "--sniff-iface", "any",
                     "--time-limit", str(INNER_LIMIT_S)]
        log("$ " + " ".join(inner_cmd))
        inner = subprocess.Popen(inner_cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = inner.wait(timeout=INNER_LIMIT_S + 10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"test_kamailio_sipp.py did not finish within "
                                 f"{INNER_LIMIT_S + 10} s") from None
        if rc != 0:
            errors.append(f"test_kamailio_sipp.py in {topo.p.name} against the DPDK relay "
                          f"failed (exit {rc}; its report above)")

        if relay.poll() is not None:
            raise AssertionError(f"voxrelay died during the call (exit {relay.returncode})")
        c = relay_counters(ng)
        log(f"relay counters: {c}")
        # The call's two directions: ~246 RTP packets each (the sniffer's
        # counts are above); 2 x 50 is the inner test's floor per leg.
        if not (c["packets relayed"] or 0) >= 100:
            errors.append(f"the relay counted only {c['packets relayed']} packets relayed")
        calls = ng.list_calls()
        if calls:
            errors.append(f"NG list not empty after the call: {calls}")
    except Abort as e:
        errors.append(f"{e}; cleaning up")
    except (AssertionError, OSError, vox.NgTimeout, subprocess.SubprocessError) as e:
        errors.append(f"{type(e).__name__}: {e}")
    except Exception:
        errors.append("unexpected exception:\n" + traceback.format_exc())
    finally:
        signal.alarm(0)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let the cleanup finish
        if inner is not None and inner.poll() is None:
            log("stopping test_kamailio_sipp.py (SIGTERM: it cleans up after itself)")
            stop_group(inner, 10.0)
        if relay is not None:
            rc, killed = vox.stop_process(relay, 5.0)
            relay_fh.close()
            if relay_ready and (killed or rc != 0):
                errors.append(f"voxrelay did not exit cleanly on SIGTERM: "
                              f"{'SIGKILLed after 5 s' if killed else f'exit code {rc}'}")
            elif relay_ready:
                log("voxrelay exited 0 on SIGTERM")
        if ng is not None:
            ng.close()
        topo.teardown()
        left = topo.gone()
        if left:
            errors.append(f"still present after teardown: {left}")
        if errors and relay_log.exists():
            print(f"----- voxrelay log (tail) -----\n{vox.tail(relay_log, 40)}", flush=True)
        if os.environ.get("VOX_KEEP_TMP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    for e in errors:
        log(f"  - {e}")
    log(f"{'FAIL' if errors else 'PASS'} ({time.monotonic() - t0:.1f} s, voxrelay --backend=dpdk "
        f"on net_af_packet/{MEDIA_R})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
