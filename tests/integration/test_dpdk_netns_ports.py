#!/usr/bin/env python3
"""Two media ports: NG interfaces bound to their own DPDK ports, each address
answered and each call side's media relayed on its own link only.

Topology (test_dpdk_netns.py's namespaces, names, cleanup and helpers,
imported; a third veth):

    namespace voxr-PID (the relay host)         namespace voxp-PID (trunk,
      vt-r  (trunk media; DPDK owns it) <------>  vt-p  10.77.0.2/24   clients,
      vc-r  (clients media; DPDK owns it) <---->  vc-p  10.79.0.2/24   signaling)
      vg-r  10.78.0.1/24 (management) <-------->  vg-p  10.78.0.2/24

The relay runs with --interface=trunk/10.77.0.1 --interface=clients/10.79.0.1
and NG on 10.78.0.1:22222. With --backend dpdk (the default) vt-r and vc-r
have no kernel address: net_af_packet0 (vt-r) is the trunk's DPDK port and
net_af_packet1 (vc-r) the clients' (--dpdk-port=ETHDEV=IFNAME). With
--backend socket vt-r gets 10.77.0.1/24 and vc-r 10.79.0.1/24, and R's
arp_ignore is 1: Linux otherwise (arp_ignore=0) answers for any of its
addresses on any link, and the "only on its own port" case below could not
hold; the socket mode checks the topology, voxload's --local-b/--direction
and this test itself.

Cases:
  - topology (dpdk: R's kernel owns neither relay address, does not forward);
  - relay starts in R and answers NG ping from P;
  - ARP: who-has 10.77.0.1 on vt-p is answered with vt-r's MAC, who-has
    10.79.0.1 on vc-p with vc-r's (raw reply and P's neighbour entry);
  - ARP: who-has 10.79.0.1 on vt-p and who-has 10.77.0.1 on vc-p get no
    reply (an address is answered on its own port only);
  - ICMP: 5/5 echo replies from 10.77.0.1 and from 10.79.0.1;
  - voxload in P, A (caller) on 10.77.0.2, B (callee) on 10.79.0.2, NG
    direction [trunk, clients]: 100 calls x 2 streams x 50 pps for 5 s,
    zero loss, nothing misrouted/duplicated/invalid;
  - frames from the relay on vt-p come from vt-r's MAC and 10.77.0.1, those
    on vc-p from vc-r's MAC and 10.79.0.1, checksums valid; no UDP to or from
    the clients subnet crosses the trunk link, nor the reverse (whole run,
    kernel-filtered captures);
  - after voxload's deletes: `list` empty, sessionsown 0, port pairs back;
  - the relay exits 0 on SIGTERM; the namespaces (and so the veths) are gone.

Run (root):
  python3 tests/integration/test_dpdk_netns_ports.py --build-dir build            # dpdk
  python3 tests/integration/test_dpdk_netns_ports.py --build-dir build --backend socket
Prints "SKIP: ..." and exits 0 when not root, without `ip netns`, or (dpdk)
when voxrelay has no DPDK backend. Exit 0 = pass.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import netns  # noqa: E402
import vox  # noqa: E402
import test_dpdk_netns as dn  # noqa: E402

TRUNK = dn.MediaLink("vt-r", "vt-p", "10.77.0.1", "10.77.0.2")
CLIENTS = dn.MediaLink("vc-r", "vc-p", "10.79.0.1", "10.79.0.2")
LINKS = {"trunk": TRUNK, "clients": CLIENTS}   # NG interface name -> its link
DEFAULT_DPDK_ARGS = ("--no-huge --no-pci -m 512 --no-shconf --no-telemetry -l 0-1 "
                     f"--vdev=net_af_packet0,iface={TRUNK.if_r} "
                     f"--vdev=net_af_packet1,iface={CLIENTS.if_r}")
DPDK_PORTS = ("--dpdk-port=net_af_packet0=trunk", "--dpdk-port=net_af_packet1=clients")
STRAY_FRAMES = 20     # a few are proof enough; the capture closes after that
PROBE = b"voxload-ports-probe"   # UDP payload of the frame that proves a stray capture sees
WATCHDOG_S = 170      # hard cap (ctest's TIMEOUT is 300)
SO_ATTACH_FILTER = 26


def parse_args():
    ap = dn.topology_args(__doc__.split("\n")[0], DEFAULT_DPDK_ARGS)
    ap.set_defaults(workers=1)   # dn.NsRelay and dn.run_voxload read it
    return ap.parse_args()

# --------------------------------------------------------------------------
# topology


class PortsTopology(dn.Topology):
    """dn.Topology with a trunk and a clients media link instead of one."""

    def __init__(self, backend: str, keep_offloads: bool):
        super().__init__(backend, keep_offloads)
        self.links = [dn.MediaLink(lk.if_r, lk.if_p, lk.relay_ip, lk.peer_ip)
                      for lk in LINKS.values()]
        self.trunk, self.clients = self.links
        self.veths = (*((lk.if_r, lk.if_p) for lk in self.links), (dn.MGMT_IF_R, dn.MGMT_IF_P))

    def create(self) -> bool:
        self.create_namespaces()
        for lk in self.links:
            netns.add_veth(self.r, lk.if_r, self.p, lk.if_p)
            if not self.keep_offloads:   # why: dn.Topology.create
                netns.set_tx_checksum(self.p, lk.if_p, False)
                netns.set_tx_checksum(self.r, lk.if_r, False)
            self.p.ip("addr", "add", f"{lk.peer_ip}/24", "dev", lk.if_p)
            if self.backend == "socket":
                self.r.ip("addr", "add", f"{lk.relay_ip}/24", "dev", lk.if_r)
        netns.add_veth(self.r, dn.MGMT_IF_R, self.p, dn.MGMT_IF_P)
        self.r.ip("addr", "add", f"{dn.MGMT_R}/24", "dev", dn.MGMT_IF_R)
        self.p.ip("addr", "add", f"{dn.MGMT_P}/24", "dev", dn.MGMT_IF_P)
        if self.backend == "socket":
            # Answer ARP only for addresses of the link asked on, as the DPDK
            # ports do (the max of all/IFNAME applies).
            self.r.sysctl("net.ipv4.conf.all.arp_ignore", 1)
        ends = [(self.r, lk.if_r) for lk in self.links] + [(self.p, lk.if_p) for lk in self.links]
        ends += [(self.r, dn.MGMT_IF_R), (self.p, dn.MGMT_IF_P)]
        for ns, i in ends:
            ns.ip("link", "set", i, "up")
        for lk in self.links:
            lk.mac_r, lk.mac_p = self.r.mac(lk.if_r), self.p.mac(lk.if_p)
        self.wait_up(ends)
        for lk in self.links:
            r_addrs = self.r.ipv4_addrs(lk.if_r)
            want = [lk.relay_ip] if self.backend == "socket" else []
            assert r_addrs == want, f"{self.r.name}/{lk.if_r} has IPv4 {r_addrs}, expected {want}"
        owner = "kernel" if self.backend == "socket" else "DPDK"
        print(f"      R={self.r.name}: " + ", ".join(
            f"{lk.if_r} {lk.mac_r} ({lk.relay_ip}, {owner})" for lk in self.links) +
            f", {dn.MGMT_IF_R} {dn.MGMT_R};  P={self.p.name}: " + ", ".join(
            f"{lk.if_p} {lk.mac_p} {lk.peer_ip}" for lk in self.links) +
            f", {dn.MGMT_IF_P} {dn.MGMT_P};  tx checksum offload "
            f"{'left on' if self.keep_offloads else 'off'}", flush=True)
        return True


# --------------------------------------------------------------------------
# cases


def check_arp_only_own_port(topo: PortsTopology) -> None:
    """who-has each relay address sent on the other link gets no reply."""
    problems = []
    for asked_on, other in ((topo.trunk, topo.clients), (topo.clients, topo.trunk)):
        rep = netns.arp_request(topo.p, asked_on.if_p, asked_on.peer_ip, other.relay_ip,
                                timeout=0.5, attempts=2)
        print(f"      who-has {other.relay_ip} on {asked_on.if_p}: "
              f"{'is-at ' + rep.sender_mac if rep else 'no reply'}", flush=True)
        if rep is not None:
            problems.append(f"who-has {other.relay_ip} tell {asked_on.peer_ip} on "
                            f"{asked_on.if_p} answered is-at {rep.sender_mac} ({other.if_r} is "
                            f"{other.mac_r}, {asked_on.if_r} {asked_on.mac_r})")
    assert not problems, "; ".join(problems)


def subnet_filter(subnet_ip: str) -> bytes:
    """Classic BPF: accept IPv4/UDP frames whose source or destination lies in
    subnet_ip's /24, so the kernel keeps the media itself out of Python."""
    net = struct.unpack("!I", socket.inet_aton(subnet_ip))[0] & 0xFFFFFF00
    prog = ((0x28, 0, 0, 12),             # ldh [12]          ethertype
            (0x15, 0, 8, 0x0800),         # jeq #IPv4, else drop
            (0x30, 0, 0, 23),             # ldb [23]          IP protocol
            (0x15, 0, 6, 17),             # jeq #UDP, else drop
            (0x20, 0, 0, 26),             # ld [26]           source address
            (0x54, 0, 0, 0xFFFFFF00),     # and #/24
            (0x15, 4, 0, net),            # jeq #net -> accept
            (0x20, 0, 0, 30),             # ld [30]           destination address
            (0x54, 0, 0, 0xFFFFFF00),
            (0x15, 1, 0, net),            # jeq #net -> accept
            (0x06, 0, 0, 0),              # drop: ret #0
            (0x06, 0, 0, 0x40000))        # accept: ret #262144
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


