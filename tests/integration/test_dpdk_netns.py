#!/usr/bin/env python3
"""The DPDK backend on a veth pair between two network namespaces.

Topology (made here, removed at the end, also on failure, Ctrl-C, SIGTERM and
the watchdog; names carry this process's pid, so runs do not collide and a
SIGKILLed run's leftovers are removed by the next run):

    namespace voxr-PID (the relay host)       namespace voxp-PID (phones/SBC)
      vm-r  (media; DPDK owns it)  <------->  vm-p  10.77.0.2/24
      vg-r  10.78.0.1/24 (management) <---->  vg-p  10.78.0.2/24
      lo up                                    lo up

With --backend dpdk (the default) vm-r is up but has NO address: the relay's
DPDK process drives it through net_af_packet, so only the relay can answer
ARP, ping and RTP for 10.77.0.1 (R's kernel has no such address and does not
forward). With --backend socket vm-r gets 10.77.0.1/24 and the kernel does
the L2/L3 part; the same checks then test the topology and this test itself.
The NG control socket is on the kernel-owned management link
(10.78.0.1:22222), as on real deployments, and is driven from P.
IPv6 is disabled in both namespaces (no RS/MLD/DAD frames on the wire), and
TX checksum offload is switched off on vm-p and vm-r (see the checksum case;
--keep-offloads leaves it on to show why).

Cases:
  - topology: namespaces, veths, addresses (dpdk: R's kernel lacks 10.77.0.1);
  - relay starts in R and answers NG ping from P;
  - ARP: a raw who-has from P gets a reply naming vm-r's MAC, and P's kernel
    resolves 10.77.0.1 to that MAC (REACHABLE/STALE/DELAY);
  - ICMP: 5/5 echo replies, each with a valid checksum and the payload back;
  - relay: voxload in P, 100 calls x 2 streams x 50 pps = 10k pps through
    the relay for 5 s: zero loss, nothing misrouted/duplicated/invalid;
  - media frames on the veth: P->relay frames as af_packet hands them over on
    vm-r, and relay->P frames on vm-p, have the right MACs and valid IPv4 and
    UDP checksums; P's kernel counted no UDP checksum errors;
  - after voxload's deletes: `list` empty, sessionsown 0, port pairs back;
  - the relay exits 0 on SIGTERM; the namespaces (and so the veths) are gone.

Run (root):
  python3 tests/integration/test_dpdk_netns.py --build-dir build            # dpdk
  python3 tests/integration/test_dpdk_netns.py --build-dir build --backend socket
Prints "SKIP: ..." and exits 0 when not root, without `ip netns`, or (dpdk)
when the voxrelay binary has no DPDK backend (`--help` lacks --dpdk-args).
Exit 0 = pass.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import netns  # noqa: E402
import vox  # noqa: E402

RELAY_IP, PEER_IP = "10.77.0.1", "10.77.0.2"
MGMT_R, MGMT_P = "10.78.0.1", "10.78.0.2"
NG_PORT = 22222
PORT_MIN, PORT_MAX = 30000, 31999     # 1000 pairs; 100 calls need 200
MEDIA_R, MEDIA_P, MGMT_IF_R, MGMT_IF_P = "vm-r", "vm-p", "vg-r", "vg-p"
DEFAULT_DPDK_ARGS = ("--no-huge --no-pci -m 512 --no-shconf --no-telemetry -l 0-1 "
                     f"--vdev=net_af_packet0,iface={MEDIA_R}")
NS_PREFIXES = ("voxr-", "voxp-")   # + pid; netns.unavailable_reason() probes with voxprobe-PID
CAPTURE_FRAMES = 200                  # per direction; the capture closes after that
PARTIAL_HINT = ("af_packet flags them CSUMNOTREADY: veth TX checksum offload left the "
                "checksum unfinished (CHECKSUM_PARTIAL); a DPDK net_af_packet reader sees "
                "exactly this and software verification drops it. Run without "
                "--keep-offloads (ethtool -K IF tx off)")
WATCHDOG_S = 170                      # hard cap (ctest's TIMEOUT is 300)


class Abort(BaseException):
    """SIGTERM/SIGHUP/watchdog: not an Exception, so no case swallows it."""


def topology_args(description: str, dpdk_args: str = DEFAULT_DPDK_ARGS,
                  load: bool = True) -> argparse.ArgumentParser:
    """The options of every test on this topology; with `load`, voxload's."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--build-dir", default=str(vox.build_dir_from_argv([])))
    ap.add_argument("--backend", choices=("dpdk", "socket"), default="dpdk")
    ap.add_argument("--dpdk-args", default=dpdk_args,
                    help="EAL arguments for --backend dpdk (default: %(default)s)")
    ap.add_argument("--relay-arg", action="append", default=[],
                    help="extra voxrelay argument (repeatable), e.g. --relay-arg=--workers=2")
    ap.add_argument("--start-timeout", type=float, default=20,
                    help="seconds for the relay to answer NG ping (EAL init is slow)")
    ap.add_argument("--keep-offloads", action="store_true",
                    help="leave veth TX checksum offload on (shows partial checksums on af_packet)")
    if load:
        ap.add_argument("--calls", type=int, default=100)
        # 100 calls x 2 streams x 50 pps = 10k pps. The socket backend keeps up
        # on the 2-core test VM; if net_af_packet on veth cannot, lower this
        # and say so.
        ap.add_argument("--pps-per-stream", type=float, default=50)
        ap.add_argument("--duration", type=float, default=5)
        ap.add_argument("--warmup", type=float, default=1)
    return ap


