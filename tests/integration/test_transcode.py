#!/usr/bin/env python3
"""G.711 <-> Opus transcoding through the real daemon, over loopback.

One relay (one worker), two calls. Call 1: A offers PCMU/PCMA/telephone-event
with flags codec-transcode-opus and codec-mask-PCMA; B answers Opus and
telephone-event/48000 with the payload types the relay offered it.
  - SDP: the offer to B is PCMU, opus/48000/2, telephone-event/8000,
    telephone-event/48000 (no PCMA); the answer to A is PCMU and
    telephone-event/8000 only;
  - PCMU -> Opus: 100 packets of a 1 kHz tone, µ-law coded here, paced at
    20 ms; B gets Opus on the relay's opus PT with its own SSRC, seq +1 and
    ts +960 per packet, a marker on the first; decoded with libopus (ctypes)
    it is a 1 kHz tone; `query` counts 100 in / decoded / encoded / out;
  - Opus -> PCMU: the reverse, B encoding with libopus at 48 kHz;
  - DTMF both ways while audio flows: an RFC 4733 event (digit 5) from A
    reaches B on telephone-event/48000 with durations x6, end packets with
    the E bit, its timestamp on B's audio timeline; and B -> A likewise /6.
Call 2 (fresh): 150 PCMU packets with ~5 % dropped (fixed seed) and one pair
swapped; B's Opus stays continuous (seq +1, ts +960, one frame per input
slot), the added latency (B's kernel receive time minus A's send time of the
packet that completed each output frame) stays below 21 ms at p99 after the
first loss, and `query` shows the concealed frames and the late packet.
Call 3 (fresh, B's answer has useinbandfec=1, A sends a warbling tone): B's
Opus carries no in-band FEC (LBRR) until B reports loss in an RTCP RR from
its RTCP port, then most packets do; `query` counts the report and the frames encoded with FEC on.
Then `statistics` reports transcoding totals, `delete` removes the calls,
and the relay exits 0 on SIGTERM.
Exit 0 = pass.
"""

from __future__ import annotations

import math
import random
import select
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import rtpaudio as ra  # noqa: E402
import vox  # noqa: E402

LOCAL = "127.0.0.1"
PTIME_S = 0.020
NPKT = 100                 # packets per direction in the audio cases (2 s)
LOSS_NPKT = 150            # packets in the loss/reorder case (3 s)
LOSS_RATE = 0.05
LOSS_SEED = 4733
SWAP_AT = 60               # packet SWAP_AT is delayed behind SWAP_AT + 1
TONE_HZ = 1000.0
TONE_AMP = 8000.0          # about -12 dBFS
EVENT = 5                  # DTMF digit 5
EVENT_VOLUME = 10
EVENT_AT = 10              # the event starts with the audio packet of this slot
EVENT_UPDATES = 7          # packets with growing duration, then 3 end packets
DTMF_SLOTS = 30
LATENCY_LIMIT_MS = 21.0
FEC_NPKT = 50              # packets per phase in the RTCP loss feedback case
FEC_REPORTED_LOSS = 13     # RTCP fraction lost, 1/256: about 5 %
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)   # Linux; also SCM_TIMESTAMPNS
STATIC_PT = {0: "PCMU/8000", 8: "PCMA/8000"}


# --------------------------------------------------------------------------
# endpoints: a party's media socket and its outgoing RTP stream


@dataclass
class Sent:
    t_ns: int          # CLOCK_REALTIME just before sendto
    seq: int
    ts: int
    pt: int
    index: int         # slot / packet index within the phase


@dataclass
class Received:
    t_ns: int          # kernel receive time (SO_TIMESTAMPNS, CLOCK_REALTIME)
    rtp: ra.Rtp
    src: tuple


class Endpoint:
    """A SIP party's media socket (even port from vox.free_udp_ports) and
    the RTP stream it sends: own SSRC, one sequence space for audio and
    events, audio timestamps advancing by one frame per audio packet."""

    def __init__(self, name: str, rng: random.Random):
        self.name = name
        port = vox.free_udp_ports(2, step=2)[0]
        self.peer = vox.UdpPeer(LOCAL, port)
        self.peer.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.peer.sock.setblocking(False)
        self.port = self.peer.port
        self.ssrc = rng.getrandbits(32)
        self.seq = rng.getrandbits(16)
        self.ts = rng.getrandbits(32)
        self.first_ts = self.ts
        self.relay_port: Optional[int] = None   # where this party sends (its SDP from the relay)
        self.sent: list = []
        self.rx: list = []

    def send_raw(self, pkt: bytes) -> int:
        t = time.time_ns()
        self.peer.sock.sendto(pkt, (LOCAL, self.relay_port))
        return t

    def send(self, pt: int, payload: bytes, marker: bool = False, ts: Optional[int] = None,
             index: int = -1) -> Sent:
        """Next packet of the stream; ts None = the current audio timestamp."""
        ts = self.ts if ts is None else ts
        seq = self.seq
        self.seq = (self.seq + 1) & 0xFFFF
        t = self.send_raw(vox.rtp_packet(seq, ts, self.ssrc, payload, pt=pt, marker=marker))
        s = Sent(t, seq, ts & 0xFFFFFFFF, pt, index)
        self.sent.append(s)
        return s

    def advance(self, units: int) -> None:
        self.ts = (self.ts + units) & 0xFFFFFFFF

    def receive_ready(self) -> int:
        n = 0
        while True:
            try:
                data, anc, _flags, src = self.peer.sock.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                return n
            except ConnectionRefusedError:
                continue
            t = None
            for level, typ, blob in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(blob) >= 16:
                    sec, nsec = struct.unpack("qq", blob[:16])
                    t = sec * 1_000_000_000 + nsec
            if t is None:
                t = time.time_ns()
            rtp = ra.parse_rtp(data)
            if rtp is not None:
                self.rx.append(Received(t, rtp, (src[0], src[1])))
            n += 1

    def take_rx(self) -> list:
        out, self.rx = self.rx, []
        return out

    def close(self) -> None:
        self.peer.close()


