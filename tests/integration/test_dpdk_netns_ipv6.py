#!/usr/bin/env python3
"""IPv6 media on the DPDK backend, against a real IPv6 stack: P's Linux
kernel resolves the relay's address by neighbour discovery and answers the
relay's own solicitations (RFC 4861), on a veth pair between two network
namespaces.

The topology, the relay's start and the cleanup are test_dpdk_netns.py's
(imported), with IPv6 switched on for P's media end only: vm-p has
10.77.0.2/24 and fd77::2/64 (nodad); vm-r has no address (DPDK's
net_af_packet owns it; R's kernel keeps IPv6 off). The relay runs with
--interface=v4/10.77.0.1 --interface=v6/fd77::1, NG on the management veth.

Cases:
  - ICMPv6: P's kernel finds fd77::1 by neighbour discovery (its entry names
    vm-r's MAC) and gets 3/3 echo replies with the data back;
  - an IPv6 call (NG direction [v6, v6], both parties on fd77::2): the SDPs
    carry c=IN IP6 fd77::1; 50 RTP packets each way arrive complete, from
    the relay's ports, after the relay resolved fd77::2 itself (its backend
    counters: a solicitation sent, an advertisement learned);
  - an IPv4 caller bridged to an IPv6 callee (direction [v4, v6]): the offer
    to B is IPv6, the answer to A IPv4; 50 RTP packets each way;
  - `delete`: list empty, sessionsown 0, port pairs back.
Then the relay exits 0 on SIGTERM and the namespaces are gone.

Run (root):
  python3 tests/integration/test_dpdk_netns_ipv6.py --build-dir build
  python3 tests/integration/test_dpdk_netns_ipv6.py --build-dir build --backend socket
  python3 tests/integration/test_dpdk_netns_ipv6.py --build-dir build --workers 2
Prints "SKIP: ..." and exits 0 when not root, without `ip netns`, without
IPv6 in the kernel, or (dpdk) when voxrelay has no DPDK backend. Exit 0 = pass.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import vox  # noqa: E402
import test_dpdk_netns as dn  # noqa: E402

RELAY6, PEER6 = "fd77::1", "fd77::2"
INTERFACES = (f"v4/{dn.RELAY_IP}", f"v6/{RELAY6}")
PACKETS = 50          # per direction per call
SEND_GAP_S = 0.002    # pacing (a functional test, not a load test)
WAIT_S = 3.0          # for packets that must arrive (the first waits for ND)
SETTLE_S = 0.05       # flows are installed just after the NG reply
IDLE_SLEEP_US = 100
WATCHDOG_S = 90       # hard cap (ctest's TIMEOUT is 300)


def parse_args():
    ap = dn.topology_args(__doc__.split("\n")[0], load=False)
    ap.add_argument("--workers", type=int, default=1,
                    help="relay workers; dpdk with >1: worker 0 polls the port, so advertisements "
                         "answering another worker's solicitation reach it through worker 0")
    args = ap.parse_args()
    if args.backend == "dpdk":
        args.relay_arg = [f"--dpdk-idle-sleep-us={IDLE_SLEEP_US}", *args.relay_arg]
    return args


class Ipv6Topology(dn.Topology):
    """test_dpdk_netns's topology plus fd77::/64 on the media link: P's end
    always, R's end only with the socket backend (the kernel relays then)."""

    def create(self) -> bool:
        super().create()
        ends = [(self.p, dn.MEDIA_P, PEER6)]
        if self.backend == "socket":
            ends.append((self.r, dn.MEDIA_R, RELAY6))
        for ns, ifname, addr in ends:
            ns.sysctl(f"net.ipv6.conf.{ifname}.disable_ipv6", 0)
            ns.ip("-6", "addr", "add", f"{addr}/64", "dev", ifname, "nodad")
        return True


def ping6(topo: Ipv6Topology) -> str:
    """Three ICMPv6 echoes from P to fd77::1 on a raw socket (the kernel
    fills in the checksum and resolves the address first)."""
    with topo.p.entered():
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    try:
        s.settimeout(2.0)
        ident = os.getpid() & 0xFFFF
        got = 0
        for seq in range(1, 4):
            data = bytes((seq + i) & 0xFF for i in range(48))
            s.sendto(struct.pack("!BBHHH", 128, 0, 0, ident, seq) + data, (RELAY6, 0))
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                try:
                    reply, src = s.recvfrom(2048)
                except socket.timeout:
                    break
                if (src[0] == RELAY6 and reply[0] == 129 and reply[4:8] == struct.pack("!HH", ident, seq)
                        and reply[8:] == data):
                    got += 1
                    break
        assert got == 3, f"{got}/3 ICMPv6 echo replies from {RELAY6}"
    finally:
        s.close()
    neigh = topo.p.ip_json("-6", "neigh", "show", RELAY6, "dev", dn.MEDIA_P)
    macs = [n.get("lladdr") for n in neigh]
    assert topo.mac_r in macs, f"P's neighbour entry for {RELAY6}: {neigh}, expected {topo.mac_r}"
    return f"3/3 replies; P's neighbour entry {RELAY6} -> {topo.mac_r} ({neigh[0].get('state')})"