def parse_args():
    ap = topology_args(__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=1,
                    help="relay workers; dpdk with >1: net_af_packet has no rte_flow, so worker 0 "
                         "hands the others' frames over rings (checked in the statistics)")
    return ap.parse_args()

# --------------------------------------------------------------------------
# topology


@dataclass
class MediaLink:
    """One media veth between R and P: the relay's address lives on R's end
    (DPDK's in dpdk mode, the kernel's in socket mode), the peer's on P's."""
    if_r: str
    if_p: str
    relay_ip: str
    peer_ip: str
    mac_r: str = ""
    mac_p: str = ""


class Topology:
    def __init__(self, backend: str, keep_offloads: bool):
        pid = os.getpid()
        self.backend = backend
        self.keep_offloads = keep_offloads
        self.r = netns.Netns(f"{NS_PREFIXES[0]}{pid}")
        self.p = netns.Netns(f"{NS_PREFIXES[1]}{pid}")
        self.torn_down = False
        self.mac_r = self.mac_p = ""
        self.media = MediaLink(MEDIA_R, MEDIA_P, RELAY_IP, PEER_IP)
        self.links = [self.media]   # every media link (a subclass may have several)
        # Veth pairs (R's end, P's end): teardown deletes them, check_gone()
        # checks that none is left.
        self.veths = ((MEDIA_R, MEDIA_P), (MGMT_IF_R, MGMT_IF_P))

    def create_namespaces(self) -> None:
        """R and P, lo up, IPv6 off (no RS/MLD/DAD frames on the wire)."""
        for ns in (self.r, self.p):
            ns.create()
            for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
                try:
                    ns.sysctl(key, 1)
                except FileNotFoundError:
                    pass  # kernel without IPv6

    def wait_up(self, links) -> None:
        """Until every (namespace, interface) of links is operationally UP (5 s)."""
        deadline = time.monotonic() + 5
        while True:
            down = [f"{ns.name}/{i}" for ns, i in links
                    if ns.ip_json("link", "show", "dev", i)[0].get("operstate") != "UP"]
            if not down:
                break
            assert time.monotonic() < deadline, f"links not operationally UP after 5 s: {down}"
            time.sleep(0.05)

    def create(self) -> bool:
        self.create_namespaces()
        netns.add_veth(self.r, MEDIA_R, self.p, MEDIA_P)
        netns.add_veth(self.r, MGMT_IF_R, self.p, MGMT_IF_P)
        if not self.keep_offloads:
            # veth TX checksum offload hands frames over with CHECKSUM_PARTIAL:
            # af_packet readers (DPDK's net_af_packet) then see an unfinished
            # UDP checksum. Real NICs deliver complete ones; so do we.
            netns.set_tx_checksum(self.p, MEDIA_P, False)
            netns.set_tx_checksum(self.r, MEDIA_R, False)
        self.p.ip("addr", "add", f"{PEER_IP}/24", "dev", MEDIA_P)
        if self.backend == "socket":
            self.r.ip("addr", "add", f"{RELAY_IP}/24", "dev", MEDIA_R)
        self.r.ip("addr", "add", f"{MGMT_R}/24", "dev", MGMT_IF_R)
        self.p.ip("addr", "add", f"{MGMT_P}/24", "dev", MGMT_IF_P)
        for ns, ifs in ((self.r, (MEDIA_R, MGMT_IF_R)), (self.p, (MEDIA_P, MGMT_IF_P))):
            for i in ifs:
                ns.ip("link", "set", i, "up")
        self.mac_r, self.mac_p = self.r.mac(MEDIA_R), self.p.mac(MEDIA_P)
        self.media.mac_r, self.media.mac_p = self.mac_r, self.mac_p
        self.wait_up(((self.r, MEDIA_R), (self.r, MGMT_IF_R), (self.p, MEDIA_P),
                      (self.p, MGMT_IF_P)))
        r_addrs = self.r.ipv4_addrs(MEDIA_R)
        want = [RELAY_IP] if self.backend == "socket" else []
        assert r_addrs == want, f"{self.r.name}/{MEDIA_R} has IPv4 {r_addrs}, expected {want}"
        print(f"      R={self.r.name} {MEDIA_R} {self.mac_r} "
              f"({RELAY_IP if self.backend == 'socket' else 'no IP: DPDK owns it'}), "
              f"{MGMT_IF_R} {MGMT_R};  P={self.p.name} {MEDIA_P} {self.mac_p} {PEER_IP}, "
              f"{MGMT_IF_P} {MGMT_P};  tx checksum offload "
              f"{'left on' if self.keep_offloads else 'off'}", flush=True)
        return True

    def teardown(self) -> None:
        """Idempotent; safe from atexit after a partial create()."""
        if self.torn_down:
            return
        self.torn_down = True
        for ns in (self.r, self.p):
            # Anything still inside was started by this test (relay, voxload).
            for pid in ns.pids():
                print(f"[netns] killing leftover pid {pid} in {ns.name}", flush=True)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for veth_r, _ in self.veths:   # deleting one end removes its peer in P
            self.r.ip("link", "del", veth_r, check=False)
        for ns in (self.r, self.p):
            ns.delete()