def pump(endpoints: list, until: float) -> None:
    """Receive on all endpoints until time.monotonic() reaches ``until``."""
    while True:
        left = until - time.monotonic()
        r, _, _ = select.select([e.peer.sock for e in endpoints], [], [], max(left, 0))
        for e in endpoints:
            if e.peer.sock in r:
                e.receive_ready()
        if left <= 0:
            return


def run_paced(nslots: int, on_slot, receivers: list, drain_s: float = 0.4) -> None:
    """Calls on_slot(i) every 20 ms (absolute schedule), receiving meanwhile,
    then keeps receiving for ``drain_s``."""
    t0 = time.monotonic() + 0.005
    for i in range(nslots):
        pump(receivers, t0 + i * PTIME_S)
        on_slot(i)
    pump(receivers, time.monotonic() + drain_s)


# --------------------------------------------------------------------------
# SDP helpers


def rtpmaps(m: vox.SdpMediaInfo) -> dict:
    """{pt: "enc/clock[/channels]"} for the m= line's formats (static
    PCMU/PCMA when a=rtpmap is missing)."""
    maps = {}
    for v in m.attr("rtpmap"):
        pt, _, enc = v.partition(" ")
        if pt.isdigit():
            maps[int(pt)] = enc.strip()
    return {int(f): maps.get(int(f), STATIC_PT.get(int(f), "?")) for f in m.fmts if f.isdigit()}


def fmtp(m: vox.SdpMediaInfo, pt: int) -> Optional[str]:
    for v in m.attr("fmtp"):
        p, _, rest = v.partition(" ")
        if p == str(pt):
            return rest.strip()
    return None


# --------------------------------------------------------------------------
# checks on received streams


def fmt_pkt(r: Received) -> str:
    p = r.rtp
    return (f"pt={p.pt} seq={p.seq} ts={p.ts} ssrc={p.ssrc:#010x} M={int(p.marker)} "
            f"len={len(p.payload)} from {r.src[1]}")


def describe(rx: list, n: int = 6) -> str:
    if not rx:
        return "(nothing received)"
    lines = [fmt_pkt(r) for r in rx[:n]]
    if len(rx) > n:
        lines.append(f"... ({len(rx)} packets) last: {fmt_pkt(rx[-1])}")
    return "\n        " + "\n        ".join(lines)


def check_continuity(rx: list, what: str, audio_pt: int, ts_step: int, ssrc_not: int,
                     prev: Optional[Received] = None, first_marker: bool = True,
                     relay_port: Optional[int] = None) -> None:
    """Every packet from the relay port, one SSRC (not the sender's), seq +1
    in arrival order (events share the sequence space); audio: ts +ts_step,
    marker only on the first of the stream (``first_marker``)."""
    assert rx, f"{what}: nothing received"
    ssrc = prev.rtp.ssrc if prev else rx[0].rtp.ssrc
    last_seq = prev.rtp.seq if prev else None
    last_audio_ts = prev.rtp.ts if prev else None
    first_audio = prev is None
    for i, r in enumerate(rx):
        p = r.rtp
        if relay_port is not None:
            assert r.src == (LOCAL, relay_port), \
                f"{what}: packet {i} from {r.src}, expected the relay port {relay_port} " \
                f"(symmetric RTP)"
        assert p.ssrc == ssrc, f"{what}: SSRC changed at packet {i}: {p.ssrc:#x} != " \
                               f"{ssrc:#x}{describe(rx)}"
        assert p.ssrc != ssrc_not, f"{what}: relay reuses the sender's SSRC {ssrc_not:#x}"
        if last_seq is not None:
            assert p.seq == (last_seq + 1) & 0xFFFF, \
                f"{what}: packet {i}: seq {p.seq} after {last_seq} (not consecutive):" \
                f"{describe(rx[max(0, i - 3):i + 3])}"
        last_seq = p.seq
        if p.pt != audio_pt:
            continue
        if last_audio_ts is not None:
            d = (p.ts - last_audio_ts) & 0xFFFFFFFF
            assert d == ts_step, f"{what}: packet {i}: ts {p.ts} advanced by {d} from " \
                                 f"{last_audio_ts}, expected {ts_step}:" \
                                 f"{describe(rx[max(0, i - 3):i + 3])}"
        last_audio_ts = p.ts
        want_m = first_audio and first_marker
        assert p.marker == want_m, \
            f"{what}: packet {i} (seq {p.seq}) marker {int(p.marker)}, expected {int(want_m)} " \
            f"({'first packet of the stream' if first_audio else 'no new talkspurt'})"
        first_audio = False


def check_tone(pcm: list, what: str, rate: int = 8000) -> dict:
    a = ra.tone_analysis(pcm, rate)
    info = (f"{what}: {len(pcm)} samples analysed, dominant {a['freq']:.0f} Hz, RMS "
            f"{a['rms']:.0f}, tone amplitude {a['amplitude']:.0f} (sent {TONE_AMP:.0f}), "
            f"{100 * a['purity']:.0f} % of the power in the tone")
    print(f"      {info}", flush=True)
    assert abs(a["freq"] - TONE_HZ) <= 50, f"{info}: expected {TONE_HZ:.0f} Hz +- 50"
    assert a["rms"] >= 1000, f"{info}: energy negligible (RMS < 1000)"
    assert a["purity"] >= 0.5, f"{info}: less than half the power is the tone"
    return a