class FilteredCapture(netns.FrameCapture):
    """A FrameCapture with a kernel-side BPF filter, for captures that watch a
    whole load run (accept() still judges every frame, including any queued
    before the filter was attached)."""

    def __init__(self, ns, ifname, accept, limit, bpf: bytes):
        super().__init__(ns, ifname, accept, limit)
        self.bpf = bpf

    def start(self) -> "FilteredCapture":
        super().start()
        buf = ctypes.create_string_buffer(self.bpf, len(self.bpf))
        fprog = struct.pack("HL", len(self.bpf) // 8, ctypes.addressof(buf))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # copied by the kernel
        return self


def send_probe(ns: netns.Netns, ifname: str, src_ip: str, dst_ip: str) -> None:
    """One UDP frame (port 9, PROBE) out of ifname, from src_ip: the stray
    capture on ifname must see it, so seeing nothing else means something.
    Addressed to ifname's own MAC, so the far end ignores it."""
    mac = netns.mac_bytes(ns.mac(ifname))
    src, dst = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    udp = struct.pack("!HHHH", 9, 9, 8 + len(PROBE), 0) + PROBE
    csum = 0xFFFF - netns.inet_checksum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp)
    udp = udp[:6] + struct.pack("!H", csum or 0xFFFF) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", 0xFFFF - netns.inet_checksum(ip)) + ip[12:]
    with ns.entered():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        s.bind((ifname, 0))
        s.send(mac + mac + struct.pack("!H", netns.ETH_P_IP) + ip + udp)
    finally:
        s.close()