# --------------------------------------------------------------------------
# relay in R


class NsRelay:
    """voxrelay in R. interfaces: its --interface values; extra_args go
    before --relay-arg's (e.g. --dpdk-port)."""

    def __init__(self, topo: Topology, build_dir: Path, args, interfaces=(RELAY_IP,),
                 extra_args=()):
        self.topo = topo
        self.workdir = Path(tempfile.mkdtemp(prefix="vox-netns-"))
        self.log_path = self.workdir / "voxrelay.log"
        cmd = [str(build_dir / "voxrelay"), "--foreground",
               *(f"--interface={i}" for i in interfaces),
               f"--listen-ng={MGMT_R}:{NG_PORT}", f"--port-min={PORT_MIN}",
               f"--port-max={PORT_MAX}", f"--backend={args.backend}",
               "--delete-delay=0", "--timeout=60"]
        if args.workers > 1:
            cmd.append(f"--workers={args.workers}")
        if args.backend == "dpdk":
            dpdk_args = args.dpdk_args
            if args.workers > 1 and dpdk_args == DEFAULT_DPDK_ARGS:
                # One TX queue per worker (af_packet: qpairs); workers + 1
                # lcores, the workers sharing CPU 1 of this 2-core VM, so
                # they nap when idle.
                lcores = ",".join(f"{w}@1" for w in range(1, args.workers + 1))
                dpdk_args = dpdk_args.replace("-l 0-1", f"--lcores=0@0,{lcores}")
                dpdk_args += f",qpairs={args.workers}"
                cmd.append("--dpdk-idle-sleep-us=50")
            cmd.append(f"--dpdk-args={dpdk_args}")
        self.cmd = [*topo.r.exec_prefix(), *cmd, *extra_args, *args.relay_arg]
        self.proc: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None
        self.killed = False
        self.ready = False

    def start(self, ng: vox.NgClient, timeout: float) -> bool:
        print(f"      $ {' '.join(self.cmd)}", flush=True)
        self._log = open(self.log_path, "wb")
        # `ip netns exec` execs the command: this pid is voxrelay's.
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"voxrelay exited with {self.proc.returncode} during "
                                     f"startup:\n{self.log_tail()}")
            if ng.ping(timeout=0.3):
                self.ready = True
                print(f"      relay pid {self.proc.pid} answered NG ping after "
                      f"{time.monotonic() - t0:.1f} s", flush=True)
                return True
        raise AssertionError(f"voxrelay did not answer NG ping on {MGMT_R}:{NG_PORT} (from P) "
                             f"within {timeout} s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> Optional[int]:
        if self.proc is None or self.returncode is not None:
            return self.returncode
        self.returncode, self.killed = vox.stop_process(self.proc, 10.0)
        self._log.close()
        return self.returncode

    def log_tail(self, lines: int = 30) -> str:
        return vox.tail(self.log_path, lines)

    def cleanup(self) -> None:
        if not os.environ.get("VOX_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


# --------------------------------------------------------------------------
# cases


def check_kernel_not_owner(topo: Topology, relay_ips=(RELAY_IP,)) -> None:
    owned = [a["local"] for link in topo.r.ip_json("-4", "addr", "show")
             for a in link.get("addr_info", [])]
    for relay_ip in relay_ips:
        assert relay_ip not in owned, \
            f"R's kernel owns {relay_ip} ({owned}): ARP/ping replies would prove nothing about DPDK"
    fwd = topo.r.read_sysctl("net.ipv4.ip_forward")
    assert fwd == "0", f"R forwards IPv4 (ip_forward={fwd}): the kernel might relay instead"


def check_arp(topo: Topology, link: Optional[MediaLink] = None) -> None:
    """who-has link.relay_ip from P (default: topo.media) names R's end's MAC,
    in a raw reply and in P's kernel's neighbour entry."""
    lk = link or topo.media
    p = topo.p
    p.ip("neigh", "flush", "dev", lk.if_p)
    rep = netns.arp_request(p, lk.if_p, lk.peer_ip, lk.relay_ip, timeout=1.0, attempts=3)
    assert rep is not None, f"no ARP reply for who-has {lk.relay_ip} tell {lk.peer_ip} on " \
                            f"{lk.if_p} (3 requests, 1 s each)"
    problems = []
    for what, got, want in (("sender MAC", rep.sender_mac, lk.mac_r),
                            ("Ethernet source", rep.eth_src, lk.mac_r),
                            ("Ethernet destination", rep.eth_dst, lk.mac_p),
                            ("target MAC", rep.target_mac, lk.mac_p),
                            ("target IP", rep.target_ip, lk.peer_ip)):
        if got != want:
            problems.append(f"{what} {got}, expected {want}")
    assert not problems, f"ARP reply for {lk.relay_ip}: " + "; ".join(problems) + f" ({rep})"
    # Now the kernel's own resolution, triggered by one echo request.
    p.ip("neigh", "flush", "dev", lk.if_p)
    netns.icmp_ping(p, lk.relay_ip, count=1, timeout=1.0)
    deadline = time.monotonic() + 2.0
    entry = None
    while time.monotonic() < deadline:
        entries = p.ip_json("neigh", "show", lk.relay_ip, "dev", lk.if_p)
        entry = entries[0] if entries else None
        if entry and entry.get("lladdr") and set(entry.get("state", [])) & {
                "REACHABLE", "STALE", "DELAY"}:
            break
        time.sleep(0.1)
    assert entry and entry.get("lladdr"), \
        f"P's kernel did not resolve {lk.relay_ip} on {lk.if_p} within 2 s (neigh: {entry})"
    assert entry["lladdr"].lower() == lk.mac_r, \
        f"P's neighbour entry for {lk.relay_ip} has lladdr {entry['lladdr']}, expected " \
        f"{lk.if_r}'s MAC {lk.mac_r}"
    assert set(entry.get("state", [])) & {"REACHABLE", "STALE", "DELAY"}, \
        f"P's neighbour entry for {lk.relay_ip} is {entry.get('state')}: {entry}"
    print(f"      ARP reply {rep.sender_ip} is-at {rep.sender_mac}; P neigh {lk.relay_ip} "
          f"lladdr {entry['lladdr']} {'/'.join(entry.get('state', []))}", flush=True)


def check_ping(topo: Topology, link: Optional[MediaLink] = None) -> None:
    lk = link or topo.media
    r = netns.icmp_ping(topo.p, lk.relay_ip, count=5, interval=0.2, timeout=1.0)
    rtt = f"rtt min/max {min(r.rtts_ms):.2f}/{max(r.rtts_ms):.2f} ms" if r.rtts_ms else "no rtt"
    print(f"      ping {lk.relay_ip} from P: {r.replies}/{r.sent} valid replies, {rtt}", flush=True)
    assert not r.bad, f"invalid echo replies from {lk.relay_ip}: {r.bad}"
    assert r.replies == r.sent == 5, f"{r.replies} of {r.sent} echo requests to {lk.relay_ip} " \
                                     f"answered within 1 s each"


class LoadResult:
    def __init__(self):
        self.report: dict = {}
        self.cap_in: Optional[netns.FrameCapture] = None     # on vm-r: P -> relay
        self.cap_out: Optional[netns.FrameCapture] = None    # on vm-p: relay -> P
        self.snmp_before: dict = {}
        self.snmp_after: dict = {}
        self.stats_before: dict = {}
        self.stats_after: dict = {}


def _stats_diag(ng: vox.NgClient) -> str:
    try:
        st = vox.ng_statistics(ng)
    except Exception as e:  # diagnostics only
        return f"(statistics failed: {e})"
    tot = st.get("totalstatistics", {})
    drops = {k: v for k, v in tot.get("drops", {}).items() if v}
    return (f"relay statistics: received {tot.get('packets received')}, relayed "
            f"{tot.get('packets relayed')}, drops {drops or 'none'}, backend "
            f"{st.get('backend', {})}")


def run_load(topo: Topology, relay: NsRelay, ng: vox.NgClient, build_dir: Path, args,
             res: LoadResult) -> None:
    def from_peer(data, pkttype):   # what af_packet on vm-r hands to the relay
        u = netns.parse_udp4(data)
        return (pkttype != netns.PACKET_OUTGOING and u is not None and u.src == PEER_IP
                and u.dst == RELAY_IP and PORT_MIN <= u.dport <= PORT_MAX)

    def from_relay(data, pkttype):  # what P's kernel gets from the relay
        u = netns.parse_udp4(data)
        return (pkttype != netns.PACKET_OUTGOING and u is not None and u.src == RELAY_IP
                and u.dst == PEER_IP and PORT_MIN <= u.sport <= PORT_MAX)

    res.cap_in = netns.FrameCapture(topo.r, MEDIA_R, from_peer, CAPTURE_FRAMES).start()
    res.cap_out = netns.FrameCapture(topo.p, MEDIA_P, from_relay, CAPTURE_FRAMES).start()
    run_voxload(topo, relay, ng, build_dir, args, res, ["--local", PEER_IP],
                (res.cap_in, res.cap_out))


def run_voxload(topo: Topology, relay: NsRelay, ng: vox.NgClient, build_dir: Path, args,
                res: LoadResult, media_args, captures) -> None:
    """voxload in P with media_args (its addresses, interfaces); the running
    captures are stopped when it ends. Fails on anything but a clean run."""
    res.snmp_before = topo.p.snmp("Udp")
    res.stats_before = vox.ng_statistics(ng)
    cmd = [*topo.p.exec_prefix(), str(build_dir / "voxload"), "--ng", f"{MGMT_R}:{NG_PORT}",
           "--calls", str(args.calls), *media_args,
           "--pps-per-stream", f"{args.pps_per_stream:g}", "--duration", f"{args.duration:g}",
           "--warmup", f"{args.warmup:g}", "--drain-ms", "500", "--json",
           "--relay-pid", str(relay.proc.pid)]
    print(f"      $ {' '.join(cmd)}", flush=True)
    limit = args.warmup + args.duration + 0.05 * args.calls + 30
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"voxload did not finish within {limit:.0f} s; "
                             f"{_stats_diag(ng)}\nrelay log:\n{relay.log_tail()}")
    finally:
        for cap in captures:
            cap.stop()
    res.snmp_after = topo.p.snmp("Udp")
    res.stats_after = vox.ng_statistics(ng) if relay.alive() else {}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"voxload exited {out.returncode} without a JSON report; stderr:\n" \
                  f"{vox.tail(out.stderr, 15)}\n{_stats_diag(ng)}"
    rep = res.report = json.loads(lines[-1])
    print(f"      voxload: {rep.get('calls')} calls, sent {rep.get('sent')}, delivered "
          f"{rep.get('delivered')}, lost {rep.get('lost')} in {rep.get('window_s', 0):.2f} s; "
          f"offered {rep.get('offered_pps', 0):.0f} pps (target {rep.get('target_pps', 0):.0f}), "
          f"latency p50/p99/max {rep.get('latency_p50_us', 0):.0f}/"
          f"{rep.get('latency_p99_us', 0):.0f}/{rep.get('latency_max_us', 0):.0f} us, relay cpu "
          f"{rep.get('relay_cpu_pct', -1):.0f} %", flush=True)
    problems = []
    if out.returncode != 0:
        problems.append(f"exit code {out.returncode}")
    if rep.get("calls") != args.calls or rep.get("setup_errors"):
        problems.append(f"{rep.get('calls')} of {args.calls} calls set up, "
                        f"{rep.get('setup_errors')} errors (first: {rep.get('setup_first_error')})")
    sent, delivered = int(rep.get("sent", 0)), int(rep.get("delivered", 0))
    if sent <= 0 or delivered <= 0:
        problems.append(f"sent {sent}, delivered {delivered}: no media went through")
    if rep.get("lost") or delivered != sent:
        problems.append(f"lost {rep.get('lost')} of {sent} ({rep.get('loss_pct', 0):.3f} %), "
                        f"delivered {delivered}")
    for k in ("duplicates", "misrouted", "invalid", "send_errors", "recv_errors",
              "delete_errors"):
        if rep.get(k):
            problems.append(f"{k} {rep[k]}")
    if problems:
        raise AssertionError("voxload through the relay: " + "; ".join(problems) +
                             f"\n        {_stats_diag(ng)}\n        voxload stderr: "
                             f"{vox.tail(out.stderr, 5)}")
    if args.backend == "dpdk" and args.workers > 1:
        handed = res.stats_after.get("backend", {}).get("handed off", 0)
        assert handed > 0, (f"{args.workers} workers on a port without rte_flow, yet worker 0 "
                            f"handed no frame to another worker: {_stats_diag(ng)}")
        print(f"      worker 0 handed {handed} frames to the other worker(s)", flush=True)
    target = float(rep.get("target_pps", 0))
    if target and float(rep.get("offered_pps", 0)) < 0.9 * target:
        print(f"      NOTE: voxload offered only {rep['offered_pps']:.0f} of {target:.0f} pps "
              f"(skipped {rep.get('send_skipped')}): the generator, not the relay, was short "
              f"of CPU", flush=True)


# The relay marks what it sends (--tos, DSCP EF); the frames P gets show it,
# with an IP header checksum still valid (patched after the rewrite).
RELAY_TOS = 184


def examine_frames(cap: netns.FrameCapture, what: str, src_mac: str, dst_mac: str, hint: str,
                   problems: list, tos: Optional[int] = None) -> None:
    """Every captured frame: src_mac -> dst_mac, IPv4 and UDP checksums valid
    (UDP's present), and the IPv4 TOS octet `tos` when given. Prints the
    tally; appends what is wrong to problems."""
    if not cap.frames:
        problems.append(f"{what}: no frames captured ({cap.seen} frames seen in total)")
        return
    bad_udp = bad_ip = partial = valid_flag = bad_mac = zero = bad_tos = 0
    example = ""
    for f in cap.frames:
        u = netns.parse_udp4(f.data)
        if f.tp_status >= 0 and f.tp_status & netns.TP_STATUS_CSUMNOTREADY:
            partial += 1
        if f.tp_status >= 0 and f.tp_status & netns.TP_STATUS_CSUM_VALID:
            valid_flag += 1
        if not u.ip_csum_ok:
            bad_ip += 1
        if u.udp_csum == 0:
            zero += 1
        elif not u.udp_csum_ok:
            bad_udp += 1
            example = example or f"{u.src}:{u.sport} -> {u.dst}:{u.dport} csum " \
                                 f"0x{u.udp_csum:04x}"
        if netns.mac_str(f.data[6:12]) != src_mac or netns.mac_str(f.data[0:6]) != dst_mac:
            bad_mac += 1
        if tos is not None and f.data[15] != tos:  # IPv4, no VLAN: the TOS octet
            bad_tos += 1
    n = len(cap.frames)
    print(f"      {what}: {n} frames, UDP checksum invalid {bad_udp}, zero {zero}, IP header "
          f"checksum invalid {bad_ip}; af_packet status CSUMNOTREADY {partial}, CSUM_VALID "
          f"{valid_flag}; wrong MACs {bad_mac}", flush=True)
    if bad_udp or bad_ip:
        problems.append(f"{what}: {bad_udp} of {n} frames with an invalid UDP checksum "
                        f"(e.g. {example}), {bad_ip} with an invalid IP header checksum"
                        f"{'; ' + hint if partial else ''}")
    if zero:
        problems.append(f"{what}: {zero} of {n} frames without a UDP checksum (0)")
    if bad_mac:
        problems.append(f"{what}: {bad_mac} of {n} frames not {src_mac} -> {dst_mac}")
    if bad_tos:
        problems.append(f"{what}: {bad_tos} of {n} frames without TOS {tos} (--tos={tos})")


def check_frames(topo: Topology, res: LoadResult) -> None:
    assert res.cap_in is not None and res.cap_out is not None, "no capture (load case failed early)"
    for cap in (res.cap_in, res.cap_out):
        assert cap.error is None, f"capture on {cap.ns.name}/{cap.ifname} failed: {cap.error!r}"
    problems = []
    examine_frames(res.cap_in, f"P->relay on {MEDIA_R} (what the relay reads)", topo.mac_p,
                   topo.mac_r, PARTIAL_HINT, problems)
    examine_frames(res.cap_out, f"relay->P on {MEDIA_P} (what P's kernel gets)", topo.mac_r,
                   topo.mac_p, PARTIAL_HINT, problems, tos=RELAY_TOS)
    check_udp_snmp(res, problems)
    assert not problems, "\n        ".join(problems)


def check_udp_snmp(res: LoadResult, problems: list) -> None:
    """P's kernel counted no UDP checksum errors during the load."""
    b, a = res.snmp_before, res.snmp_after
    if b and a:
        d = {k: a.get(k, 0) - b.get(k, 0) for k in ("InDatagrams", "InCsumErrors", "InErrors",
                                                     "NoPorts", "RcvbufErrors")}
        print(f"      P's /proc/net/snmp Udp during the load: {d}", flush=True)
        if d["InCsumErrors"]:
            problems.append(f"P's kernel dropped {d['InCsumErrors']} UDP datagrams from the "
                            f"relay for bad checksums (Udp InCsumErrors)")


def check_no_calls(ng: vox.NgClient, initial_free: int) -> None:
    deadline = time.monotonic() + 5.0
    while True:
        listed = vox.ng_ok(ng, {"command": "list", "limit": 1000}).get("calls", [])
        cur = vox.ng_statistics(ng)["currentstatistics"]
        own, free = int(cur["sessionsown"]), int(cur["free port pairs"])
        if not listed and own == 0 and free == initial_free:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"5 s after the deletes: list has {len(listed)} "
                                 f"(e.g. {listed[:3]}), sessionsown {own}, free port pairs "
                                 f"{free} (before the calls: {initial_free})")
        time.sleep(0.2)