def check_transcoding(q: dict, tag: str, what: str, want: dict) -> dict:
    medias = q.get("tags", {}).get(tag, {}).get("medias", [])
    assert medias, f"query: no medias for tag {tag!r}: {q.get('tags', {}).keys()}"
    tc = medias[0].get("transcoding")
    assert isinstance(tc, dict), f"query: tag {tag!r} media 1 has no transcoding dict: {medias[0]}"
    bad = {k: (tc.get(k), v) for k, v in want.items()
           if not (v(tc.get(k)) if callable(v) else tc.get(k) == v)}
    assert not bad, f"{what}: query transcoding counters (got, expected) {bad}; all: {tc}"
    return tc


def latency_stats(values_ms: list) -> str:
    if not values_ms:
        return "n=0"
    return (f"n={len(values_ms)} p50={ra.percentile(values_ms, 50):.2f} ms "
            f"p99={ra.percentile(values_ms, 99):.2f} ms max={max(values_ms):.2f} ms")


def ulaw_payload(index: int) -> bytes:
    return ra.ulaw_encode(ra.tone(TONE_HZ, 160, 8000, TONE_AMP, 160 * index))


def warble_payload(index: int) -> bytes:
    """20 ms of a tone gliding 700..1300 Hz three times a second: Opus's
    voice activity detector calls it active throughout, where it soon
    takes a steady tone for background noise (and SILK sends LBRR only
    for active frames)."""
    pcm = []
    for n in range(160 * index, 160 * (index + 1)):
        t = n / 8000
        cycles = 1000 * t + 300 * (1 - math.cos(6 * math.pi * t)) / (6 * math.pi)
        pcm.append(int(TONE_AMP * math.sin(2 * math.pi * cycles)))
    return ra.ulaw_encode(pcm)


# --------------------------------------------------------------------------
# the test


@dataclass
class CallCtx:
    call_id: str
    a: Endpoint
    b: Endpoint
    offer_sdp: Optional[vox.SdpInfo] = None
    answer_sdp: Optional[vox.SdpInfo] = None
    opus_pt: Optional[int] = None       # the relay's PTs toward B
    te48_pt: Optional[int] = None
    pcmu_pt_a: int = 0                  # A's PTs (A chose them)
    te8_pt_a: int = 101
    ready: bool = False
    # per-direction state carried between cases
    b_rx_audio: list = field(default_factory=list)   # what B got in the PCMU -> Opus case
    a_rx_audio: list = field(default_factory=list)   # what A got in the Opus -> PCMU case
    b_opus_enc: Optional[ra.OpusEnc] = None
    b_tone_pos: int = 0                 # 48 kHz samples of tone B encoded so far


