#!/usr/bin/env python3
"""SDES-SRTP bridged to plain RTP over loopback (socket backend), checked with
the packaged libsrtp2 on the test side (tests/lib/srtp.py).

For each of the five suites voxrelay offers:
  - plain caller -> SRTP callee (NG `transport protocol: RTP/SAVP` on the
    offer; the callee answers the suite under test with its own key): the
    callee receives SRTP and SRTCP that decrypt, with the key the relay
    offered it, to the caller's original packets; the caller receives the
    callee's SRTP and SRTCP as the original plain packets;
  - SRTP caller -> plain callee (the caller offers one a=crypto line of the
    suite, `transport protocol: RTP/AVP`): the same both ways, the callee's
    SDP plain, the caller's answer SRTP with the relay's key;
  - on the SRTP side, a replayed packet and a tampered one (a payload bit,
    a tag bit) never reach the plain side, and `query` counts them on that
    party's stream as srtp-replayed / srtp-auth-failed.
Then SRTP <-> SRTP (AES_CM_128_HMAC_SHA1_80 one side, AEAD_AES_128_GCM the
other): re-encrypted, each party decrypting with its own key only.
All on the io_uring loop, then the two required suites on the epoll loop.
Exit 0 = pass.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import srtp  # noqa: E402
import vox  # noqa: E402

LOCAL = "127.0.0.1"
WAIT_S = 1.0      # a packet that must arrive
QUIET_S = 0.3     # "nothing arrives"
SETTLE_S = 0.05   # flows are installed just after the NG reply
_calls = itertools.count(1)


def media(port: int, proto: str, crypto=(), rtcp_port=None) -> tuple:
    """PCMU m= section on `port` with `crypto` lines (full a=crypto lines)."""
    attrs = ["a=rtpmap:0 PCMU/8000", "a=ptime:20", *crypto]
    if rtcp_port:
        attrs.append(f"a=rtcp:{rtcp_port}")
    return (f"m=audio {port} {proto} 0", attrs)


def rtp(seq: int, ssrc: int) -> bytes:
    body = bytes((seq * 7 + i) & 0xFF for i in range(160))
    return vox.rtp_packet(seq, seq * 160, ssrc, body)


def rtcp_rr_block(ssrc: int) -> bytes:
    """RR with one report block (32 octets): something to encrypt past the header."""
    return (bytes([0x81, 201, 0, 7]) + ssrc.to_bytes(4, "big") + bytes.fromhex("abcdef01") +
            bytes([0x19, 0, 0, 7]) + bytes(range(16)))


class Party:
    """A SIP party's media: an RTP and an RTCP socket (a=rtcp names the latter)."""

    def __init__(self, name: str):
        self.name = name
        self.rtp = vox.UdpPeer(LOCAL)
        self.rtcp = vox.UdpPeer(LOCAL)
        self.relay_rtp = self.relay_rtcp = 0  # where it sends (from the SDP it got)

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


class Call:
    def __init__(self, relay: vox.Relay):
        self.relay = relay
        self.cid = f"srtp-{next(_calls)}-{os.getpid()}"
        self.a, self.b = Party("A"), Party("B")

    def offer(self, sdp_media: tuple, **keys) -> vox.SdpInfo:
        r = vox.ng_ok(self.relay.ng, {"command": "offer", "call-id": self.cid, "from-tag": "tagA",
                                      "sdp": vox.make_sdp(LOCAL, [sdp_media]), **keys})
        info = vox.parse_sdp(r["sdp"])
        self.b.relay_rtp = info.media[0].port
        self.b.relay_rtcp = int(info.media[0].attr("rtcp")[0].split()[0])
        return info

    def answer(self, sdp_media: tuple, **keys) -> vox.SdpInfo:
        r = vox.ng_ok(self.relay.ng, {"command": "answer", "call-id": self.cid, "from-tag": "tagA",
                                      "to-tag": "tagB", "sdp": vox.make_sdp(LOCAL, [sdp_media]),
                                      **keys})
        info = vox.parse_sdp(r["sdp"])
        self.a.relay_rtp = info.media[0].port
        self.a.relay_rtcp = int(info.media[0].attr("rtcp")[0].split()[0])
        time.sleep(SETTLE_S)
        return info

    def drops(self, tag: str, port: int) -> dict:
        q = vox.ng_ok(self.relay.ng, {"command": "query", "call-id": self.cid})
        return vox.stream_by_port(q, tag, port).get("stats", {}).get("drops", {})

    def close(self) -> None:
        self.a.close()
        self.b.close()
        try:
            self.relay.ng.call({"command": "delete", "call-id": self.cid, "delete delay": 0})
        except vox.NgTimeout:
            pass