def preflight(build_dir: Path, backend: str, exes) -> Optional[int]:
    """What every test on this topology checks first: namespaces usable
    (else SKIP, 0), the binaries built (else FAIL, 1), voxrelay built with
    DPDK when the backend is dpdk (else SKIP, 0). None: go on, after
    removing the namespaces of dead runs."""
    reason = netns.unavailable_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 0
    for exe in exes:
        if not (build_dir / exe).exists():
            print(f"FAIL: {build_dir / exe} not found (build the {exe} target)")
            return 1
    if backend == "dpdk":
        h = netns.run([build_dir / "voxrelay", "--help"], check=False)
        if "--dpdk-args" not in h.stdout + h.stderr:
            print(f"SKIP: {build_dir / 'voxrelay'} has no DPDK backend (its --help lacks "
                  f"--dpdk-args); build with libdpdk, or run with --backend socket")
            return 0
    removed = netns.reap_stale((*NS_PREFIXES, "voxprobe-"))
    if removed:
        print(f"[netns] removed stale namespaces of dead runs: {removed}")
    return None


def release(relay, ng, topo: Topology) -> None:
    """Stops the relay (SIGTERM), closes NG and removes the namespaces: the
    `finally` of every test on this topology."""
    signal.alarm(0)
    if relay is not None and relay.proc is not None:
        relay.stop()
    if ng is not None:
        ng.close()
    topo.teardown()