def offer_sdp(port: int) -> str:
    return vox.make_sdp(LOCAL, [(f"m=audio {port} RTP/AVP 0 8 101", [
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv"])])


def answer_sdp(port: int, opus_pt: int, te_pt: int) -> str:
    return vox.make_sdp(LOCAL, [(f"m=audio {port} RTP/AVP {opus_pt} {te_pt}", [
        f"a=rtpmap:{opus_pt} opus/48000/2", f"a=fmtp:{opus_pt} useinbandfec=1",
        f"a=rtpmap:{te_pt} telephone-event/48000", f"a=fmtp:{te_pt} 0-16", "a=ptime:20",
        "a=sendrecv"])])


def setup_call(relay: vox.Relay, ctx: CallCtx) -> None:
    """offer/answer; fills ctx from the SDPs the relay produced."""
    r = vox.ng_ok(relay.ng, {"command": "offer", "call-id": ctx.call_id, "from-tag": "tag-a",
                             "sdp": offer_sdp(ctx.a.port),
                             "flags": ["codec-transcode-opus", "codec-mask-PCMA"]})
    ctx.offer_sdp = vox.parse_sdp(r["sdp"])
    assert len(ctx.offer_sdp.media) == 1, f"offer to B: {len(ctx.offer_sdp.media)} m= lines:\n" \
                                          f"{ctx.offer_sdp.text}"
    m = ctx.offer_sdp.media[0]
    maps = rtpmaps(m)
    opus = [pt for pt, enc in maps.items() if enc.lower() == "opus/48000/2"]
    te48 = [pt for pt, enc in maps.items() if enc.lower() == "telephone-event/48000"]
    assert len(opus) == 1 and len(te48) == 1, \
        f"offer to B must carry opus/48000/2 and telephone-event/48000 once each, got " \
        f"{maps}:\n{ctx.offer_sdp.text}"
    ctx.opus_pt, ctx.te48_pt = opus[0], te48[0]
    ctx.b.relay_port = m.port
    r = vox.ng_ok(relay.ng, {"command": "answer", "call-id": ctx.call_id, "from-tag": "tag-a",
                             "to-tag": "tag-b",
                             "sdp": answer_sdp(ctx.b.port, ctx.opus_pt, ctx.te48_pt)})
    ctx.answer_sdp = vox.parse_sdp(r["sdp"])
    assert len(ctx.answer_sdp.media) == 1, f"answer to A: {len(ctx.answer_sdp.media)} m= " \
                                           f"lines:\n{ctx.answer_sdp.text}"
    ctx.a.relay_port = ctx.answer_sdp.media[0].port
    ctx.ready = True


def case_sdp(relay: vox.Relay, ctx: CallCtx) -> None:
    setup_call(relay, ctx)
    off, ans = ctx.offer_sdp.media[0], ctx.answer_sdp.media[0]
    print(f"      offer to B:  {off.lines[0]}  ({rtpmaps(off)})", flush=True)
    print(f"      answer to A: {ans.lines[0]}  ({rtpmaps(ans)})", flush=True)
    for what, m, other in (("offer to B", off, ans), ("answer to A", ans, off)):
        assert m.kind == "audio" and m.proto == "RTP/AVP", f"{what}: {m.lines[0]}"
        assert m.conn == LOCAL, f"{what}: c= {m.conn!r}, expected {LOCAL}"
        assert relay.port_min <= m.port <= relay.port_max and m.port % 2 == 0, \
            f"{what}: port {m.port} not an even port in {relay.port_min}-{relay.port_max}"
        assert m.port != other.port, f"{what}: same relay port as the other side ({m.port})"
    # offer to B
    maps = rtpmaps(off)
    names = [maps[int(f)] for f in off.fmts]
    want = ["PCMU/8000", "opus/48000/2", "telephone-event/8000", "telephone-event/48000"]
    assert [n.lower() for n in names] == [w.lower() for w in want], \
        f"offer to B: codecs {names} (m= {off.fmts}), expected {want}:\n{ctx.offer_sdp.text}"
    assert int(off.fmts[0]) == ctx.pcmu_pt_a and int(off.fmts[2]) == ctx.te8_pt_a, \
        f"offer to B: A's codecs renumbered: {off.fmts}, A offered PCMU {ctx.pcmu_pt_a}, " \
        f"telephone-event {ctx.te8_pt_a}"
    for what, pt in (("opus", ctx.opus_pt), ("telephone-event/48000", ctx.te48_pt)):
        assert 96 <= pt <= 127 and pt not in (0, 8, 101), \
            f"offer to B: {what} got PT {pt}, expected a fresh dynamic PT (96-127) not used " \
            f"by A's offer (0 8 101)"
    assert ctx.opus_pt != ctx.te48_pt
    assert not any("pcma" in n.lower() for n in names) and "8" not in off.fmts, \
        f"offer to B still has PCMA (codec-mask-PCMA): {off.fmts} {maps}"
    of = fmtp(off, ctx.opus_pt) or ""
    assert "useinbandfec=1" in of.replace(" ", ""), \
        f"offer to B: opus fmtp {of!r} lacks useinbandfec=1"
    tf = fmtp(off, ctx.te48_pt)
    assert tf == "0-16", f"offer to B: telephone-event/48000 fmtp {tf!r}, expected '0-16'"
    print(f"      opus PT {ctx.opus_pt} fmtp {of!r}; telephone-event/48000 PT {ctx.te48_pt}",
          flush=True)
    # answer to A
    amaps = rtpmaps(ans)
    assert ans.fmts == [str(ctx.pcmu_pt_a), str(ctx.te8_pt_a)], \
        f"answer to A: m= formats {ans.fmts}, expected [{ctx.pcmu_pt_a}, {ctx.te8_pt_a}]:\n" \
        f"{ctx.answer_sdp.text}"
    assert amaps[ctx.pcmu_pt_a].lower() == "pcmu/8000" and \
        amaps[ctx.te8_pt_a].lower() == "telephone-event/8000", f"answer to A: rtpmaps {amaps}"
    assert "opus" not in ctx.answer_sdp.text.lower(), \
        f"answer to A mentions opus:\n{ctx.answer_sdp.text}"


def relay_one_way(snd, snd_name, snd_pt, snd_codec, payload, snd_unit,
                  rcv, rcv_name, rcv_pt, rcv_codec, rcv_unit):
    """NPKT packets payload(i) from snd, paced, through the relay to rcv:
    rcv gets exactly NPKT packets, all rcv_pt, in one continuous stream for
    snd's SSRC, and snd gets nothing. Returns (what rcv got, its audio,
    what snd sent)."""
    sent_from = len(snd.sent)

    def slot(i):
        snd.send(snd_pt, payload(i), marker=(i == 0), index=i)
        snd.advance(snd_unit)
    run_paced(NPKT, slot, [rcv, snd])
    rx = rcv.take_rx()
    stray = snd.take_rx()
    assert not stray, f"{snd_name} received {len(stray)} packets while only {snd_name} sent:" \
                      f"{describe(stray)}"
    audio = [r for r in rx if r.rtp.pt == rcv_pt]
    others = [r for r in rx if r.rtp.pt != rcv_pt]
    assert not others, f"{rcv_name} got non-{rcv_codec} packets:{describe(others)}"
    assert len(audio) == NPKT, f"{rcv_name} got {len(audio)} {rcv_codec} packets for {NPKT} " \
                               f"{snd_codec} packets sent:{describe(rx)}"
    check_continuity(rx, f"{rcv_name} ({rcv_codec} from relay)", rcv_pt, rcv_unit, snd.ssrc,
                     relay_port=rcv.relay_port)
    return rx, audio, snd.sent[sent_from:]


def case_pcmu_to_opus(relay: vox.Relay, ctx: CallCtx) -> None:
    assert ctx.ready, "call setup failed"
    a, b = ctx.a, ctx.b
    rx, audio, sent = relay_one_way(a, "A", ctx.pcmu_pt_a, "PCMU", ulaw_payload, 160,
                                    b, "B", ctx.opus_pt, "Opus", 960)
    # 1:1 (20 ms both sides): output k carries input k
    lat = [(r.t_ns - s.t_ns) / 1e6 for r, s in zip(audio, sent)]
    print(f"      B got {len(audio)} Opus packets, ssrc {audio[0].rtp.ssrc:#010x} (A's "
          f"{a.ssrc:#010x}), payload {min(len(r.rtp.payload) for r in audio)}-"
          f"{max(len(r.rtp.payload) for r in audio)} bytes; latency A send -> B receive "
          f"{latency_stats(lat)}", flush=True)
    dec = ra.Opus.decoder(8000, 1)
    pcm = []
    for i, r in enumerate(audio):
        try:
            out = dec.decode(r.rtp.payload, 960)
        except ra.OpusError as e:
            raise AssertionError(f"B: Opus packet {i} (seq {r.rtp.seq}) does not decode: {e}")
        assert len(out) == 160, f"B: Opus packet {i} decodes to {len(out)} samples at 8 kHz, " \
                                f"expected 160 (20 ms)"
        pcm += out
    dec.close()
    check_tone(pcm[1600:], "B's decoded Opus (from 200 ms on)")
    ctx.b_rx_audio = rx
    q = vox.ng_ok(relay.ng, {"command": "query", "call-id": ctx.call_id})
    check_transcoding(q, "tag-a", "A -> B", {
        "packets in": NPKT, "frames decoded": NPKT, "frames encoded": NPKT,
        "packets out": NPKT, "frames concealed": 0, "late or duplicate dropped": 0,
        "decode errors": 0, "output overflow": 0,
        "codecs": lambda v: isinstance(v, str) and "opus" in v.lower()})


def b_opus_frame(ctx: CallCtx) -> bytes:
    pcm = ra.tone(TONE_HZ, 960, 48000, TONE_AMP, ctx.b_tone_pos)
    ctx.b_tone_pos += 960
    return ctx.b_opus_enc.encode(pcm)


def case_opus_to_pcmu(relay: vox.Relay, ctx: CallCtx) -> None:
    assert ctx.ready, "call setup failed"
    a, b = ctx.a, ctx.b
    ctx.b_opus_enc = ra.Opus.encoder(48000, 1, ra.OPUS_APPLICATION_VOIP)
    frames = [b_opus_frame(ctx) for _ in range(NPKT)]   # encode before pacing
    rx, audio, sent = relay_one_way(b, "B", ctx.opus_pt, "Opus", frames.__getitem__, 960,
                                    a, "A", ctx.pcmu_pt_a, "PCMU", 160)
    bad = [r for r in audio if len(r.rtp.payload) != 160]
    assert not bad, f"A: PCMU payloads not 160 bytes (20 ms):{describe(bad)}"
    lat = [(r.t_ns - s.t_ns) / 1e6 for r, s in zip(audio, sent)]
    print(f"      A got {len(audio)} PCMU packets, ssrc {audio[0].rtp.ssrc:#010x} (B's "
          f"{b.ssrc:#010x}); latency B send -> A receive {latency_stats(lat)}", flush=True)
    pcm = []
    for r in audio:
        pcm += ra.ulaw_decode(r.rtp.payload)
    check_tone(pcm[1600:], "A's decoded PCMU (from 200 ms on)")
    ctx.a_rx_audio = rx
    q = vox.ng_ok(relay.ng, {"command": "query", "call-id": ctx.call_id})
    check_transcoding(q, "tag-b", "B -> A", {
        "packets in": NPKT, "frames decoded": NPKT, "frames encoded": NPKT,
        "packets out": NPKT, "frames concealed": 0, "late or duplicate dropped": 0,
        "decode errors": 0, "output overflow": 0})


def event_plan(unit: int) -> list:
    """(slot offset, end, duration) of one event in ``unit`` clock units per
    20 ms: EVENT_UPDATES growing updates, then 3 end packets."""
    plan = [(j, False, unit * (j + 1)) for j in range(EVENT_UPDATES)]
    final = unit * (EVENT_UPDATES + 1)
    plan += [(EVENT_UPDATES + j, True, final) for j in range(3)]
    return plan


def dtmf_phase(relay: vox.Relay, ctx: CallCtx, from_a: bool) -> None:
    assert ctx.ready, "call setup failed"
    snd, rcv = (ctx.a, ctx.b) if from_a else (ctx.b, ctx.a)
    prev_rx = ctx.b_rx_audio if from_a else ctx.a_rx_audio
    assert prev_rx, "the audio case of this direction did not run"
    in_unit, out_unit = (160, 960) if from_a else (960, 160)
    in_ev_pt, out_ev_pt = (ctx.te8_pt_a, ctx.te48_pt) if from_a else (ctx.te48_pt, ctx.te8_pt_a)
    in_audio_pt, out_audio_pt = (ctx.pcmu_pt_a, ctx.opus_pt) if from_a else \
        (ctx.opus_pt, ctx.pcmu_pt_a)
    plan = {off + EVENT_AT: (end, dur) for off, end, dur in event_plan(in_unit)}
    ev_ts = None
    sent_events = []
    audio_index0 = (snd.ts - snd.first_ts) // in_unit  # frames sent before this phase
    frames = None if from_a else [b_opus_frame(ctx) for _ in range(DTMF_SLOTS)]

    def slot(i):
        nonlocal ev_ts
        if i == EVENT_AT:
            ev_ts = snd.ts      # the event starts with this slot's audio
        payload = ulaw_payload(audio_index0 + i) if from_a else frames[i]
        snd.send(in_audio_pt, payload, index=i)
        snd.advance(in_unit)
        if i in plan:
            end, dur = plan[i]
            snd.send(in_ev_pt, ra.telephone_event(EVENT, end, EVENT_VOLUME, dur),
                     marker=(i == EVENT_AT), ts=ev_ts, index=i)
            sent_events.append((end, dur))
    run_paced(DTMF_SLOTS, slot, [rcv, snd], drain_s=0.3)
    rx = rcv.take_rx()
    stray = snd.take_rx()
    what = "B" if from_a else "A"
    assert not stray, f"the sender received {len(stray)} packets:{describe(stray)}"
    # one stream: continues the audio case's (seq, ts, SSRC), events in its seq space
    check_continuity(rx, f"{what} (audio + events)", out_audio_pt, out_unit, snd.ssrc,
                     prev=prev_rx[-1], relay_port=rcv.relay_port)
    audio = [r for r in rx if r.rtp.pt == out_audio_pt]
    events = [r for r in rx if r.rtp.pt == out_ev_pt]
    others = [r for r in rx if r.rtp.pt not in (out_audio_pt, out_ev_pt)]
    assert not others, f"{what}: unexpected PTs:{describe(others)}"
    assert len(audio) == DTMF_SLOTS, f"{what}: {len(audio)} audio packets during the event " \
                                     f"phase, expected {DTMF_SLOTS}"
    got = []
    for r in events:
        te = ra.parse_telephone_event(r.rtp.payload)
        assert te is not None, f"{what}: short telephone-event payload {r.rtp.payload!r}"
        got.append((te, r.rtp.marker, r.rtp.ts))
    print(f"      {what} got {len(events)} telephone-event packets on PT {out_ev_pt}: "
          + ", ".join(f"ev={e[0]} E={int(e[1])} vol={e[2]} dur={e[3]} M={int(m)}"
                      for e, m, _ in got), flush=True)
    scale = (lambda d: d * 6) if from_a else (lambda d: d // 6)
    want = [(EVENT, end, EVENT_VOLUME, scale(dur)) for end, dur in sent_events]
    assert [g[0] for g in got] == want, \
        f"{what}: telephone-event packets (event, E, volume, duration)\n        got  " \
        f"{[g[0] for g in got]}\n        want {want}"
    markers = [m for _, m, _ in got]
    assert markers == [True] + [False] * (len(got) - 1), \
        f"{what}: event marker bits {markers}, expected only the first set"
    ts_set = {t for _, _, t in got}
    assert len(ts_set) == 1, f"{what}: event packets carry different timestamps {ts_set}"
    # the event's timestamp sits on the output audio timeline where the
    # input's did: output ts of the frame made from the input audio that
    # started at the event's input timestamp
    first_out = prev_rx[0].rtp.ts  # output ts of the stream's first frame (input first_ts)
    in_frames = ((ev_ts - snd.first_ts) & 0xFFFFFFFF) // in_unit
    want_ts = (first_out + in_frames * out_unit) & 0xFFFFFFFF
    assert ts_set == {want_ts}, \
        f"{what}: event timestamp {ts_set.pop()}, expected {want_ts} (the output ts of " \
        f"input frame {in_frames}, where the event starts)"
    q = vox.ng_ok(relay.ng, {"command": "query", "call-id": ctx.call_id})
    check_transcoding(q, "tag-a" if from_a else "tag-b", f"{'A -> B' if from_a else 'B -> A'}",
                      {"DTMF events passed": 1, "frames concealed": 0,
                       "late or duplicate dropped": 0, "decode errors": 0})


def case_loss_latency(relay: vox.Relay, ctx: CallCtx, result: dict) -> None:
    setup_call(relay, ctx)
    a, b = ctx.a, ctx.b
    rng = random.Random(LOSS_SEED)
    # never the first/last packets (nothing would reveal a loss at the end),
    # nor the swapped pair and its neighbours
    protected = set(range(0, 5)) | set(range(LOSS_NPKT - 5, LOSS_NPKT)) | \
        set(range(SWAP_AT - 1, SWAP_AT + 3))
    drops = sorted(i for i in range(LOSS_NPKT)
                   if rng.random() < LOSS_RATE and i not in protected)
    assert drops, f"seed {LOSS_SEED} dropped nothing"
    base_seq, base_ts = a.seq, a.ts
    pkts = {i: vox.rtp_packet(base_seq + i, base_ts + 160 * i, a.ssrc, ulaw_payload(i), pt=0,
                              marker=(i == 0)) for i in range(LOSS_NPKT)}
    send_log = []  # (index, t_ns) in send order

    def send(i):
        send_log.append((i, a.send_raw(pkts[i])))

    def slot(i):
        if i in drops or i == SWAP_AT:
            return
        send(i)
        if i == SWAP_AT + 1:
            send(SWAP_AT)      # the delayed one, right behind its successor
    run_paced(LOSS_NPKT, slot, [b, a])
    rx = b.take_rx()
    a.take_rx()
    print(f"      A sent {len(send_log)} of {LOSS_NPKT} packets: dropped #{drops} "
          f"({len(drops)}), #{SWAP_AT} sent after #{SWAP_AT + 1}", flush=True)
    check_continuity(rx, "B (Opus, loss/reorder)", ctx.opus_pt, 960, a.ssrc,
                     relay_port=b.relay_port)
    others = [r for r in rx if r.rtp.pt != ctx.opus_pt]
    assert not others, f"B got non-Opus packets:{describe(others)}"
    assert len(rx) == LOSS_NPKT, \
        f"B got {len(rx)} Opus frames, expected {LOSS_NPKT} (one per input slot, lost ones " \
        f"concealed):{describe(rx)}"
    # which sent packet completed each output frame (the transcoder emits
    # frames up to the newest packet's slot when that packet arrives)
    trigger = {}
    highest = -1
    for i, t in send_log:
        if i > highest:
            for f in range(highest + 1, i + 1):
                trigger[f] = (i, t)
            highest = i
    first_ts = rx[0].rtp.ts
    lat = []       # (frame, ms)
    for r in rx:
        f = ((r.rtp.ts - first_ts) & 0xFFFFFFFF) // 960
        i, t = trigger[f]
        lat.append((f, (r.t_ns - t) / 1e6))
    first_event = min(drops[0], SWAP_AT)
    after = [ms for f, ms in lat if f >= first_event]
    at_events = [(f, round(ms, 2)) for f, ms in lat
                 if f in drops or f in (SWAP_AT, SWAP_AT + 1) or f - 1 in drops]
    p50, p99 = ra.percentile(after, 50), ra.percentile(after, 99)
    result.update(p50=p50, p99=p99, max=max(after), n=len(after),
                  all=latency_stats([ms for _, ms in lat]))
    print(f"      added latency (B kernel rx - A send of the completing packet), all frames: "
          f"{latency_stats([ms for _, ms in lat])}", flush=True)
    print(f"      from the first loss/reorder (frame {first_event}) on: {latency_stats(after)}",
          flush=True)
    print(f"      frames at loss/reorder events (frame, ms): {at_events}", flush=True)
    assert p99 < LATENCY_LIMIT_MS, \
        f"added latency p99 {p99:.2f} ms >= {LATENCY_LIMIT_MS} ms after the first loss " \
        f"(p50 {p50:.2f} ms, max {max(after):.2f} ms)"
    q = vox.ng_ok(relay.ng, {"command": "query", "call-id": ctx.call_id})
    # Every dropped packet's slot is concealed when the next one shows the
    # gap; the delayed packet's slot too (its successor came first), and the
    # delayed packet itself then counts as late and is not decoded.
    tc = check_transcoding(q, "tag-a", "A -> B with loss", {
        "packets in": LOSS_NPKT - len(drops),
        "frames decoded": LOSS_NPKT - len(drops) - 1,
        "frames concealed": len(drops) + 1,
        "late or duplicate dropped": 1,
        "frames encoded": LOSS_NPKT, "packets out": LOSS_NPKT,
        "decode errors": 0, "output overflow": 0})
    print(f"      query A's transcoding: frames concealed {tc['frames concealed']}, late or "
          f"duplicate dropped {tc['late or duplicate dropped']}, frames decoded "
          f"{tc['frames decoded']}, frames encoded {tc['frames encoded']}", flush=True)


def case_fec_follows_rtcp(relay: vox.Relay, ctx: CallCtx) -> None:
    setup_call(relay, ctx)
    a, b = ctx.a, ctx.b

    def send_pcmu() -> list:
        start = (a.ts - a.first_ts) // 160

        def slot(i):
            a.send(ctx.pcmu_pt_a, warble_payload(start + i), marker=(start + i == 0))
            a.advance(160)
        run_paced(FEC_NPKT, slot, [b, a], drain_s=0.2)
        a.take_rx()
        audio = [r for r in b.take_rx() if r.rtp.pt == ctx.opus_pt]
        assert len(audio) == FEC_NPKT, f"B got {len(audio)} Opus packets for {FEC_NPKT} sent"
        return audio

    def lbrr(audio: list) -> int:
        flags = [ra.opus_has_lbrr(r.rtp.payload) for r in audio]
        assert None not in flags, f"B: Opus packets not mono SILK code 0:{describe(audio)}"
        return sum(flags)

    before = send_pcmu()
    n = lbrr(before)
    print(f"      before any RTCP report: {n} of {FEC_NPKT} Opus packets carry LBRR", flush=True)
    assert n == 0, f"B got in-band FEC in {n} of {FEC_NPKT} packets before reporting any loss"
    q = vox.ng_ok(relay.ng, {"command": "query", "call-id": ctx.call_id})
    check_transcoding(q, "tag-a", "A -> B before a report",
                      {"receiver reports": 0, "frames encoded with FEC on": 0})

    # B's RTCP port is its RTP port + 1 (no a=rtcp), so is the relay's.
    rtcp = vox.UdpPeer(LOCAL, b.port + 1)
    try:
        rtcp.sendto(ra.rtcp_rr_report(b.ssrc, before[0].rtp.ssrc, FEC_REPORTED_LOSS),
                    (LOCAL, b.relay_port + 1))
        deadline = time.monotonic() + 2.0
        while True:
            q = vox.ng_ok(relay.ng, {"command": "query", "call-id": ctx.call_id})
            tc = q["tags"]["tag-a"]["medias"][0].get("transcoding", {})
            if tc.get("receiver reports") == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    finally:
        rtcp.close()
    check_transcoding(q, "tag-a", "A -> B after B's RR", {"receiver reports": 1})

    after = send_pcmu()
    n = lbrr(after[2:])  # LBRR in packet k protects frame k - 1: one packet late
    print(f"      after B's RR reporting {FEC_REPORTED_LOSS}/256 lost: {n} of "
          f"{FEC_NPKT - 2} Opus packets carry LBRR", flush=True)
    assert n > (FEC_NPKT - 2) // 2, \
        f"B got in-band FEC in only {n} of {FEC_NPKT - 2} packets after reporting loss"
    q = vox.ng_ok(relay.ng, {"command": "query", "call-id": ctx.call_id})
    check_transcoding(q, "tag-a", "A -> B after B's RR", {
        "receiver reports": 1, "frames encoded with FEC on": FEC_NPKT,
        "frames encoded": 2 * FEC_NPKT})


def case_statistics_delete(relay: vox.Relay, calls: list) -> None:
    st = vox.ng_statistics(relay.ng)
    tc = st.get("totalstatistics", {}).get("transcoding")
    assert isinstance(tc, dict), f"statistics: no totalstatistics.transcoding: " \
                                 f"{st.get('totalstatistics')}"
    print(f"      statistics transcoding: {tc}", flush=True)
    # no call has ended yet: the totals are the live calls' counters, summed
    # over both directions of both calls, as query shows them
    keys = [k for k, v in tc.items() if isinstance(v, int)
            and k not in ("active streams", "streams set up")]
    sums = dict.fromkeys(keys, 0)
    for c in calls:
        q = vox.ng_ok(relay.ng, {"command": "query", "call-id": c.call_id})
        for tag in ("tag-a", "tag-b"):
            t = q["tags"][tag]["medias"][0].get("transcoding", {})
            for k in keys:
                sums[k] += int(t.get(k, 0))
    for k in ("frames decoded", "frames encoded"):
        assert int(tc.get(k, 0)) > 0, f"statistics transcoding {k!r} is {tc.get(k)}"
    diff = {k: (tc[k], sums[k]) for k in keys if int(tc[k]) != sums[k]}
    assert not diff, f"statistics transcoding totals differ from the sum of the calls' query " \
                     f"counters (statistics, sum): {diff}"
    want_streams = 2 * len(calls)
    assert int(tc.get("active streams", -1)) == want_streams and \
        int(tc.get("streams set up", -1)) == want_streams, \
        f"statistics transcoding active streams {tc.get('active streams')}, streams set up " \
        f"{tc.get('streams set up')}, expected {want_streams}"
    for c in calls:
        vox.ng_ok(relay.ng, {"command": "delete", "call-id": c.call_id, "delete delay": 0})
    listed = relay.ng.list_calls()
    assert listed == [], f"list after delete: {listed}"
    for c in calls:
        q = relay.ng.call({"command": "query", "call-id": c.call_id})
        assert q.get("result") == "error", f"query {c.call_id} after delete: {q}"
    tc2 = vox.ng_statistics(relay.ng)["totalstatistics"]["transcoding"]
    assert int(tc2.get("active streams", -1)) == 0, f"after delete: {tc2}"
    diff = {k: (tc[k], tc2.get(k)) for k in keys if tc2.get(k) != tc[k]}
    assert not diff, f"statistics transcoding totals changed by delete (before, after): {diff} " \
                     f"(ended calls' counters must stay in the totals)"


def check_clean_exit(relay: vox.Relay) -> None:
    assert relay.clean_exit, f"relay did not exit cleanly on SIGTERM:\n{relay.report()}"


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_transcode")
    if not ra.Opus.available():
        runner.fail("libopus", "libopus.so.0 cannot be loaded (ctypes)")
        return runner.finish()
    rng = random.Random()
    ports = vox.free_udp_ports(100, step=2)
    endpoints = []

    def ep(name):
        e = Endpoint(name, rng)
        endpoints.append(e)
        return e

    latency: dict = {}
    try:
        relay = vox.Relay(build_dir, port_min=ports[0], port_max=ports[-1],
                          extra_args=["--timeout=60"])
        with relay:
            c1 = CallCtx(f"tc-{rng.getrandbits(32):08x}", ep("A"), ep("B"))
            c2 = CallCtx(f"tc-loss-{rng.getrandbits(32):08x}", ep("A2"), ep("B2"))
            c3 = CallCtx(f"tc-fec-{rng.getrandbits(32):08x}", ep("A3"), ep("B3"))
            runner.run("SDP: offer to B has PCMU, opus/48000/2, telephone-event/8000 and /48000 "
                       "(no PCMA); answer to A has PCMU + telephone-event/8000",
                       case_sdp, relay, c1)
            runner.run(f"PCMU -> Opus: {NPKT} packets of 1 kHz, continuous Opus stream with "
                       f"own SSRC, decodes to 1 kHz", case_pcmu_to_opus, relay, c1)
            runner.run(f"Opus -> PCMU: {NPKT} packets of 1 kHz, continuous PCMU stream with "
                       f"own SSRC, decodes to 1 kHz", case_opus_to_pcmu, relay, c1)
            runner.run("DTMF A -> B: RFC 4733 digit 5 at 8 kHz arrives on telephone-event/48000, "
                       "durations x6, 3 end packets", dtmf_phase, relay, c1, True)
            runner.run("DTMF B -> A: RFC 4733 digit 5 at 48 kHz arrives on telephone-event/8000, "
                       "durations /6, 3 end packets", dtmf_phase, relay, c1, False)
            runner.run(f"loss and reorder: {LOSS_NPKT} packets, ~5 % lost + one swap; Opus "
                       f"continuous, added latency p99 < {LATENCY_LIMIT_MS:.0f} ms, concealed "
                       f"and late counted", case_loss_latency, relay, c2, latency)
            runner.run(f"in-band FEC follows RTCP: none before B reports loss, then in most "
                       f"of B's Opus packets", case_fec_follows_rtcp, relay, c3)
            runner.run("statistics transcoding totals; delete removes the calls",
                       case_statistics_delete, relay, [c for c in (c1, c2, c3) if c.ready])
        runner.run("relay exits 0 on SIGTERM", check_clean_exit, relay)
    except (vox.RelayError, vox.NgTimeout) as e:
        runner.fail("relay", f"{type(e).__name__}: {e}")
    finally:
        for e in endpoints:
            e.close()
    if latency:
        print(f"\nlatency (loss/reorder case, after the first event): p50 "
              f"{latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms, max {latency['max']:.2f} "
              f"ms over {latency['n']} frames (all frames: {latency['all']})")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