def receive_one(peer: vox.UdpPeer, from_port: int, what: str) -> bytes:
    got = peer.recv_for(WAIT_S, until=1)
    assert got, f"{what}: nothing arrived at {peer.addr} within {WAIT_S} s"
    data, src = got[0]
    assert src == (LOCAL, from_port), f"{what}: came from {src}, expected relay port {from_port}"
    return data


def expect_nothing(peer: vox.UdpPeer, what: str) -> None:
    got = peer.recv_for(QUIET_S)
    assert not got, f"{what}: {len(got)} packet(s) reached {peer.addr}, expected none"


def decrypts(session: srtp.Session, data: bytes, want: bytes, rtcp: bool, what: str) -> None:
    assert data != want, f"{what}: arrived in clear, expected SRTP"
    try:
        plain = session.unprotect_rtcp(data) if rtcp else session.unprotect(data)
    except srtp.SrtpError as e:
        raise AssertionError(f"{what}: does not decrypt with the agreed key ({e}); "
                             f"{len(data)} octets {data[:16].hex()}...") from None
    assert plain == want, f"{what}: decrypts to other bytes than were sent"


def bridge(c: Call, plain: Party, secure: Party, to_secure: srtp.Session,
           from_secure: srtp.Session, tag_secure: str) -> None:
    """Both directions, RTP and RTCP, between a plain and an SRTP party; then
    forged packets from the SRTP party."""
    tag_len = srtp.SRTP_TAG_LENGTHS[to_secure.suite]
    p = rtp(1, 0xA1A1A1A1)
    plain.rtp.sendto(p, (LOCAL, plain.relay_rtp))
    got = receive_one(secure.rtp, secure.relay_rtp, f"{plain.name} -> {secure.name} RTP")
    assert len(got) == len(p) + tag_len, \
        f"{plain.name} -> {secure.name}: {len(got)} octets, expected {len(p)} + {tag_len} tag"
    assert got[:12] == p[:12], "SRTP keeps the RTP header in clear (RFC 3711 §3.1)"
    decrypts(to_secure, got, p, False, f"{plain.name} -> {secure.name} RTP")
    rr = rtcp_rr_block(0xA1A1A1A1)
    plain.rtcp.sendto(rr, (LOCAL, plain.relay_rtcp))
    got = receive_one(secure.rtcp, secure.relay_rtcp, f"{plain.name} -> {secure.name} RTCP")
    decrypts(to_secure, got, rr, True, f"{plain.name} -> {secure.name} RTCP")

    q = rtp(1, 0xB2B2B2B2)
    sealed = from_secure.protect(q)
    secure.rtp.sendto(sealed, (LOCAL, secure.relay_rtp))
    got = receive_one(plain.rtp, plain.relay_rtp, f"{secure.name} -> {plain.name} RTP")
    assert got == q, f"{secure.name} -> {plain.name}: not the original plain packet " \
                     f"({len(got)} octets {got[:16].hex()}...)"
    rr = rtcp_rr_block(0xB2B2B2B2)
    secure.rtcp.sendto(from_secure.protect_rtcp(rr), (LOCAL, secure.relay_rtcp))
    got = receive_one(plain.rtcp, plain.relay_rtcp, f"{secure.name} -> {plain.name} RTCP")
    assert got == rr, f"{secure.name} -> {plain.name} RTCP: not the original plain packet"

    # An attacker on the path: a copy of the packet just relayed, and a
    # genuine packet with one payload bit or one tag bit flipped.
    before = c.drops(tag_secure, secure.relay_rtp)
    secure.rtp.sendto(sealed, (LOCAL, secure.relay_rtp))
    fresh = from_secure.protect(rtp(2, 0xB2B2B2B2))
    for at in (20, len(fresh) - 1):
        bad = bytearray(fresh)
        bad[at] ^= 0x01
        secure.rtp.sendto(bytes(bad), (LOCAL, secure.relay_rtp))
    expect_nothing(plain.rtp, f"replayed and tampered SRTP from {secure.name}")
    after = c.drops(tag_secure, secure.relay_rtp)
    for reason, n in (("srtp-replayed", 1), ("srtp-auth-failed", 2)):
        assert reason in after, f"query: {secure.name}'s stream has no drops[{reason!r}]: {after}"
        assert int(after[reason]) - int(before.get(reason, 0)) == n, \
            f"query: {secure.name}'s {reason} went {before.get(reason)} -> {after[reason]}, " \
            f"expected +{n}"
    # The genuine packet still passes: forgeries changed nothing.
    secure.rtp.sendto(fresh, (LOCAL, secure.relay_rtp))
    got = receive_one(plain.rtp, plain.relay_rtp, f"{secure.name} -> {plain.name} after forgeries")
    assert got == rtp(2, 0xB2B2B2B2)