def run_cases(runner, topo: Topology, args, build_dir: Path, cases, topo_label: str,
              relay_kwargs: Optional[dict] = None, watchdog_s: int = WATCHDOG_S) -> int:
    """The frame of every test on this topology: the watchdog and signals,
    the namespaces, NG from P, the relay started in R (dpdk: R's kernel owns
    none of its addresses), `cases(relay, ng)`, no calls left afterwards,
    the relay still alive; and on every way out the cleanup and the
    shutdown checks. Returns the exit code."""
    atexit.register(topo.teardown)

    def abort(signum, _frame):
        raise Abort(f"signal {signal.Signals(signum).name}")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, abort)
    signal.alarm(watchdog_s)

    relay: Optional[NsRelay] = None
    ng: Optional[vox.NgClient] = None
    be = args.backend
    try:
        if runner.run(f"topology: namespaces R/P, {topo_label}", topo.create):
            with topo.p.entered():   # the NG socket lives in P, like voxload's
                ng = vox.NgClient(MGMT_R, NG_PORT, timeout=1.0, retries=2)
            relay = NsRelay(topo, build_dir, args, **(relay_kwargs or {}))
            if runner.run(f"relay ({be}) starts in R and answers NG ping from P",
                          relay.start, ng, args.start_timeout):
                if be == "dpdk":
                    owned = [lk.relay_ip for lk in topo.links]
                    runner.run(f"R's kernel does not own {' or '.join(owned)} and does not "
                               f"forward", check_kernel_not_owner, topo, owned)
                initial_free = vox.free_port_pairs(ng)
                cases(relay, ng)
                runner.run("no calls left after the cases' deletes (list, sessionsown, port pairs)",
                           check_no_calls, ng, initial_free)
                if not relay.alive():
                    runner.fail("relay alive after the cases",
                                f"voxrelay exited with {relay.proc.returncode}:\n{relay.log_tail()}")
    except (Abort, KeyboardInterrupt) as e:
        runner.fail("interrupted", f"{type(e).__name__}: {e}; cleaning up")
    finally:
        release(relay, ng, topo)
    return check_shutdown(runner, relay, topo)


