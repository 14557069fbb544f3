#!/usr/bin/env python3
"""An answer with a codec that was never offered (RFC 3264 §6.1 forbids it;
broken SBCs do it), through the real daemon over loopback, no codec flags.

Call 1: A offers PCMU only, B answers PCMA. The relay answers A with its
  PCMU and transcodes both ways: A's µ-law 1 kHz tone reaches B as A-law
  (payload type 8) that decodes to a 1 kHz tone, B's A-law 700 Hz tone
  reaches A as µ-law (payload type 0) that decodes to 700 Hz; `query` shows
  a transcoder on each side.
Call 2: A offers PCMU, B answers G.729 (which voxrelay has no codec for):
  the answer is passed on as it is, with a `warning` that says so.
Exit 0 = pass.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import rtpaudio  # noqa: E402
import vox  # noqa: E402

LOCAL = "127.0.0.1"
NPKT = 50  # 1 s of 20 ms packets
SAMPLES = 160


def sdp(port: int, pt: int, encoding: str) -> str:
    return vox.make_sdp(LOCAL, [(f"m=audio {port} RTP/AVP {pt}",
                                 [f"a=rtpmap:{pt} {encoding}", "a=ptime:20", "a=sendrecv"])])


def send_tone(peer: vox.UdpPeer, dst: tuple, pt: int, encode, freq: float, ssrc: int) -> None:
    for i in range(NPKT):
        pcm = rtpaudio.tone(freq, SAMPLES, start=i * SAMPLES)
        peer.sendto(vox.rtp_packet(i, i * SAMPLES, ssrc, encode(pcm), pt=pt, marker=i == 0), dst)
        time.sleep(0.02)


def received_audio(peer: vox.UdpPeer, pt: int, decode) -> list:
    got = peer.recv_for(1.0, until=NPKT)
    pkts = [rtpaudio.parse_rtp(d) for d, _ in got]
    wrong = [p.pt for p in pkts if p is None or p.pt != pt]
    assert not wrong, f"expected payload type {pt} only, got {wrong[:8]}"
    assert len(pkts) >= NPKT - 2, f"{len(pkts)} of {NPKT} packets arrived"
    pcm = []
    for p in sorted(pkts, key=lambda p: p.seq):
        pcm += decode(p.payload)
    return pcm


def check_tone(pcm: list, freq: float, what: str) -> str:
    a = rtpaudio.tone_analysis(pcm[SAMPLES * 5:])  # past the codecs' start-up
    assert abs(a["freq"] - freq) <= 10 and a["purity"] > 0.8, f"{what}: not a {freq:g} Hz tone: {a}"
    return f"{what}: {a['freq']:.0f} Hz, purity {a['purity']:.2f}"


def case_transcoded(relay: vox.Relay) -> None:
    a, b = vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL)
    try:
        o = vox.ng_ok(relay.ng, {"command": "offer", "call-id": "unoffered-1", "from-tag": "A",
                                 "sdp": sdp(a.port, 0, "PCMU/8000")})
        to_b = vox.parse_sdp(o["sdp"]).media[0]
        r = vox.ng_ok(relay.ng, {"command": "answer", "call-id": "unoffered-1", "from-tag": "A",
                                 "to-tag": "B", "sdp": sdp(b.port, 8, "PCMA/8000")})
        to_a = vox.parse_sdp(r["sdp"]).media[0]
        assert to_a.fmts == ["0"], f"A was answered {to_a.fmts}, not its own PCMU (0)"
        assert "warning" not in r, f"answer warned: {r['warning']}"
        time.sleep(0.05)
        send_tone(a, (LOCAL, to_a.port), 0, rtpaudio.ulaw_encode, 1000.0, 0x1111)
        ab = check_tone(received_audio(b, 8, rtpaudio.alaw_decode), 1000.0, "A -> B, PCMU -> PCMA")
        send_tone(b, (LOCAL, to_b.port), 8, rtpaudio.alaw_encode, 700.0, 0x2222)
        ba = check_tone(received_audio(a, 0, rtpaudio.ulaw_decode), 700.0, "B -> A, PCMA -> PCMU")
        q = vox.ng_ok(relay.ng, {"command": "query", "call-id": "unoffered-1"})
        for tag in ("A", "B"):
            tc = q["tags"][tag]["medias"][0].get("transcoding")
            assert tc, f"query: no transcoder on {tag}'s side"
        print(f"      {ab}; {ba}", flush=True)
    finally:
        vox.ng_ok(relay.ng, {"command": "delete", "call-id": "unoffered-1", "delete delay": 0})
        a.close()
        b.close()


def case_passed_on(relay: vox.Relay) -> None:
    o = vox.ng_ok(relay.ng, {"command": "offer", "call-id": "unoffered-2", "from-tag": "A",
                             "sdp": sdp(40000, 0, "PCMU/8000")})
    assert o.get("result") == "ok"
    r = vox.ng_ok(relay.ng, {"command": "answer", "call-id": "unoffered-2", "from-tag": "A",
                             "to-tag": "B", "sdp": sdp(40002, 18, "G729/8000")})
    fmts = vox.parse_sdp(r["sdp"]).media[0].fmts
    assert fmts == ["18"], f"the G.729 answer was not passed on: {fmts}"
    want = "Answer contains a codec that was not offered: G729/8000, passed on as it is"
    assert r.get("warning") == want, f"warning {r.get('warning')!r}, expected {want!r}"
    vox.ng_ok(relay.ng, {"command": "delete", "call-id": "unoffered-2", "delete delay": 0})


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_unoffered_codec")
    with vox.Relay(build_dir) as relay:
        runner.run("PCMA answered to a PCMU offer: A answered PCMU, tones transcoded both ways",
                   case_transcoded, relay)
        runner.run("G.729 answered to a PCMU offer: passed on, with a warning", case_passed_on, relay)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