def is_probe(frame: netns.Frame) -> bool:
    u = netns.parse_udp4(frame.data)
    return u is not None and u.sport == u.dport == 9 and u.payload == PROBE


class PortsLoad(dn.LoadResult):
    def __init__(self):
        super().__init__()
        self.from_relay: dict = {}   # link -> capture on P's end of frames from the relay
        self.stray: dict = {}        # link -> capture of the other link's subnet on it


def run_load(topo: PortsTopology, relay: dn.NsRelay, ng: vox.NgClient, build_dir: Path, args,
             res: PortsLoad) -> None:
    def from_relay(lk: dn.MediaLink):   # relay media to P on lk, whatever its source
        def accept(data, pkttype):
            u = netns.parse_udp4(data)
            return (pkttype != netns.PACKET_OUTGOING and u is not None and u.dst == lk.peer_ip
                    and dn.PORT_MIN <= u.sport <= dn.PORT_MAX)
        return accept

    def other_subnet(other: dn.MediaLink):   # anything of the other link's /24, either way
        net = other.relay_ip.rsplit(".", 1)[0] + "."

        def accept(data, _pkttype):
            u = netns.parse_udp4(data)
            return u is not None and (u.src.startswith(net) or u.dst.startswith(net))
        return accept

    for lk, other in ((topo.trunk, topo.clients), (topo.clients, topo.trunk)):
        res.from_relay[lk.if_p] = netns.FrameCapture(topo.p, lk.if_p, from_relay(lk),
                                                     dn.CAPTURE_FRAMES).start()
        res.stray[lk.if_p] = FilteredCapture(topo.p, lk.if_p, other_subnet(other),
                                             STRAY_FRAMES, subnet_filter(other.relay_ip)).start()
        # From an unused address of the other subnet, to one of this link's.
        send_probe(topo.p, lk.if_p, other.relay_ip.rsplit(".", 1)[0] + ".254",
                   lk.relay_ip.rsplit(".", 1)[0] + ".254")
    media_args = ["--local", topo.trunk.peer_ip, "--local-b", topo.clients.peer_ip,
                  "--direction", "trunk,clients"]
    dn.run_voxload(topo, relay, ng, build_dir, args, res, media_args,
                   (*res.from_relay.values(), *res.stray.values()))


