#!/usr/bin/env python3
"""SDES-SRTP bridged to plain RTP by the DPDK backend, on a veth pair between
two network namespaces (issue 5 on the DPDK backend; test_srtp.py covers the
socket backend over loopback).

The topology, the relay's start and the cleanup are test_dpdk_netns.py's
(imported): namespace voxr-PID holds the relay with DPDK's net_af_packet on
vm-r (no kernel address for 10.77.0.1: only DPDK answers for it), namespace
voxp-PID holds both SIP parties on 10.77.0.2 (vm-p, TX checksum offload off)
and drives NG over the kernel-owned management veth (10.78.0.1:22222). The
relay naps when idle (--dpdk-idle-sleep-us) so it leaves the test CPU.

For AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM, one call each:
  - offer from plain caller A with NG `transport protocol: RTP/SAVP`: the
    offer to B is RTP/SAVP with the suite among its a=crypto lines and
    c= 10.77.0.1; SRTP callee B answers the suite with its own key; the answer
    to A is RTP/AVP without a=crypto;
  - A -> B: 50 plain RTP packets (payload sizes vary) arrive at B's socket
    from the relay's port as SRTP, each len + tag octets, header in clear,
    decrypting (libsrtp2 via tests/lib/srtp.py, the relay's offered key) to
    the original packet; one RTCP RR arrives as SRTCP that decrypts;
  - B -> A: 50 SRTP packets protected with B's key arrive at A as the
    original plain packets; one SRTCP arrives as the plain RR;
  - every relay->P frame on vm-p: right MACs, IPv4 total length = frame,
    UDP length = IP payload, UDP payload the expected size (plain + tag to B,
    plain to A), IPv4 and UDP checksums valid; P's kernel counted no UDP
    checksum/length errors (a bad length or checksum also shows as loss,
    the sockets get only what the kernel accepted);
  - a replay of B's first packet, a fresh packet with one tag bit flipped and
    one with one payload bit flipped never reach A; `query` counts them on
    B's stream as srtp-replayed +1 / srtp-auth-failed +2; the genuine fresh
    packet still passes;
  - `delete`: list empty, sessionsown 0, port pairs back.
Then the relay exits 0 on SIGTERM and the namespaces are gone.

Run (root):
  python3 tests/integration/test_dpdk_srtp_netns.py --build-dir build
  python3 tests/integration/test_dpdk_srtp_netns.py --build-dir build --backend socket
Prints "SKIP: ..." and exits 0 when not root, without `ip netns`, or (dpdk)
when voxrelay has no DPDK backend; fails without libsrtp2.so.1 (the
project's setup installs it, as test_srtp.py expects). Exit 0 = pass.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import netns  # noqa: E402
import srtp  # noqa: E402
import vox  # noqa: E402
import test_dpdk_netns as dn  # noqa: E402

SUITES = ("AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM")
PACKETS = 50          # per direction per call
SEND_GAP_S = 0.002    # pacing of a burst (functional test, not a load test)
WAIT_S = 2.0          # for packets that must arrive
QUIET_S = 0.4         # "nothing arrives"
SETTLE_S = 0.05       # flows are installed just after the NG reply
IDLE_SLEEP_US = 100
WATCHDOG_S = 90       # hard cap (ctest's TIMEOUT is 300; runtime ~10-15 s)
SSRC_A, SSRC_B = 0xA1A1A1A1, 0xB2B2B2B2


def parse_args():
    args = dn.topology_args(__doc__.split("\n")[0], load=False).parse_args()
    args.workers = 1          # what dn.NsRelay reads
    if args.backend == "dpdk":
        args.relay_arg = [f"--dpdk-idle-sleep-us={IDLE_SLEEP_US}", *args.relay_arg]
    return args


def rtp(seq: int, ssrc: int) -> bytes:
    """PCMU-ish RTP; payload 80..239 octets so the relay's length rewrite is
    exercised with many sizes (odd and even)."""
    n = 80 + (seq * 37) % 160
    return vox.rtp_packet(seq, seq * 160, ssrc, bytes((seq * 7 + i) & 0xFF for i in range(n)))


def rtcp_rr_block(ssrc: int) -> bytes:
    """RR with one report block (32 octets)."""
    return (bytes([0x81, 201, 0, 7]) + ssrc.to_bytes(4, "big") + bytes.fromhex("abcdef01") +
            bytes([0x19, 0, 0, 7]) + bytes(range(16)))


def media(port: int, proto: str, rtcp_port: int, crypto=()) -> tuple:
    return (f"m=audio {port} {proto} 0",
            ["a=rtpmap:0 PCMU/8000", "a=ptime:20", *crypto, f"a=rtcp:{rtcp_port}"])


class Party:
    """A SIP party in P: RTP and RTCP sockets on 10.77.0.2."""

    def __init__(self, topo: dn.Topology, name: str, tag: str):
        self.name, self.tag = name, tag
        with topo.p.entered():
            self.rtp = vox.UdpPeer(dn.PEER_IP)
            self.rtcp = vox.UdpPeer(dn.PEER_IP)
        self.relay_rtp = self.relay_rtcp = 0   # the relay's ports this party talks to

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


class Call:
    def __init__(self, topo: dn.Topology, ng: vox.NgClient, suite: str):
        self.ng, self.suite = ng, suite
        self.cid = f"dpdk-srtp-{suite}-{os.getpid()}"
        self.a, self.b = Party(topo, "A", "tagA"), Party(topo, "B", "tagB")
        self.deleted = False

    def sdp(self, m: tuple) -> str:
        return vox.make_sdp(dn.PEER_IP, [m])

    @staticmethod
    def _relay_ports(info: vox.SdpInfo, who: str) -> tuple:
        m = info.media[0]
        assert m.conn == dn.RELAY_IP, f"SDP to {who}: c= {m.conn}, expected {dn.RELAY_IP}"
        rtcp = m.attr("rtcp")
        assert rtcp, f"SDP to {who} has no a=rtcp"
        return m.port, int(rtcp[0].split()[0])

    def negotiate(self) -> tuple:
        """Offer (plain A, transport protocol RTP/SAVP) and answer (SRTP B):
        (relay's key towards B, B's own key)."""
        r = vox.ng_ok(self.ng, {"command": "offer", "call-id": self.cid, "from-tag": "tagA",
                                "sdp": self.sdp(media(self.a.rtp.port, "RTP/AVP",
                                                      self.a.rtcp.port)),
                                "transport protocol": "RTP/SAVP"})
        off = vox.parse_sdp(r["sdp"])
        m = off.media[0]
        assert m.proto == "RTP/SAVP", f"offer to B: m= protocol {m.proto!r}, expected RTP/SAVP"
        offered = {s: (t, k) for t, s, k in (srtp.parse_crypto(v) for v in m.attr("crypto"))}
        assert self.suite in offered, f"offer to B lacks {self.suite}: {sorted(offered)}"
        self.b.relay_rtp, self.b.relay_rtcp = self._relay_ports(off, "B")
        tag, relay_key = offered[self.suite]
        k, s = srtp.SUITES[self.suite]
        b_key = os.urandom(k + s)
        r = vox.ng_ok(self.ng, {"command": "answer", "call-id": self.cid, "from-tag": "tagA",
                                "to-tag": "tagB",
                                "sdp": self.sdp(media(self.b.rtp.port, "RTP/SAVP",
                                                      self.b.rtcp.port,
                                                      [srtp.crypto_line(tag, self.suite, b_key)]))})
        ans = vox.parse_sdp(r["sdp"])
        assert ans.media[0].proto == "RTP/AVP", \
            f"answer to A: m= protocol {ans.media[0].proto!r}, expected RTP/AVP"
        assert not ans.media[0].attr("crypto"), "answer to plain A carries a=crypto"
        self.a.relay_rtp, self.a.relay_rtcp = self._relay_ports(ans, "A")
        time.sleep(SETTLE_S)
        return relay_key, b_key

    def drops(self) -> dict:
        q = vox.ng_ok(self.ng, {"command": "query", "call-id": self.cid})
        return vox.stream_by_port(q, "tagB", self.b.relay_rtp).get("stats", {}).get("drops", {})

    def delete(self) -> None:
        vox.ng_ok(self.ng, {"command": "delete", "call-id": self.cid, "delete delay": 0})
        self.deleted = True

    def close(self) -> None:
        self.a.close()
        self.b.close()
        if not self.deleted:
            try:
                self.ng.call({"command": "delete", "call-id": self.cid, "delete delay": 0})
            except vox.NgTimeout:
                pass


def send_burst(sock: vox.UdpPeer, packets, dst: tuple) -> None:
    for p in packets:
        sock.sendto(p, dst)
        time.sleep(SEND_GAP_S)


def receive(peer: vox.UdpPeer, n: int, from_port: int, what: str, ng: vox.NgClient) -> list:
    got = peer.recv_for(WAIT_S, until=n)
    wrong = [src for _, src in got if src != (dn.RELAY_IP, from_port)]
    assert not wrong, f"{what}: {len(wrong)} packet(s) from {wrong[:3]}, expected only from " \
                      f"relay {dn.RELAY_IP}:{from_port}"
    assert len(got) == n, f"{what}: {len(got)} of {n} packets arrived at {peer.addr} within " \
                          f"{WAIT_S} s; {dn._stats_diag(ng)}"
    return [d for d, _ in got]


def expect_nothing(peer: vox.UdpPeer, what: str) -> None:
    got = peer.recv_for(QUIET_S)
    assert not got, f"{what}: {len(got)} packet(s) reached {peer.addr} " \
                    f"({[len(d) for d, _ in got]} octets), expected none"


class FrameLog:
    """relay->P frames on vm-p, for the length/checksum checks."""

    def __init__(self, topo: dn.Topology):
        def from_relay(data, pkttype):
            u = netns.parse_udp4(data)
            return (pkttype != netns.PACKET_OUTGOING and u is not None
                    and u.src == dn.RELAY_IP and u.dst == dn.PEER_IP)
        self.topo = topo
        self.snmp_before = topo.p.snmp("Udp")
        self.cap = netns.FrameCapture(topo.p, dn.MEDIA_P, from_relay, limit=400).start()

    def check(self, call: Call, expect: dict) -> str:
        """``expect``: (dst port, rtp seq or None for RTCP) -> UDP payload length."""
        time.sleep(0.1)
        self.cap.stop()
        assert self.cap.error is None, f"capture on {dn.MEDIA_P} failed: {self.cap.error!r}"
        problems, seen = [], set()
        for f in self.cap.frames:
            d = f.data
            u = netns.parse_udp4(d)
            ip = d[14:]
            ihl = (ip[0] & 0x0F) * 4
            total = int.from_bytes(ip[2:4], "big")
            ulen = int.from_bytes(ip[ihl + 4:ihl + 6], "big")
            desc = f"{u.sport}->{u.dport} ({len(d)} octets frame)"
            src_mac, dst_mac = netns.mac_str(d[6:12]), netns.mac_str(d[0:6])
            if src_mac != self.topo.mac_r or dst_mac != self.topo.mac_p:
                problems.append(f"{desc}: MACs {src_mac} -> {dst_mac}")
            if len(d) >= 60 and total != len(d) - 14:
                problems.append(f"{desc}: IPv4 total length {total}, frame carries {len(d) - 14}")
            if ulen != total - ihl:
                problems.append(f"{desc}: UDP length {ulen}, IP payload {total - ihl}")
            if not u.ip_csum_ok:
                problems.append(f"{desc}: bad IPv4 header checksum")
            if not u.udp_csum_ok:
                problems.append(f"{desc}: bad/zero UDP checksum 0x{u.udp_csum:04x}")
            rtcp = u.dport in (call.a.rtcp.port, call.b.rtcp.port)
            key = (u.dport, None if rtcp else int.from_bytes(u.payload[2:4], "big"))
            want = expect.get(key)
            if want is None:
                continue   # a retransmission after the checks (the genuine fresh packet)
            seen.add(key)
            if len(u.payload) != want:
                problems.append(f"{desc}: UDP payload {len(u.payload)} octets, expected {want}")
        missing = set(expect) - seen
        if missing and len(self.cap.frames) < self.cap.limit:
            problems.append(f"{len(missing)} expected frames not captured on {dn.MEDIA_P}, "
                            f"e.g. {sorted(missing, key=str)[:3]}")
        after = self.topo.p.snmp("Udp")
        d = {k: after.get(k, 0) - self.snmp_before.get(k, 0)
             for k in ("InDatagrams", "InCsumErrors", "InErrors", "NoPorts", "RcvbufErrors")}
        for k in ("InCsumErrors", "InErrors", "RcvbufErrors"):
            if d[k]:
                problems.append(f"P's kernel Udp {k} +{d[k]}")
        assert not problems, f"{len(problems)} problem(s) in {len(self.cap.frames)} relay->P " \
                             f"frames: " + "; ".join(problems[:8])
        return f"{len(self.cap.frames)} relay->P frames ok (MACs, lengths, checksums); P Udp {d}"


def backend_rx(ng: vox.NgClient) -> int:
    return int(vox.ng_statistics(ng).get("backend", {}).get("frames rx", 0))


def case_bridge(topo: dn.Topology, ng: vox.NgClient, suite: str, backend: str) -> None:
    tag_len = srtp.SRTP_TAG_LENGTHS[suite]
    rx_before = backend_rx(ng) if backend == "dpdk" else 0
    call = Call(topo, ng, suite)
    frames: Optional[FrameLog] = None
    try:
        relay_key, b_key = call.negotiate()
        to_b = srtp.Session(suite, relay_key, False)    # B decrypts what the relay sends
        from_b = srtp.Session(suite, b_key, True)       # B encrypts what it sends
        a, b = call.a, call.b
        frames = FrameLog(topo)
        expect = {}

        # A -> B: plain in, SRTP out.
        sent = [rtp(s, SSRC_A) for s in range(1, PACKETS + 1)]
        send_burst(a.rtp, sent, (dn.RELAY_IP, a.relay_rtp))
        got = receive(b.rtp, PACKETS, b.relay_rtp, f"A -> B RTP ({suite})", ng)
        bad = []
        for p, g in zip(sent, got):
            seq = int.from_bytes(p[2:4], "big")
            expect[(b.rtp.port, seq)] = len(p) + tag_len
            if len(g) != len(p) + tag_len:
                bad.append(f"seq {seq}: {len(g)} octets, expected {len(p)} + {tag_len}")
            elif g[:12] != p[:12]:
                bad.append(f"seq {seq}: RTP header changed")
            elif g == p:
                bad.append(f"seq {seq}: arrived in clear")
            else:
                try:
                    if to_b.unprotect(g) != p:
                        bad.append(f"seq {seq}: decrypts to other bytes")
                except srtp.SrtpError as e:
                    bad.append(f"seq {seq}: does not decrypt with the relay's key ({e})")
        assert not bad, f"A -> B: {len(bad)} of {PACKETS} bad: " + "; ".join(bad[:5])
        rr = rtcp_rr_block(SSRC_A)
        a.rtcp.sendto(rr, (dn.RELAY_IP, a.relay_rtcp))
        g = receive(b.rtcp, 1, b.relay_rtcp, "A -> B RTCP", ng)[0]
        expect[(b.rtcp.port, None)] = len(g)
        try:
            assert to_b.unprotect_rtcp(g) == rr, "A -> B RTCP: decrypts to other bytes"
        except srtp.SrtpError as e:
            raise AssertionError(f"A -> B RTCP ({len(g)} octets) does not decrypt: {e}") from None

        # B -> A: SRTP in, plain out.
        plain = [rtp(s, SSRC_B) for s in range(1, PACKETS + 1)]
        sealed = [from_b.protect(p) for p in plain]
        send_burst(b.rtp, sealed, (dn.RELAY_IP, b.relay_rtp))
        got = receive(a.rtp, PACKETS, a.relay_rtp, f"B -> A RTP ({suite})", ng)
        bad = [f"seq {int.from_bytes(p[2:4], 'big')}: {len(g)} octets (sent {len(p)} plain)"
               + ("" if len(g) != len(p) else ", other bytes")
               for p, g in zip(plain, got) if g != p]
        assert not bad, f"B -> A: {len(bad)} of {PACKETS} not the original plain packet: " + \
                        "; ".join(bad[:5])
        for p in plain:
            expect[(a.rtp.port, int.from_bytes(p[2:4], "big"))] = len(p)
        rr = rtcp_rr_block(SSRC_B)
        b.rtcp.sendto(from_b.protect_rtcp(rr), (dn.RELAY_IP, b.relay_rtcp))
        g = receive(a.rtcp, 1, a.relay_rtcp, "B -> A RTCP", ng)[0]
        assert g == rr, f"B -> A RTCP: {len(g)} octets, not the original {len(rr)}-octet RR"
        expect[(a.rtcp.port, None)] = len(rr)

        # Forgeries from B's side: a replay and two tampered packets.
        before = call.drops()
        b.rtp.sendto(sealed[0], (dn.RELAY_IP, b.relay_rtp))
        fresh_plain = rtp(PACKETS + 1, SSRC_B)
        fresh = from_b.protect(fresh_plain)
        for at in (len(fresh) - 1, 20):      # a tag bit, a payload bit
            forged = bytearray(fresh)
            forged[at] ^= 0x01
            b.rtp.sendto(bytes(forged), (dn.RELAY_IP, b.relay_rtp))
        expect_nothing(a.rtp, f"replayed and tampered SRTP from B ({suite})")
        after = call.drops()
        for reason, n in (("srtp-replayed", 1), ("srtp-auth-failed", 2)):
            assert reason in after, f"query: B's stream has no drops[{reason!r}]: {after}"
            assert int(after[reason]) - int(before.get(reason, 0)) == n, \
                f"query: B's {reason} went {before.get(reason)} -> {after[reason]}, expected " \
                f"+{n} (all drops {after})"
        b.rtp.sendto(fresh, (dn.RELAY_IP, b.relay_rtp))
        g = receive(a.rtp, 1, a.relay_rtp, "B -> A after the forgeries", ng)[0]
        assert g == fresh_plain, "B -> A after the forgeries: not the original plain packet"
        print(f"      {suite}: {PACKETS}+1 RTP and 1 RTCP each way; B's drops {after}",
              flush=True)
        print(f"      {frames.check(call, expect)}", flush=True)
        frames = None
        if backend == "dpdk":
            # Proof the media went through DPDK: its port read every datagram
            # sent to the relay (2 x 50 RTP, 2 RTCP, 3 forgeries, 1 fresh).
            rx = backend_rx(ng) - rx_before
            assert rx >= 2 * PACKETS + 6, \
                f"DPDK backend counted {rx} frames rx, expected >= {2 * PACKETS + 6}"
            print(f"      DPDK backend: +{rx} frames rx", flush=True)

        call.delete()
    finally:
        if frames is not None:
            frames.cap.stop()
        call.close()


def main() -> int:
    args = parse_args()
    build_dir = Path(args.build_dir).resolve()
    early = dn.preflight(build_dir, args.backend, ("voxrelay",))
    if early is not None:
        return early
    runner = vox.CaseRunner(f"test_dpdk_srtp_netns (--backend {args.backend})")
    try:
        srtp.self_test()
    except (OSError, AssertionError) as e:  # setup installs libsrtp2-1: missing is a failure
        runner.fail("libsrtp2 on the test side", str(e))
        return runner.finish()
    topo = dn.Topology(args.backend, args.keep_offloads)

    def cases(_relay, ng):
        for suite in SUITES:
            runner.run(f"{args.backend}: plain A -> SRTP B {suite}: {PACKETS} RTP + RTCP each way, "
                       f"lengths/checksums, replay + tamper dropped and counted",
                       case_bridge, topo, ng, suite, args.backend)

    return dn.run_cases(runner, topo, args, build_dir, cases, "media + management veths, addresses",
                        watchdog_s=WATCHDOG_S)

if __name__ == "__main__":
    sys.exit(main())