def check_shutdown(runner, relay, topo: Topology) -> int:
    """After release(): the relay exited 0 on SIGTERM and nothing is left."""
    if relay is not None and relay.ready:
        def clean_exit():
            how = "needed SIGKILL after 10 s" if relay.killed else f"exit code {relay.returncode}"
            assert relay.returncode == 0 and not relay.killed, \
                f"voxrelay {how} after SIGTERM:\n{relay.log_tail()}"
        runner.run("relay exits 0 on SIGTERM", clean_exit)
    if relay is not None:
        relay.cleanup()
    runner.run("cleanup: namespaces and veths gone", check_gone, topo)
    return runner.finish()


def check_gone(topo: Topology) -> None:
    names = netns.list_namespaces()
    left = [ns.name for ns in (topo.r, topo.p) if ns.name in names or os.path.exists(ns.path)]
    assert not left, f"namespaces still present after teardown: {left}"
    root_links = [i for pair in topo.veths for i in pair
                  if netns.run(["ip", "link", "show", "dev", i], check=False).returncode == 0]
    assert not root_links, f"veths {root_links} exist in the root namespace"


# --------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    build_dir = Path(args.build_dir).resolve()
    early = preflight(build_dir, args.backend, ("voxrelay", "voxload"))
    if early is not None:
        return early

    runner = vox.CaseRunner(f"test_dpdk_netns (--backend {args.backend}, {args.workers} worker(s))")

    def cases(relay, ng):
        runner.run(f"ARP: who-has {RELAY_IP} from P answered with {MEDIA_R}'s MAC", check_arp, topo)
        runner.run(f"ICMP: 5/5 echo replies from {RELAY_IP}, checksums and payload valid",
                   check_ping, topo)
        res = LoadResult()
        pps = 2 * args.calls * args.pps_per_stream
        runner.run(f"relay: voxload {args.calls} calls, {pps:.0f} pps for {args.duration:g} s "
                   f"from P, zero loss", run_load, topo, relay, ng, build_dir, args, res)
        runner.run("media frames on the veth: MACs, IPv4 and UDP checksums both ways",
                   check_frames, topo, res)

    topo = Topology(args.backend, args.keep_offloads)
    return run_cases(runner, topo, args, build_dir, cases, "media + management veths, addresses",
                     relay_kwargs={"extra_args": [f"--tos={RELAY_TOS}"]})

if __name__ == "__main__":
    sys.exit(main())