def check_frames(topo: PortsTopology, res: PortsLoad) -> None:
    assert res.from_relay and res.stray, "no capture (load case failed early)"
    for cap in (*res.from_relay.values(), *res.stray.values()):
        assert cap.error is None, f"capture on {cap.ns.name}/{cap.ifname} failed: {cap.error!r}"
    problems = []
    for lk in topo.links:
        cap = res.from_relay[lk.if_p]
        dn.examine_frames(cap, f"relay->P on {lk.if_p}", lk.mac_r, lk.mac_p, dn.PARTIAL_HINT,
                          problems)
        sources = {netns.parse_udp4(f.data).src for f in cap.frames}
        if sources - {lk.relay_ip}:
            problems.append(f"relay->P on {lk.if_p}: sources {sorted(sources)}, expected only "
                            f"{lk.relay_ip}")
        probes = [f for f in res.stray[lk.if_p].frames if is_probe(f)]
        stray = [f for f in res.stray[lk.if_p].frames if not is_probe(f)]
        print(f"      {lk.if_p}: other link's subnet in {len(stray)} frames (+ {len(probes)} "
              f"probe)", flush=True)
        if not probes:
            problems.append(f"the capture for other subnets on {lk.if_p} missed its probe "
                            f"frame: it proves nothing")
        if stray:
            u = netns.parse_udp4(stray[0].data)
            problems.append(f"{len(stray)}{'+' if len(stray) >= STRAY_FRAMES - 1 else ''} UDP "
                            f"frames of another link's subnet on {lk.if_p}, e.g. "
                            f"{u.src}:{u.sport} -> {u.dst}:{u.dport}")
    dn.check_udp_snmp(res, problems)
    assert not problems, "\n        ".join(problems)


# --------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    build_dir = Path(args.build_dir).resolve()
    early = dn.preflight(build_dir, args.backend, ("voxrelay", "voxload"))
    if early is not None:
        return early

    runner = vox.CaseRunner(f"test_dpdk_netns_ports (--backend {args.backend})")
    topo = PortsTopology(args.backend, args.keep_offloads)
    t, c = topo.trunk, topo.clients

    def cases(relay, ng):
        for lk in topo.links:
            runner.run(f"ARP: who-has {lk.relay_ip} on {lk.if_p} answered with {lk.if_r}'s MAC",
                       dn.check_arp, topo, lk)
        runner.run(f"ARP: who-has {c.relay_ip} on {t.if_p} and {t.relay_ip} on {c.if_p} not "
                   f"answered", check_arp_only_own_port, topo)
        for lk in topo.links:
            runner.run(f"ICMP: 5/5 echo replies from {lk.relay_ip}, checksums and payload valid",
                       dn.check_ping, topo, lk)
        res = PortsLoad()
        pps = 2 * args.calls * args.pps_per_stream
        runner.run(f"relay: voxload {args.calls} calls A {t.peer_ip} (trunk) <-> B {c.peer_ip} "
                   f"(clients), {pps:.0f} pps for {args.duration:g} s, zero loss",
                   run_load, topo, relay, ng, build_dir, args, res)
        runner.run("media frames: each link's own MAC and address, checksums; no other link's "
                   "subnet on it", check_frames, topo, res)

    relay_kwargs = {"interfaces": [f"{name}/{lk.relay_ip}" for name, lk in LINKS.items()],
                    "extra_args": DPDK_PORTS if args.backend == "dpdk" else ()}
    return dn.run_cases(runner, topo, args, build_dir, cases,
                        "trunk + clients + management veths, addresses", relay_kwargs, WATCHDOG_S)

if __name__ == "__main__":
    sys.exit(main())
