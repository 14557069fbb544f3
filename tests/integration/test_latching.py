#!/usr/bin/env python3
"""Media latching and source policy (the RTP Bleed defence), over loopback.

Relay 1 (default --latch-window-ms=3000):
  - foreign source after latch: once A and B have latched, packets to A's
    relay port from another local socket get nothing through to B (nor to A
    via B's port), `query` counts them as source-mismatch drops on A's stream,
    and the real parties still talk;
  - NAT latching: A's SDP says port X but A sends from Y within the window:
    B's replies go to Y, not X; `query` shows Y as A's endpoint;
  - strict-source (offer flag): a packet from Y (not the SDP address) is
    dropped even in the window; X gets through;
  - asymmetric (offer flag): A sends from Y, replies still go to the SDP
    address X.
Relay 2 (--latch-window-ms=300):
  - media-handover (offer flag): the source may change at any time, also
    after the window; without the flag the same change is dropped;
  - a foreign source sending first after the window expired never latches:
    dropped and counted; A's SDP address then works and gets B's replies;
  - a stranger on A's own IP (another port) that sends first latches, but
    A sending from its exact SDP address after the window takes the stream
    back (rtpengine does too): B's media reaches A, not the stranger.
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
QUIET_S = 0.3          # "receives nothing within 300 ms"
WAIT_S = 1.0           # how long a packet that must arrive may take
SETTLE_S = 0.03        # pause after the answer before media
_seq = itertools.count(1)
_calls = itertools.count(1)


def pkt(label: str) -> bytes:
    """An RTP packet whose payload names its sender (to tell packets apart)."""
    n = next(_seq)
    body = (f"{label}#{n}".encode() + b"\x00" * 160)[:160]
    return vox.rtp_packet(n, n * 160, 0xC0FFEE, body)


class Call:
    """One call: offer from A (SDP port of peer a_sdp), answer from B."""

    def __init__(self, relay: vox.Relay, offer_flags=(), answer_flags=(), a_sdp=None):
        self.relay = relay
        self.ng = relay.ng
        self.cid = f"latch-{next(_calls)}-{time.monotonic_ns() % 100000}"
        self.peers = []
        self.a = a_sdp or self.peer()     # the socket A's SDP names
        self.b = self.peer()
        offer = {"command": "offer", "call-id": self.cid, "from-tag": "tagA",
                 "sdp": vox.make_sdp(LOCAL, [self.a.port])}
        if offer_flags:
            offer["flags"] = list(offer_flags)
        r = vox.ng_ok(self.ng, offer)
        self.pb = vox.parse_sdp(r["sdp"]).media[0].port
        answer = {"command": "answer", "call-id": self.cid, "from-tag": "tagA", "to-tag": "tagB",
                  "sdp": vox.make_sdp(LOCAL, [self.b.port])}
        if answer_flags:
            answer["flags"] = list(answer_flags)
        r = vox.ng_ok(self.ng, answer)
        self.pa = vox.parse_sdp(r["sdp"]).media[0].port
        self.t_answer = time.monotonic()
        # voxrelay applies flow changes asynchronously after replying; a
        # packet sent within microseconds of the answer reply can be dropped
        # (test_offer_answer.py checks that race). Not what this test is about.
        time.sleep(SETTLE_S)

    def peer(self) -> vox.UdpPeer:
        p = vox.UdpPeer(LOCAL)
        self.peers.append(p)
        return p

    def query(self) -> dict:
        return vox.ng_ok(self.ng, {"command": "query", "call-id": self.cid})

    def drops(self, tag: str, port: int, reason: str = "source-mismatch") -> int:
        s = vox.stream_by_port(self.query(), tag, port)
        d = s.get("stats", {}).get("drops", {})
        if reason not in d:
            raise AssertionError(f"query: stream {tag}/{port} has no drops[{reason!r}]: "
                                 f"{s.get('stats')}")
        return int(d[reason])

    def close(self) -> None:
        for p in self.peers:
            p.close()
        try:
            self.ng.call({"command": "delete", "call-id": self.cid, "delete delay": 0})
        except vox.NgTimeout:
            pass


def expect(receiver: vox.UdpPeer, sent: bytes, from_port: int, what: str) -> None:
    got = receiver.recv_for(WAIT_S, until=1)
    assert got, f"{what}: nothing arrived at {receiver.addr} within {WAIT_S} s"
    data, src = got[0]
    assert data == sent, f"{what}: received another packet than the one sent " \
                         f"({data[12:30]!r} instead of {sent[12:30]!r})"
    assert src == (LOCAL, from_port), f"{what}: arrived from {src}, expected from the relay " \
                                      f"port {from_port}"
    extra = receiver.recv_for(0.05)
    assert not extra, f"{what}: {len(extra)} unexpected extra packet(s): " \
                      f"{[d[12:30] for d, _ in extra]}"


def expect_nothing(receiver: vox.UdpPeer, what: str, quiet: float = QUIET_S) -> None:
    got = receiver.recv_for(quiet)
    assert not got, f"{what}: {receiver.addr} received {len(got)} packet(s) within " \
                    f"{quiet * 1000:.0f} ms, expected none (payloads " \
                    f"{[d[12:30] for d, _ in got]})"


def send_expect(sender, to_port, receiver, from_port, label, what):
    p = pkt(label)
    sender.sendto(p, (LOCAL, to_port))
    expect(receiver, p, from_port, what)


# ---------------------------------------------------------------- relay 1


def case_foreign_after_latch(relay):
    c = Call(relay)
    try:
        f = c.peer()
        send_expect(c.a, c.pa, c.b, c.pb, "A1", "A -> B (latches A)")
        send_expect(c.b, c.pb, c.a, c.pa, "B1", "B -> A (latches B)")
        before = c.drops("tagA", c.pa)
        for _ in range(3):
            f.sendto(pkt("FOREIGN"), (LOCAL, c.pa))
        expect_nothing(c.b, "foreign source -> A's relay port, after A latched")
        after = c.drops("tagA", c.pa)
        assert after - before == 3, \
            f"query: source-mismatch drops on A's stream (port {c.pa}) went {before} -> " \
            f"{after}, expected +3 for the 3 foreign packets"
        for _ in range(2):
            f.sendto(pkt("FOREIGN"), (LOCAL, c.pb))
        expect_nothing(c.a, "foreign source -> B's relay port, after B latched")
        assert c.drops("tagB", c.pb) >= 2, \
            f"query: no source-mismatch drops on B's stream (port {c.pb}) for 2 foreign packets"
        # The latches were not hijacked: replies go to the real parties only.
        send_expect(c.b, c.pb, c.a, c.pa, "B2", "B -> A after the foreign packets")
        send_expect(c.a, c.pa, c.b, c.pb, "A2", "A -> B after the foreign packets")
        expect_nothing(f, "foreign socket must not receive media")
    finally:
        c.close()


def case_nat_latching(relay):
    c = Call(relay)   # A's SDP names socket X = c.a
    try:
        y = c.peer()  # A behind NAT actually sends from Y
        send_expect(y, c.pa, c.b, c.pb, "Y1", "A (from Y, not its SDP port) -> B within window")
        p = pkt("B1")
        c.b.sendto(p, (LOCAL, c.pb))
        got = y.recv_for(WAIT_S, until=1)
        at_x = c.a.recv_for(QUIET_S)
        assert got and got[0][0] == p, \
            f"B -> A: reply did not arrive at the latched source Y {y.addr} " \
            f"(arrived at SDP address X {c.a.addr}: {bool(at_x)})"
        assert got[0][1] == (LOCAL, c.pa), f"B -> A: reply came from {got[0][1]}, expected " \
                                           f"from relay port {c.pa}"
        assert not at_x, f"B -> A: the SDP address X {c.a.addr} received {len(at_x)} " \
                         f"packet(s); after latching to Y it must get none"
        ep = vox.stream_by_port(c.query(), "tagA", c.pa).get("endpoint", {})
        assert int(ep.get("port", -1)) == y.port, \
            f"query: A's endpoint {ep}, expected the latched {LOCAL}:{y.port}"
    finally:
        c.close()


def case_strict_source(relay):
    c = Call(relay, offer_flags=["strict-source"])
    try:
        y = c.peer()
        before = c.drops("tagA", c.pa)
        for _ in range(2):
            y.sendto(pkt("Y-STRICT"), (LOCAL, c.pa))
        expect_nothing(c.b, "strict-source: A's packet from Y (not the SDP address), in the "
                            "latch window")
        after = c.drops("tagA", c.pa)
        assert after - before == 2, f"strict-source: source-mismatch drops on A's stream " \
                                    f"{before} -> {after}, expected +2"
        send_expect(c.a, c.pa, c.b, c.pb, "X1", "strict-source: A from its SDP address -> B")
        send_expect(c.b, c.pb, c.a, c.pa, "B1", "strict-source: B -> A (to the SDP address)")
        expect_nothing(y, "strict-source: Y must receive nothing")
    finally:
        c.close()


def case_asymmetric(relay):
    c = Call(relay, offer_flags=["asymmetric"])
    try:
        y = c.peer()
        send_expect(y, c.pa, c.b, c.pb, "Y1", "asymmetric: A sending from Y -> B")
        p = pkt("B1")
        c.b.sendto(p, (LOCAL, c.pb))
        at_x = c.a.recv_for(WAIT_S, until=1)
        at_y = y.recv_for(QUIET_S)
        assert at_x and at_x[0][0] == p, \
            f"asymmetric: B's reply did not reach A's SDP address X {c.a.addr} " \
            f"(Y {y.addr} got {len(at_y)} packet(s))"
        assert not at_y, f"asymmetric: B's reply went to the packet source Y {y.addr}; it must " \
                         f"go to the SDP address only"
    finally:
        c.close()


# ---------------------------------------------------------------- relay 2 (window 300 ms)


def case_media_handover(relay):
    c = Call(relay, offer_flags=["media-handover"])
    ctl = Call(relay)  # same steps without the flag: the change must be refused
    try:
        for call in (c, ctl):
            send_expect(call.a, call.pa, call.b, call.pb, "X1", "A (X) -> B")
            send_expect(call.b, call.pb, call.a, call.pa, "B1", "B -> A (X)")
        time.sleep(0.6)  # the 300 ms learning window is over
        y = c.peer()
        send_expect(y, c.pa, c.b, c.pb, "Y1", "media-handover: A now sends from Y (after the "
                                              "window) -> B")
        p = pkt("B2")
        c.b.sendto(p, (LOCAL, c.pb))
        got = y.recv_for(WAIT_S, until=1)
        assert got and got[0][0] == p, f"media-handover: B's reply did not follow A to Y {y.addr}"
        expect_nothing(c.a, "media-handover: old address X after handover to Y")
        send_expect(c.a, c.pa, c.b, c.pb, "X2", "media-handover: A back on X -> B")
        send_expect(c.b, c.pb, c.a, c.pa, "B3", "media-handover: B -> A back on X")
        expect_nothing(y, "media-handover: Y after A moved back to X", 0.1)

        # Control call, no media-handover: the same move is an RTP Bleed attempt.
        y2 = ctl.peer()
        y2.sendto(pkt("Y-CTL"), (LOCAL, ctl.pa))
        expect_nothing(ctl.b, "without media-handover: A's new source Y after the window")
        assert ctl.drops("tagA", ctl.pa) >= 1, \
            "without media-handover: no source-mismatch drop counted for the new source"
        send_expect(ctl.b, ctl.pb, ctl.a, ctl.pa, "B4", "without media-handover: B -> A still "
                                                        "goes to X")
    finally:
        c.close()
        ctl.close()


def case_foreign_first_after_window(relay):
    c = Call(relay)
    try:
        f = c.peer()
        time.sleep(max(0.0, c.t_answer + 0.6 - time.monotonic()))  # window (300 ms) expired
        before = c.drops("tagA", c.pa)
        for _ in range(3):
            f.sendto(pkt("FOREIGN"), (LOCAL, c.pa))
        expect_nothing(c.b, "foreign source sending first, after the latch window")
        after = c.drops("tagA", c.pa)
        assert after - before == 3, f"source-mismatch drops on A's stream {before} -> {after}, " \
                                    f"expected +3"
        q = vox.stream_by_port(c.query(), "tagA", c.pa)
        ep = q.get("endpoint", {})
        assert int(ep.get("port", -1)) != f.port, \
            f"query: A's endpoint is the foreign socket {ep}: it latched"
        send_expect(c.a, c.pa, c.b, c.pb, "X1", "A from its SDP address after the window -> B")
        f.sendto(pkt("FOREIGN2"), (LOCAL, c.pa))
        expect_nothing(c.b, "foreign source after A's SDP address was accepted")
        send_expect(c.b, c.pb, c.a, c.pa, "B1", "B -> A after the foreign attempts")
        expect_nothing(f, "foreign socket must never receive media")
    finally:
        c.close()


def case_stranger_on_callers_ip(relay):
    """A stranger on the caller's own IP (another port) sends first and
    latches; once the caller sends from exactly its SDP address, even after
    the window, the stream is the caller's: B's media goes to it, and the
    stranger's packets are dropped from then on."""
    c = Call(relay)
    try:
        f = c.peer()  # 127.0.0.1 like A, another port
        send_expect(f, c.pa, c.b, c.pb, "STRANGER1", "stranger on A's IP first -> B (latches)")
        time.sleep(max(0.0, c.t_answer + 0.6 - time.monotonic()))  # window (300 ms) over
        send_expect(c.a, c.pa, c.b, c.pb, "A1", "A from its exact SDP address takes the stream")
        send_expect(c.b, c.pb, c.a, c.pa, "B1", "B -> A goes to A, not to the stranger")
        expect_nothing(f, "the stranger receives nothing once A has the stream")
        f.sendto(pkt("STRANGER2"), (LOCAL, c.pa))
        expect_nothing(c.b, "the stranger's packets after A took the stream back")
    finally:
        c.close()


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_latching")
    ports = vox.free_udp_ports(200, step=2)
    try:
        with vox.Relay(build_dir, port_min=ports[0], port_max=ports[99]) as relay:
            runner.run("foreign source after latch is dropped and counted",
                       case_foreign_after_latch, relay)
            runner.run("NAT latching: replies go to the latched source, not the SDP port",
                       case_nat_latching, relay)
            runner.run("strict-source drops a non-SDP source even in the window",
                       case_strict_source, relay)
            runner.run("asymmetric: replies go to the SDP address", case_asymmetric, relay)
            left = relay.ng.list_calls()
            if left:
                runner.fail("relay 1 cleanup", f"calls left after delete delay 0: {left}")
        if not relay.clean_exit:
            runner.fail("relay 1 SIGTERM", relay.report())
        with vox.Relay(build_dir, port_min=ports[100], port_max=ports[199],
                       extra_args=["--latch-window-ms=300"]) as relay:
            runner.run("media-handover: source may change after the window",
                       case_media_handover, relay)
            runner.run("foreign source first after the window never latches",
                       case_foreign_first_after_window, relay)
            runner.run("a stranger on the caller's IP that sent first gives the stream back",
                       case_stranger_on_callers_ip, relay)
        if not relay.clean_exit:
            runner.fail("relay 2 SIGTERM", relay.report())
    except (vox.RelayError, vox.NgTimeout) as e:
        runner.fail("relay", f"{type(e).__name__}: {e}")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