def key_for(suite: str) -> bytes:
    k, s = srtp.SUITES[suite]
    return os.urandom(k + s)


def case_plain_to_srtp(relay: vox.Relay, suite: str) -> None:
    c = Call(relay)
    try:
        off = c.offer(media(c.a.rtp.port, "RTP/AVP", rtcp_port=c.a.rtcp.port),
                      **{"transport protocol": "RTP/SAVP"})
        m = off.media[0]
        assert m.proto == "RTP/SAVP", f"offer to B: m= protocol {m.proto!r}, expected RTP/SAVP"
        lines = [srtp.parse_crypto(v) for v in m.attr("crypto")]
        offered = {s: (t, k) for t, s, k in lines}
        assert suite in offered, f"offer to B lacks {suite}: {[s for _, s, _ in lines]}"
        tag, relay_key = offered[suite]
        b_key = key_for(suite)
        ans = c.answer(media(c.b.rtp.port, "RTP/SAVP", [srtp.crypto_line(tag, suite, b_key)],
                             rtcp_port=c.b.rtcp.port))
        assert ans.media[0].proto == "RTP/AVP", f"answer to A: {ans.media[0].proto!r}, expected RTP/AVP"
        assert not ans.media[0].attr("crypto"), "answer to plain A carries a=crypto"
        bridge(c, c.a, c.b, srtp.Session(suite, relay_key, False), srtp.Session(suite, b_key, True),
               "tagB")
    finally:
        c.close()


def case_srtp_to_plain(relay: vox.Relay, suite: str) -> None:
    c = Call(relay)
    try:
        a_key = key_for(suite)
        off = c.offer(media(c.a.rtp.port, "RTP/SAVP", [srtp.crypto_line(7, suite, a_key)],
                            rtcp_port=c.a.rtcp.port), **{"transport protocol": "RTP/AVP"})
        assert off.media[0].proto == "RTP/AVP", f"offer to B: {off.media[0].proto!r}, expected RTP/AVP"
        assert not off.media[0].attr("crypto"), "offer to plain B carries a=crypto"
        ans = c.answer(media(c.b.rtp.port, "RTP/AVP", rtcp_port=c.b.rtcp.port))
        m = ans.media[0]
        assert m.proto == "RTP/SAVP", f"answer to A: m= protocol {m.proto!r}, expected RTP/SAVP"
        lines = m.attr("crypto")
        assert len(lines) == 1, f"answer to A: {len(lines)} a=crypto lines, expected 1 (RFC 4568 §7.1.2)"
        tag, got_suite, relay_key = srtp.parse_crypto(lines[0])
        assert (tag, got_suite) == (7, suite), f"answer to A: tag {tag} {got_suite}, expected 7 {suite}"
        assert relay_key != a_key, "the relay answered with A's own key"
        bridge(c, c.b, c.a, srtp.Session(suite, relay_key, False), srtp.Session(suite, a_key, True),
               "tagA")
    finally:
        c.close()