class Party:
    def __init__(self, topo: Ipv6Topology, addr: str):
        with topo.p.entered():
            self.sock = vox.UdpPeer(addr)
        self.addr = addr
        self.relay_port = 0  # the relay's port this party talks to

    def close(self) -> None:
        self.sock.close()


def relayed(call_id: str, topo: Ipv6Topology, ng: vox.NgClient, a_addr: str, b_addr: str,
            direction: list, backend: str) -> str:
    """One call between A (a_addr) and B (b_addr): the SDPs name the relay's
    address of each side's family, PACKETS RTP packets each way arrive whole
    and from the relay's ports."""
    relay_of = {a: (RELAY6 if ":" in a else dn.RELAY_IP) for a in (a_addr, b_addr)}
    a, b = Party(topo, a_addr), Party(topo, b_addr)
    try:
        r = vox.ng_ok(ng, {"command": "offer", "call-id": call_id, "from-tag": "tagA",
                           "direction": direction, "sdp": vox.make_sdp(a_addr, [a.sock.port])})
        off = vox.parse_sdp(r["sdp"])
        conn = off.media[0].conn or off.conn
        assert conn == relay_of[b_addr], f"offer to B: c= {conn}, expected {relay_of[b_addr]}"
        b.relay_port = off.media[0].port
        r = vox.ng_ok(ng, {"command": "answer", "call-id": call_id, "from-tag": "tagA",
                           "to-tag": "tagB", "sdp": vox.make_sdp(b_addr, [b.sock.port])})
        ans = vox.parse_sdp(r["sdp"])
        conn = ans.media[0].conn or ans.conn
        assert conn == relay_of[a_addr], f"answer to A: c= {conn}, expected {relay_of[a_addr]}"
        a.relay_port = ans.media[0].port
        time.sleep(SETTLE_S)
        for src, dst, ssrc in ((a, b, 0xA6A6A6A6), (b, a, 0xB6B6B6B6)):
            sent = [vox.rtp_packet(s, s * 160, ssrc, bytes((s * 7 + i) & 0xFF for i in range(160)))
                    for s in range(1, PACKETS + 1)]
            for p in sent:
                src.sock.sendto(p, (relay_of[src.addr], src.relay_port))
                time.sleep(SEND_GAP_S)
            got = dst.sock.recv_for(WAIT_S, until=PACKETS)
            what = f"{src.addr} -> {dst.addr}"
            want_from = (relay_of[dst.addr], dst.relay_port)
            wrong = [s for _, s in got if tuple(s[:2]) != want_from]
            assert not wrong, f"{what}: packets from {wrong[:3]}, expected only from {want_from}"
            assert len(got) == PACKETS, f"{what}: {len(got)} of {PACKETS} arrived within {WAIT_S} s; " \
                                        f"{dn._stats_diag(ng)}"
            assert [d for d, _ in got] == sent, f"{what}: payloads differ from what was sent"
        vox.ng_ok(ng, {"command": "delete", "call-id": call_id, "delete delay": 0})
    finally:
        a.close()
        b.close()
    note = f"{PACKETS} packets each way, c= {relay_of[b_addr]} to B and {relay_of[a_addr]} to A"
    if backend == "dpdk":
        st = vox.ng_statistics(ng).get("backend", {})
        nd = {k: int(st.get(k, 0)) for k in ("nd solicitations sent", "nd learned")}
        assert all(v >= 1 for v in nd.values()), f"relay's neighbour discovery counters: {nd}"
        note += f"; backend {nd}"
    return note


def main() -> int:
    args = parse_args()
    build_dir = Path(args.build_dir).resolve()
    early = dn.preflight(build_dir, args.backend, ("voxrelay",))
    if early is not None:
        return early
    if not os.path.exists("/proc/sys/net/ipv6"):
        print("SKIP: the kernel has no IPv6")
        return 0
    runner = vox.CaseRunner(f"test_dpdk_netns_ipv6 (--backend {args.backend})")
    topo = Ipv6Topology(args.backend, args.keep_offloads)
    pid = os.getpid()

    def cases(_relay, ng):
        runner.run(f"ICMPv6: P resolves {RELAY6} by neighbour discovery and gets 3/3 echo replies",
                   ping6, topo)
        runner.run(f"IPv6 call [v6, v6]: {PACKETS} RTP each way via {RELAY6}", relayed,
                   f"v6-{pid}", topo, ng, PEER6, PEER6, ["v6", "v6"], args.backend)
        runner.run(f"bridge [v4, v6]: caller {dn.PEER_IP}, callee {PEER6}, {PACKETS} RTP each way",
                   relayed, f"v4v6-{pid}", topo, ng, dn.PEER_IP, PEER6, ["v4", "v6"], args.backend)

    return dn.run_cases(runner, topo, args, build_dir, cases, "media + management veths, fd77::/64 on P",
                        relay_kwargs={"interfaces": INTERFACES}, watchdog_s=WATCHDOG_S)


if __name__ == "__main__":
    sys.exit(main())
