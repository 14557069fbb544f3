#!/usr/bin/env python3
"""Offer/answer semantics and SDP rewriting, checked with real media.

Relay 1 (127.0.0.1):
  re-INVITE keeps ports; re-offer from the callee side keeps ports; hold
  (c=0.0.0.0 + a=sendonly) keeps ports and the call; rejected stream
  (m=video 0) stays port 0; audio+video get distinct port pairs and video
  goes to video; a=rtcp: = RTP port + 1; rtcp-mux offered/answered ->
  a=rtcp-mux both ways and muxed RTCP reaches B's RTP port; rtcp-mux
  demux -> no a=rtcp-mux toward B and A's muxed RTCP reaches B's RTCP port;
  ICE remove strips ICE lines and keeps the rest in order; replace origin
  rewrites o= (and without it o= is kept); forked answers: the later
  answer wins; via-branch forks: ports per branch, the branch that answers
  in dialogue, a branch deleted alone; answer errors (unknown call-id, wrong from-tag); media sent
  right after the answer reply is relayed (no race with flow setup).
Relay 2: --interface=::1, IPv6 SDP and media over ::1.
Relay 3: --interface=int/127.0.0.1 --interface=ext/127.0.0.2 with
  direction ["int", "ext"]: B sees 127.0.0.2, A sees 127.0.0.1, media flows.
Relay 4: --socket-io=epoll (the fallback I/O loop): a few of the above again,
  including media right after the answer.
Exit 0 = pass.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"
WAIT_S = 1.0
QUIET_S = 0.3
SETTLE_S = 0.03   # pause after signalling before media (see case_media_right_after_answer)
_seq = itertools.count(1)
_cid = itertools.count(1)


def new_cid(what: str) -> str:
    return f"oa-{what}-{next(_cid)}-{time.monotonic_ns() % 1000000}"


def rtp(label: str, pt: int = 0) -> bytes:
    n = next(_seq)
    return vox.rtp_packet(n, n * 160, 0xABCD0000 + n, (f"{label}#{n}".encode() + b"\0" * 160)[:160],
                          pt=pt)


def rtcp(ssrc: int) -> bytes:
    return vox.rtcp_rr(ssrc)


def send_expect(sender: vox.UdpPeer, dst: tuple, receiver: vox.UdpPeer, src: tuple, what: str,
                data: bytes = None) -> None:
    """``sender`` sends ``data`` to relay address ``dst``; it must arrive at
    ``receiver`` unchanged, from relay address ``src``."""
    data = data if data is not None else rtp(what[:20])
    sender.sendto(data, dst)
    got = receiver.recv_for(WAIT_S, until=1)
    assert got, f"{what}: nothing arrived at {receiver.addr} within {WAIT_S} s " \
                f"(sent from {sender.addr} to relay {dst})"
    assert got[0][0] == data, f"{what}: another packet arrived: {got[0][0][:24]!r}"
    assert got[0][1] == tuple(src), f"{what}: arrived from {got[0][1]}, expected from relay " \
                                    f"address {src}"


def expect_nothing(receiver: vox.UdpPeer, what: str, quiet: float = QUIET_S) -> None:
    got = receiver.recv_for(quiet)
    assert not got, f"{what}: {receiver.addr} received {len(got)} packet(s), expected none"


def offer(ng, cid, from_tag, sdp, **extra) -> vox.SdpInfo:
    msg = {"command": "offer", "call-id": cid, "from-tag": from_tag, "sdp": sdp}
    msg.update({k.replace("_", "-"): v for k, v in extra.items()})
    return vox.parse_sdp(vox.ng_ok(ng, msg)["sdp"])


def answer(ng, cid, from_tag, to_tag, sdp, **extra) -> vox.SdpInfo:
    msg = {"command": "answer", "call-id": cid, "from-tag": from_tag, "to-tag": to_tag,
           "sdp": sdp}
    msg.update({k.replace("_", "-"): v for k, v in extra.items()})
    r = vox.parse_sdp(vox.ng_ok(ng, msg)["sdp"])
    time.sleep(SETTLE_S)
    return r


def delete(ng, cid) -> None:
    try:
        ng.call({"command": "delete", "call-id": cid, "delete delay": 0})
    except vox.NgTimeout:
        pass


class Peers:
    """UDP sockets of a case, closed together."""

    def __init__(self):
        self.all = []

    def one(self, host=LOCAL) -> vox.UdpPeer:
        p = vox.UdpPeer(host)
        self.all.append(p)
        return p

    def pair(self, host=LOCAL) -> tuple:
        a, b = vox.udp_peer_pair(host)
        self.all += [a, b]
        return a, b

    def close(self):
        for p in self.all:
            p.close()


def basic_call(ng, ps: Peers, what: str, host: str = LOCAL):
    """Offer from tagA (socket a), answer from tagB (socket b). Returns
    (cid, a, b, pa, pb): pa is where A sends (answer SDP), pb where B sends."""
    cid = new_cid(what)
    a, b = ps.one(host), ps.one(host)
    o = offer(ng, cid, "tagA", vox.make_sdp(host, [a.port]))
    an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(host, [b.port]))
    return cid, a, b, an.media[0].port, o.media[0].port


def two_way(a, pa, b, pb, what, host=LOCAL):
    send_expect(a, (host, pa), b, (host, pb), f"{what}: A -> B")
    send_expect(b, (host, pb), a, (host, pa), f"{what}: B -> A")


# ------------------------------------------------------------------ cases


def case_reinvite_same_ports(ng):
    ps = Peers()
    cid = new_cid("reinvite")
    try:
        a, b = ps.one(), ps.one()
        sdp_a, sdp_b = vox.make_sdp(LOCAL, [a.port]), vox.make_sdp(LOCAL, [b.port])
        o1 = offer(ng, cid, "tagA", sdp_a)
        a1 = answer(ng, cid, "tagA", "tagB", sdp_b)
        two_way(a, a1.media[0].port, b, o1.media[0].port, "before re-INVITE")
        o2 = offer(ng, cid, "tagA", sdp_a, to_tag="tagB")
        assert o2.media[0].port == o1.media[0].port, \
            f"re-INVITE (same SDP) moved B's relay port {o1.media[0].port} -> {o2.media[0].port}"
        a2 = answer(ng, cid, "tagA", "tagB", sdp_b)
        assert a2.media[0].port == a1.media[0].port, \
            f"re-INVITE answer moved A's relay port {a1.media[0].port} -> {a2.media[0].port}"
        calls = [c for c in vox.ng_ok(ng, {"command": "list", "limit": 1000})["calls"] if c == cid]
        assert len(calls) == 1, f"list shows the call {len(calls)} times"
        two_way(a, a2.media[0].port, b, o2.media[0].port, "after re-INVITE")
    finally:
        delete(ng, cid)
        ps.close()


def case_reoffer_from_callee(ng):
    ps = Peers()
    cid, a, b, pa, pb = basic_call(ng, ps, "callee-reoffer")
    try:
        two_way(a, pa, b, pb, "initial")
        # B sends the re-INVITE: from-tag is B's tag now.
        to_a = offer(ng, cid, "tagB", vox.make_sdp(LOCAL, [b.port], version=2), to_tag="tagA")
        assert to_a.media[0].port == pa, \
            f"re-offer from the callee: SDP to A has port {to_a.media[0].port}, expected A's " \
            f"existing relay port {pa}"
        to_b = answer(ng, cid, "tagB", "tagA", vox.make_sdp(LOCAL, [a.port], version=2))
        assert to_b.media[0].port == pb, \
            f"answer to the callee's re-offer: SDP to B has port {to_b.media[0].port}, expected " \
            f"B's existing relay port {pb}"
        two_way(a, pa, b, pb, "after callee re-offer")
    finally:
        delete(ng, cid)
        ps.close()


def case_hold(ng):
    ps = Peers()
    cid, a, b, pa, pb = basic_call(ng, ps, "hold")
    try:
        two_way(a, pa, b, pb, "before hold")
        hold = vox.make_sdp("0.0.0.0", [vox.audio_media(a.port, ["a=sendonly"])], origin=LOCAL,
                            version=2)
        o = offer(ng, cid, "tagA", hold, to_tag="tagB")
        assert o.media[0].port == pb, f"hold offer: SDP to B has port {o.media[0].port}, " \
                                      f"expected {pb} (ports kept on hold)"
        assert o.media[0].has("sendonly"), f"hold offer: a=sendonly not passed to B:\n{o.text}"
        an = answer(ng, cid, "tagA", "tagB",
                    vox.make_sdp(LOCAL, [vox.audio_media(b.port, ["a=recvonly"])], version=2))
        assert an.media[0].port == pa, f"hold answer: SDP to A has port {an.media[0].port}, " \
                                       f"expected {pa}"
        assert an.media[0].has("recvonly"), f"hold answer: a=recvonly not passed to A:\n{an.text}"
        assert cid in vox.ng_ok(ng, {"command": "list", "limit": 1000})["calls"], \
            "call vanished from list on hold"
        vox.ng_ok(ng, {"command": "query", "call-id": cid}, "query on hold")
        # B (not on hold itself) still reaches... nothing to send to A: only
        # check the call resumes with the same ports.
        o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [a.port], version=3), to_tag="tagB")
        assert o.media[0].port == pb, f"resume offer: port {o.media[0].port}, expected {pb}"
        assert o.media[0].has("sendrecv"), f"resume offer: no a=sendrecv:\n{o.text}"
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(LOCAL, [b.port], version=3))
        assert an.media[0].port == pa, f"resume answer: port {an.media[0].port}, expected {pa}"
        two_way(a, pa, b, pb, "after resume")
    finally:
        delete(ng, cid)
        ps.close()


def case_rejected_stream(ng):
    ps = Peers()
    cid = new_cid("rejected")
    try:
        a, b = ps.one(), ps.one()
        o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [a.port, vox.audio_media(0, kind="video")]))
        assert [m.kind for m in o.media] == ["audio", "video"], \
            f"offer to B lost an m= line:\n{o.text}"
        assert o.media[1].port == 0, f"offer to B: rejected video got port {o.media[1].port}:\n" \
                                     f"{o.text}"
        assert o.media[0].port != 0, "offer to B: audio got port 0"
        an = answer(ng, cid, "tagA", "tagB",
                    vox.make_sdp(LOCAL, [b.port, vox.audio_media(0, kind="video")]))
        assert an.media[1].port == 0, f"answer to A: rejected video got port " \
                                      f"{an.media[1].port}:\n{an.text}"
        two_way(a, an.media[0].port, b, o.media[0].port, "audio beside a rejected video")
        # The answerer rejects a stream the offerer wanted: A must see port 0.
        cid2 = new_cid("rejected-by-answer")
        v = ps.one()
        o = offer(ng, cid2, "tagA", vox.make_sdp(LOCAL, [a.port, vox.audio_media(v.port,
                                                                              kind="video")]))
        assert o.media[1].port != 0, f"offer to B: offered video got port 0:\n{o.text}"
        an = answer(ng, cid2, "tagA", "tagB",
                    vox.make_sdp(LOCAL, [b.port, vox.audio_media(0, kind="video")]))
        delete(ng, cid2)
        assert an.media[1].port == 0, f"answer to A: video rejected by B has port " \
                                      f"{an.media[1].port}, expected 0:\n{an.text}"
    finally:
        delete(ng, cid)
        ps.close()


def case_audio_video_ports(ng):
    ps = Peers()
    cid = new_cid("av")
    try:
        a, av, b, bv = ps.one(), ps.one(), ps.one(), ps.one()
        o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [a.port, vox.audio_media(av.port,
                                                                              kind="video")]))
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(LOCAL, [b.port, vox.audio_media(
            bv.port, kind="video")]))
        ports = {"B audio": o.media[0].port, "B video": o.media[1].port,
                 "A audio": an.media[0].port, "A video": an.media[1].port}
        for k, p in ports.items():
            assert p and p % 2 == 0, f"{k} relay port {p} is not an even RTP port"
            rtcp_vals = [x.split()[0] for x in (o if k.startswith("B") else an).media[
                0 if "audio" in k else 1].attr("rtcp")]
            assert rtcp_vals == [str(p + 1)], f"{k}: a=rtcp {rtcp_vals}, expected [{p + 1}]"
        pairs = {k: {p, p + 1} for k, p in ports.items()}
        keys = list(pairs)
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                assert not pairs[keys[i]] & pairs[keys[j]], \
                    f"{keys[i]} and {keys[j]} share ports: {ports}"
        send_expect(av, (LOCAL, ports["A video"]), bv, (LOCAL, ports["B video"]),
                    "video A -> B", rtp("vid", pt=96))
        expect_nothing(b, "video must not reach B's audio socket", 0.1)
        send_expect(bv, (LOCAL, ports["B video"]), av, (LOCAL, ports["A video"]),
                    "video B -> A", rtp("vid", pt=96))
        two_way(a, ports["A audio"], b, ports["B audio"], "audio beside video")
        expect_nothing(bv, "audio must not reach B's video socket", 0.1)
    finally:
        delete(ng, cid)
        ps.close()


def case_rtcp_attribute(ng):
    ps = Peers()
    cid = new_cid("rtcp-attr")
    try:
        a, b = ps.one(), ps.one()
        # A writes its own a=rtcp (a private port): it must be rewritten.
        o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [vox.audio_media(a.port, [
            f"a=rtcp:{a.port + 1}"])]))
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(LOCAL, [b.port]))
        for what, info in (("offer to B", o), ("answer to A", an)):
            m = info.media[0]
            vals = m.attr("rtcp")
            assert len(vals) == 1, f"{what}: expected exactly one a=rtcp line, got {vals}:\n" \
                                   f"{info.text}"
            assert vals[0].split()[0] == str(m.port + 1), \
                f"{what}: a=rtcp:{vals[0]} but the RTP port is {m.port} (expected {m.port + 1})"
    finally:
        delete(ng, cid)
        ps.close()


def case_rtcp_mux(ng):
    ps = Peers()
    cid = new_cid("mux")
    try:
        a = ps.one()
        b, b_rtcp = ps.pair()
        o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [vox.audio_media(a.port, ["a=rtcp-mux"])]))
        assert o.media[0].has("rtcp-mux"), f"A offered rtcp-mux; offer to B lacks a=rtcp-mux:\n" \
                                           f"{o.text}"
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(LOCAL, [vox.audio_media(
            b.port, ["a=rtcp-mux"])]))
        assert an.media[0].has("rtcp-mux"), f"B answered rtcp-mux; answer to A lacks " \
                                            f"a=rtcp-mux:\n{an.text}"
        pa, pb = an.media[0].port, o.media[0].port
        send_expect(a, (LOCAL, pa), b, (LOCAL, pb), "muxed RTCP (RR) A -> B's RTP port",
                    rtcp(0x1111))
        send_expect(b, (LOCAL, pb), a, (LOCAL, pa), "muxed RTCP (RR) B -> A's RTP port",
                    rtcp(0x2222))
        two_way(a, pa, b, pb, "RTP with rtcp-mux")
        expect_nothing(b_rtcp, "with rtcp-mux nothing goes to B's RTP port + 1", 0.1)
    finally:
        delete(ng, cid)
        ps.close()


def case_rtcp_mux_demux(ng):
    ps = Peers()
    cid = new_cid("demux")
    try:
        a = ps.one()
        b, b_rtcp = ps.pair()
        o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [vox.audio_media(a.port, ["a=rtcp-mux"])]),
                  rtcp_mux=["demux"])
        assert not o.media[0].has("rtcp-mux"), \
            f"rtcp-mux demux: offer to B still has a=rtcp-mux:\n{o.text}"
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(LOCAL, [b.port]))
        assert an.media[0].has("rtcp-mux"), \
            f"rtcp-mux demux: A's rtcp-mux should be accepted toward A; answer lacks " \
            f"a=rtcp-mux:\n{an.text}"
        pa, pb = an.media[0].port, o.media[0].port
        send_expect(a, (LOCAL, pa), b_rtcp, (LOCAL, pb + 1),
                    "demux: A's muxed RTCP -> B's RTCP port (SDP port + 1)", rtcp(0x3333))
        expect_nothing(b, "demux: RTCP must not arrive on B's RTP port", 0.1)
        send_expect(b_rtcp, (LOCAL, pb + 1), a, (LOCAL, pa),
                    "demux: B's RTCP (to relay RTCP port) -> A's muxed RTP port", rtcp(0x4444))
        two_way(a, pa, b, pb, "RTP with demux")
    finally:
        delete(ng, cid)
        ps.close()


ICE_SESSION = ["a=ice-lite", "a=ice-ufrag:SeSs", "a=ice-pwd:sessionpasswordsessionpw",
               "a=ice-options:trickle"]


def case_ice_removed(ng):
    ps = Peers()
    cid = new_cid("ice")
    try:
        a, b = ps.one(), ps.one()
        media = ("m=audio %d RTP/AVP 0 101" % a.port, [
            "b=AS:80",
            "a=rtpmap:0 PCMU/8000",
            "a=ice-ufrag:F7gI",
            "a=ice-pwd:x9cml/YzichV2+XlhiMu8g",
            "a=candidate:1 1 UDP 2130706431 10.0.0.7 %d typ host" % a.port,
            "a=rtpmap:101 telephone-event/8000",
            "a=candidate:2 1 UDP 1694498815 198.51.100.9 40000 typ srflx raddr 10.0.0.7 rport %d"
            % a.port,
            "a=fmtp:101 0-16",
            "a=ice-options:trickle",
            "a=x-vox-unknown:keep me",
            "a=end-of-candidates",
            "a=ptime:20",
            "a=ssrc:12345 cname:voxtest",
            "a=sendrecv"])
        sdp = vox.make_sdp(LOCAL, [media], session_lines=ICE_SESSION)
        o = offer(ng, cid, "tagA", sdp, ICE="remove")
        bad = [ln for ln in o.text.splitlines()
               if ln.startswith(("a=candidate", "a=ice-", "a=end-of-candidates"))]
        assert not bad, f"ICE remove: offer to B still has {bad}"
        kept = [ln for ln in o.media[0].lines if not ln.startswith(("m=", "c=", "a=rtcp:"))]
        want = ["b=AS:80", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
                "a=fmtp:101 0-16", "a=x-vox-unknown:keep me", "a=ptime:20",
                "a=ssrc:12345 cname:voxtest", "a=sendrecv"]
        assert kept == want, f"ICE remove: the other lines must stay, in order;\n  got  {kept}\n" \
                             f"  want {want}"
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(LOCAL, [b.port]), ICE="remove")
        two_way(a, an.media[0].port, b, o.media[0].port, "after ICE remove")
    finally:
        delete(ng, cid)
        ps.close()


def case_replace_origin(ng):
    ps = Peers()
    try:
        a = ps.one()
        sdp = vox.make_sdp(LOCAL, [a.port], origin="192.0.2.55")
        cid1 = new_cid("origin")
        o = offer(ng, cid1, "tagA", sdp, replace=["origin"])
        delete(ng, cid1)
        assert o.origin == LOCAL, f"replace origin: o= line is {o.origin_line!r}, expected " \
                                  f"the relay address {LOCAL}"
        cid2 = new_cid("no-origin")
        o = offer(ng, cid2, "tagA", sdp)
        delete(ng, cid2)
        assert o.origin == "192.0.2.55", f"without replace origin the o= line must be kept; got " \
                                         f"{o.origin_line!r}"
        assert o.conn == LOCAL or o.media[0].conn == LOCAL, \
            f"c= must point at the relay: {o.text}"
    finally:
        ps.close()


def case_forked_answers(ng):
    ps = Peers()
    cid = new_cid("fork")
    try:
        a, b1, b2 = ps.one(), ps.one(), ps.one()
        o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [a.port]))
        pb = o.media[0].port
        answer(ng, cid, "tagA", "tagB1", vox.make_sdp(LOCAL, [b1.port]))  # e.g. a 183
        an2 = answer(ng, cid, "tagA", "tagB2", vox.make_sdp(LOCAL, [b2.port]))  # the 200 OK
        pa = an2.media[0].port
        p = rtp("fork")
        a.sendto(p, (LOCAL, pa))
        got2 = b2.recv_for(WAIT_S, until=1)
        got1 = b1.recv_for(QUIET_S)
        assert got2 and got2[0][0] == p, \
            f"forked answers: A's media did not reach the later answerer B2 (B1 got {len(got1)})"
        assert not got1, f"forked answers: the earlier answerer B1 still receives A's media"
        send_expect(b2, (LOCAL, pb), a, (LOCAL, pa), "forked answers: B2 -> A")
        tags = vox.ng_ok(ng, {"command": "query", "call-id": cid}).get("tags", {})
        assert "tagB2" in tags, f"query after forked answers: tags {sorted(tags)} lack tagB2"
    finally:
        delete(ng, cid)
        ps.close()


def case_via_branch_fork(ng):
    """A proxy forks the INVITE to two phones: one offer per branch, each
    with its via-branch, gets its own ports. B2's 183 puts B2 in dialogue
    (A's media goes there, B1's is dropped); B1's 200 takes the dialogue
    over; deleting the losing branch B2 leaves the call to A and B1."""
    ps = Peers()
    cid = new_cid("via-fork")
    try:
        a, b1, b2 = ps.one(), ps.one(), ps.one()
        o1 = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [a.port]), via_branch="z9hG4bK-b1")
        o2 = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [a.port]), via_branch="z9hG4bK-b2")
        pb1, pb2 = o1.media[0].port, o2.media[0].port
        assert pb1 != pb2, f"via-branch fork: both branches were offered port {pb1}"
        an2 = answer(ng, cid, "tagA", "tagB2", vox.make_sdp(LOCAL, [b2.port]), via_branch="z9hG4bK-b2")
        pa = an2.media[0].port
        two_way(a, pa, b2, pb2, "via-branch fork, B2 in dialogue")
        b1.sendto(rtp("parked"), (LOCAL, pb1))
        expect_nothing(a, "via-branch fork: media from the parked branch B1")
        an1 = answer(ng, cid, "tagA", "tagB1", vox.make_sdp(LOCAL, [b1.port]), via_branch="z9hG4bK-b1")
        assert an1.media[0].port == pa, f"via-branch fork: A's port moved {pa} -> {an1.media[0].port}"
        two_way(a, pa, b1, pb1, "via-branch fork, B1 in dialogue")
        expect_nothing(b2, "via-branch fork: the parked branch B2 after B1's answer")
        r = vox.ng_ok(ng, {"command": "delete", "call-id": cid, "from-tag": "tagA",
                           "via-branch": "z9hG4bK-b2", "delete delay": 0})
        assert "warning" not in r, f"via-branch fork: delete of branch B2 warned: {r}"
        tags = vox.ng_ok(ng, {"command": "query", "call-id": cid}).get("tags", {})
        assert sorted(tags) == ["tagA", "tagB1"], f"via-branch fork: tags after deleting B2: {sorted(tags)}"
        two_way(a, pa, b1, pb1, "via-branch fork, after B2's delete")
    finally:
        delete(ng, cid)
        ps.close()


def case_answer_errors(ng):
    r = ng.call({"command": "answer", "call-id": new_cid("nosuch"), "from-tag": "x",
                 "to-tag": "y", "sdp": vox.make_sdp(LOCAL, [40000])})
    assert r.get("result") == "error" and r.get("error-reason") == "Unknown call-id", \
        f"answer for an unknown call-id: {r}, expected error 'Unknown call-id'"
    ps = Peers()
    cid = new_cid("wrongtag")
    try:
        a, b = ps.one(), ps.one()
        o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [a.port]))
        r = ng.call({"command": "answer", "call-id": cid, "from-tag": "not-tagA",
                     "to-tag": "tagB", "sdp": vox.make_sdp(LOCAL, [b.port])})
        assert r.get("result") == "error" and \
            r.get("error-reason") == "Call-ID not found or tags didn't match", \
            f"answer with a wrong from-tag: {r}, expected error 'Call-ID not found or tags " \
            f"didn't match'"
        # The call is unharmed: the right answer still works.
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(LOCAL, [b.port]))
        two_way(a, an.media[0].port, b, o.media[0].port, "after a rejected answer")
    finally:
        delete(ng, cid)
        ps.close()


def case_media_right_after_answer(ng, n=150):
    """A caller starts RTP as soon as it has the 200 OK, i.e. right after the
    relay answered the NG `answer`: that first packet must be relayed."""
    lost = []
    for i in range(n):
        if len(lost) >= 10:  # enough evidence; keep the run short
            n = i
            break
        ps = Peers()
        cid = new_cid("race")
        try:
            a, b = ps.one(), ps.one()
            o = offer(ng, cid, "tagA", vox.make_sdp(LOCAL, [a.port]))
            r = vox.ng_ok(ng, {"command": "answer", "call-id": cid, "from-tag": "tagA",
                               "to-tag": "tagB", "sdp": vox.make_sdp(LOCAL, [b.port])})
            pa = vox.parse_sdp(r["sdp"]).media[0].port
            p = rtp("race")
            a.sendto(p, (LOCAL, pa))  # immediately
            if not b.recv_for(0.5, until=1):
                q = vox.ng_ok(ng, {"command": "query", "call-id": cid})
                st = vox.stream_by_port(q, "tagA", pa).get("stats", {})
                lost.append(f"call {i}: drops {dict((k, v) for k, v in st.get('drops', {}).items() if v)}")
            _ = o
        finally:
            delete(ng, cid)
            ps.close()
    assert not lost, f"{len(lost)} of {n} first packets sent right after the answer reply were " \
                     f"not relayed (flow state applied after the NG reply?): {lost[:4]}"


def case_ipv6(ng):
    ps = Peers()
    cid = new_cid("v6")
    host = "::1"
    try:
        a, b = ps.one(host), ps.one(host)
        o = offer(ng, cid, "tagA", vox.make_sdp(host, [a.port]))
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp(host, [b.port]))
        for what, info in (("offer to B", o), ("answer to A", an)):
            c_lines = [ln for ln in info.text.splitlines() if ln.startswith("c=")]
            assert c_lines and all(ln == "c=IN IP6 ::1" for ln in c_lines), \
                f"IPv6: {what} c= lines {c_lines}, expected 'c=IN IP6 ::1'"
        two_way(a, an.media[0].port, b, o.media[0].port, "IPv6 over ::1", host)
    finally:
        delete(ng, cid)
        ps.close()


def case_two_interfaces(ng):
    ps = Peers()
    cid = new_cid("ifaces")
    try:
        a, b = ps.one("127.0.0.1"), ps.one("127.0.0.2")
        o = offer(ng, cid, "tagA", vox.make_sdp("127.0.0.1", [a.port]), direction=["int", "ext"])
        an = answer(ng, cid, "tagA", "tagB", vox.make_sdp("127.0.0.2", [b.port]))
        assert o.media[0].conn == "127.0.0.2", \
            f"direction int->ext: SDP to B has c={o.media[0].conn}, expected 127.0.0.2:\n{o.text}"
        assert an.media[0].conn == "127.0.0.1", \
            f"direction int->ext: answer to A has c={an.media[0].conn}, expected 127.0.0.1:\n" \
            f"{an.text}"
        pa, pb = an.media[0].port, o.media[0].port
        send_expect(a, ("127.0.0.1", pa), b, ("127.0.0.2", pb), "int -> ext: A -> B")
        send_expect(b, ("127.0.0.2", pb), a, ("127.0.0.1", pa), "ext -> int: B -> A")
    finally:
        delete(ng, cid)
        ps.close()


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_offer_answer")
    ports = vox.free_udp_ports(600, step=2)
    relays = [
        ("relay 1", dict(port_min=ports[0], port_max=ports[399]), [
            ("re-INVITE keeps the relay ports", case_reinvite_same_ports),
            ("re-offer from the callee side keeps the ports", case_reoffer_from_callee),
            ("hold (c=0.0.0.0, sendonly) keeps ports and call", case_hold),
            ("rejected stream stays port 0", case_rejected_stream),
            ("audio + video get distinct port pairs, video goes to video",
             case_audio_video_ports),
            ("a=rtcp: is the RTP port + 1", case_rtcp_attribute),
            ("rtcp-mux offered and answered: a=rtcp-mux both ways, muxed RTCP relayed",
             case_rtcp_mux),
            ("rtcp-mux demux: no mux toward B, muxed RTCP to B's RTCP port", case_rtcp_mux_demux),
            ("ICE remove strips ICE lines, keeps the rest in order", case_ice_removed),
            ("replace origin rewrites o= (kept without it)", case_replace_origin),
            ("forked answers: the later answer wins", case_forked_answers),
            ("via-branch: ports per branch, the answering one in dialogue, one deleted alone",
             case_via_branch_fork),
            ("answer errors: unknown call-id, wrong from-tag", case_answer_errors),
            ("media sent right after the answer reply is relayed", case_media_right_after_answer),
        ]),
        ("relay 2 (::1)", dict(port_min=ports[400], port_max=ports[499], interfaces=["::1"]), [
            ("IPv6: SDP c=IN IP6 ::1 and media over ::1", case_ipv6),
        ]),
        ("relay 3 (int/ext)", dict(port_min=ports[500], port_max=ports[549],
                                   interfaces=["int/127.0.0.1", "ext/127.0.0.2"]), [
            ("two interfaces with direction [int, ext]", case_two_interfaces),
        ]),
        # The epoll loop is the fallback where io_uring is unavailable
        # (old kernels, seccomp'd containers): same guarantees.
        ("relay 4 (--socket-io=epoll)", dict(port_min=ports[550], port_max=ports[599],
                                             extra_args=["--socket-io=epoll"]), [
            ("re-INVITE keeps the relay ports", case_reinvite_same_ports),
            ("rtcp-mux demux: no mux toward B, muxed RTCP to B's RTCP port", case_rtcp_mux_demux),
            ("media sent right after the answer reply is relayed (400 calls)",
             lambda ng: case_media_right_after_answer(ng, 400)),
        ]),
    ]
    for rname, kw, cases in relays:
        try:
            with vox.Relay(build_dir, **kw) as relay:
                for name, fn in cases:
                    runner.run(f"{rname}: {name}", fn, relay.ng)
                left = vox.ng_ok(relay.ng, {"command": "list", "limit": 1000})["calls"]
                if left:
                    runner.fail(f"{rname}: cleanup", f"calls left after delete delay 0: {left}")
            if not relay.clean_exit:
                runner.fail(f"{rname}: SIGTERM", relay.report())
        except (vox.RelayError, vox.NgTimeout) as e:
            runner.fail(rname, f"{type(e).__name__}: {e}")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