def case_srtp_to_srtp(relay: vox.Relay) -> None:
    c = Call(relay)
    try:
        a_suite, b_suite = "AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"
        a_key, b_key = key_for(a_suite), key_for(b_suite)
        off = c.offer(media(c.a.rtp.port, "RTP/SAVP", [srtp.crypto_line(1, a_suite, a_key)],
                            rtcp_port=c.a.rtcp.port))
        offered = {s: (t, k) for t, s, k in (srtp.parse_crypto(v) for v in off.media[0].attr("crypto"))}
        assert b_suite in offered, f"offer to B lacks {b_suite}: {sorted(offered)}"
        tag, to_b_key = offered[b_suite]
        ans = c.answer(media(c.b.rtp.port, "RTP/SAVP", [srtp.crypto_line(tag, b_suite, b_key)],
                             rtcp_port=c.b.rtcp.port))
        _, _, to_a_key = srtp.parse_crypto(ans.media[0].attr("crypto")[0])
        p = rtp(1, 0xA1A1A1A1)
        c.a.rtp.sendto(srtp.Session(a_suite, a_key, True).protect(p), (LOCAL, c.a.relay_rtp))
        got = receive_one(c.b.rtp, c.b.relay_rtp, "A -> B")
        decrypts(srtp.Session(b_suite, to_b_key, False), got, p, False, "A -> B, B's key")
        q = rtp(1, 0xB2B2B2B2)
        c.b.rtp.sendto(srtp.Session(b_suite, b_key, True).protect(q), (LOCAL, c.b.relay_rtp))
        got = receive_one(c.a.rtp, c.a.relay_rtp, "B -> A")
        decrypts(srtp.Session(a_suite, to_a_key, False), got, q, False, "B -> A, A's key")
    finally:
        c.close()


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_srtp")
    try:
        srtp.self_test()
    except (OSError, AssertionError) as e:
        runner.fail("libsrtp2 on the test side", str(e))
        return runner.finish()
    ports = vox.free_udp_ports(200, step=2)
    # io_uring (the default) with every suite; the epoll loop with the two
    # the issue requires: each fills its receive buffers' room differently.
    runs = (("uring", list(srtp.SUITES), ports[0], ports[99]),
            ("epoll", ["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"], ports[100], ports[199]))
    for io, suites, lo, hi in runs:
        try:
            with vox.Relay(build_dir, port_min=lo, port_max=hi,
                           extra_args=[f"--socket-io={io}"]) as relay:
                for suite in suites:
                    runner.run(f"{io}: plain -> SRTP {suite}", case_plain_to_srtp, relay, suite)
                    runner.run(f"{io}: SRTP {suite} -> plain", case_srtp_to_plain, relay, suite)
                runner.run(f"{io}: SRTP AES_CM_128_HMAC_SHA1_80 <-> SRTP AEAD_AES_128_GCM, "
                           f"re-encrypted", case_srtp_to_srtp, relay)
                left = relay.ng.list_calls()
                if left:
                    runner.fail(f"{io}: cleanup", f"calls left after delete delay 0: {left}")
            if not relay.clean_exit:
                runner.fail(f"{io}: SIGTERM", relay.report())
        except (vox.RelayError, vox.NgTimeout) as e:
            runner.fail(f"{io}: relay", f"{type(e).__name__}: {e}")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
