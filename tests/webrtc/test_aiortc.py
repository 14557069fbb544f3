#!/usr/bin/python3
"""WebRTC interop (issue 15): a scripted browser (aiortc 1.4: ICE, DTLS-SRTP,
Opus or PCMU) <-> the relay <-> a plain G.711 RTP peer (a UDP socket here),
everything through the NG protocol with the flags Kamailio's rtpengine module
sends, on 127.0.0.1.

Cases (each a fresh call; audio both ways for ~3 s, then decoded):
  a-pcmu      browser -> trunk, aiortc offers PCMU only: passthrough, the
              relay terminates ICE + DTLS-SRTP and forwards plain RTP/AVP;
  a-opus      browser -> trunk, aiortc offers Opus only, NG `codec:
              {transcode: [PCMU]}`: the relay transcodes Opus <-> PCMU;
  b-trunk     trunk -> browser: the plain offer (PCMU, PCMA, telephone-event)
              becomes UDP/TLS/RTP/SAVPF with ICE, a=mid, no SDES; aiortc answers;
  c-fingerprint  the relay is told a wrong a=fingerprint for aiortc: the
              DTLS handshake must fail and no media reaches the plain peer;
  c-forged-stun  mid-call, a Binding request with a bad MESSAGE-INTEGRITY
              (and USE-CANDIDATE) from another socket to the relay's port:
              the forger gets no media and no success response, aiortc still
              gets its audio;
  c-consent   (only with --long, ~45 s) aiortc stops answering STUN (its
              socket is muted): after RFC 7675's 30 s the relay stops sending
              media to it;
  d-ice-restart  mid-call re-offer through NG with new ice-ufrag/pwd (aiortc
              1.4 has no restartIce(): its ICE agent's credentials are swapped
              in place to match): audio continues both ways;
  d-new-address  mid-call the browser's socket moves to another address
              (127.0.0.2, emulating a NAT rebinding / network change; the
              aioice transport is swapped under the same ICE/DTLS session):
              the relay follows it after a fresh connectivity check and audio
              continues both ways.
In every successful case aiortc's ICE is connected and its DTLS transport
is `connected`, the plain peer decodes aiortc's 440 Hz tone and aiortc
decodes the plain peer's 1000 Hz tone.

    /usr/bin/python3 tests/webrtc/test_aiortc.py --relay rtpengine
    /usr/bin/python3 tests/webrtc/test_aiortc.py --build-dir build [--long] [--only a-opus]

Exit 0 = pass.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402
import webrtc  # noqa: E402
from webrtc import BROWSER_SIDE, LOCAL, WEBRTC_SIDE  # noqa: E402

BROWSER_HZ, TRUNK_HZ = 440.0, 1000.0
MEDIA_S = 3.0
CONNECT_S = 10.0
ARGS = None

# what Kamailio adds on the answer toward each side
ANSWER_TO_BROWSER = {"flags": ["trust-address"], "replace": ["origin", "session-connection"],
                     "ICE": "force"}
ANSWER_TO_TRUNK = BROWSER_SIDE


class Call:
    """One call: aiortc (tag `browser`) and a PlainPeer (tag `trunk`)."""

    n = 0

    def __init__(self, relay: vox.Relay):
        Call.n += 1
        self.relay = relay
        self.cid = f"webrtc-{Call.n}-{os.getpid()}"
        self.pc = webrtc.peer_connection()
        self.plain = webrtc.PlainPeer(TRUNK_HZ)
        self.sink = None
        self.track = webrtc.ToneTrack(BROWSER_HZ)

        @self.pc.on("track")
        def on_track(track):
            self.sink = webrtc.TrackSink(track)

    def ng(self, cmd: str, sdp: str, keys: dict, tags: tuple) -> str:
        msg = {"command": cmd, "call-id": self.cid, "from-tag": tags[0], "sdp": sdp, **keys}
        if len(tags) > 1:
            msg["to-tag"] = tags[1]
        return webrtc.ng(self.relay, msg, ARGS.verbose)["sdp"]

    async def connected(self, timeout: float = CONNECT_S) -> None:
        """Wait for ICE connected and DTLS connected in aiortc."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.dtls_state() == "connected" and \
                    self.pc.iceConnectionState in ("connected", "completed"):
                return
            if self.dtls_state() == "failed" or self.pc.iceConnectionState == "failed":
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"aiortc not connected within {timeout} s: ICE "
                             f"{self.pc.iceConnectionState}, DTLS {self.dtls_state()}")

    def dtls_state(self) -> str:
        t = self.pc.getTransceivers()[0].sender.transport
        return t.state if t else "none"

    def ice(self):
        """aiortc's aioice Connection of the (only) transport."""
        return self.pc.getTransceivers()[0].sender.transport.transport._connection

    async def audio_both_ways(self, what: str, seconds: float = MEDIA_S) -> None:
        """Play ``seconds`` of audio, then check each side got the other's tone
        (the first 0.5 s skipped: jitter buffer, decoder start)."""
        t0 = time.monotonic()
        frames0 = self.sink.frames() if self.sink else 0
        await asyncio.sleep(seconds)
        pcm = self.plain.decoded(t0 + 0.5)
        up = webrtc.assert_tone(pcm, 8000, BROWSER_HZ, f"{what}: plain peer decoding aiortc's audio")
        assert self.sink is not None, f"{what}: aiortc got no remote track"
        got = self.sink.frames() - frames0
        assert got >= seconds * 25, f"{what}: aiortc got only {got} audio frames in {seconds} s"
        down = webrtc.assert_tone(self.sink.samples(since=(t0 - self.sink.chunks[0][0]) + 0.5),
                                  self.sink.rate, TRUNK_HZ, f"{what}: aiortc decoding the plain peer")
        print(f"      {what}: trunk got {up['freq']:.0f} Hz RMS {up['rms']:.0f} purity "
              f"{up['purity']:.2f}; aiortc got {down['freq']:.0f} Hz RMS {down['rms']:.0f} "
              f"purity {down['purity']:.2f} ({got} frames at {self.sink.rate} Hz); "
              f"ICE {self.pc.iceConnectionState}, DTLS {self.dtls_state()}", flush=True)

    async def close(self) -> None:
        if self.sink:
            self.sink.stop()
        await self.pc.close()
        self.plain.close()
        try:
            self.relay.ng.call({"command": "delete", "call-id": self.cid, "delete delay": 0})
        except vox.NgTimeout:
            pass


# --------------------------------------------------------------------------
# call setup, both directions


async def browser_to_trunk(c: Call, codec: str, transcode: bool = False, mangle=None) -> None:
    """aiortc offers (``codec`` only), the plain peer answers PCMU."""
    tr = c.pc.addTransceiver(c.track, direction="sendrecv")
    webrtc.prefer_codec(tr, f"audio/{codec}")
    await c.pc.setLocalDescription(await c.pc.createOffer())
    offer = c.pc.localDescription.sdp
    keys = dict(BROWSER_SIDE, codec={"transcode": ["PCMU"]}) if transcode else BROWSER_SIDE
    to_trunk = c.ng("offer", mangle(offer) if mangle else offer, keys, ("browser",))
    info = vox.parse_sdp(to_trunk)
    m = info.media[0]
    assert m.proto == "RTP/AVP", f"offer to trunk: m= proto {m.proto!r}, expected RTP/AVP"
    assert not m.has("candidate") and not m.has("ice-ufrag") and not m.has("fingerprint"), \
        f"offer to trunk still carries ICE/DTLS attributes:\n{to_trunk}"
    assert "0" in m.fmts, f"offer to trunk has no PCMU: m={m.lines[0]}"
    to_browser = c.ng("answer", c.plain.sdp(("PCMU",)), ANSWER_TO_BROWSER, ("browser", "trunk"))
    a = vox.parse_sdp(to_browser).media[0]
    assert a.proto == "UDP/TLS/RTP/SAVPF", f"answer to aiortc: m= proto {a.proto!r}"
    assert a.has("fingerprint") and a.has("ice-ufrag") and a.has("candidate"), \
        f"answer to aiortc lacks fingerprint/ICE:\n{to_browser}"
    want = "opus/48000" if transcode else "PCMU/8000"
    assert any(want in v for v in a.attr("rtpmap")), \
        f"answer to aiortc lacks {want} (it offered {codec} only):\n{to_browser}"
    from aiortc import RTCSessionDescription
    await c.pc.setRemoteDescription(RTCSessionDescription(webrtc.for_aiortc(to_browser), "answer"))
    c.plain.start(webrtc.media_target(to_trunk))


async def trunk_to_browser(c: Call) -> None:
    """The plain peer offers PCMU, PCMA, telephone-event; aiortc answers."""
    to_browser = c.ng("offer", c.plain.sdp(("PCMU", "PCMA", "telephone-event")), WEBRTC_SIDE,
                      ("trunk",))
    m = vox.parse_sdp(to_browser).media[0]
    assert m.proto == "UDP/TLS/RTP/SAVPF", f"offer to aiortc: m= proto {m.proto!r}"
    for attr in ("fingerprint", "ice-ufrag", "ice-pwd", "candidate", "mid", "rtcp-mux", "setup"):
        assert m.has(attr), f"offer to aiortc lacks a={attr}:\n{to_browser}"
    assert not m.has("crypto"), f"offer to aiortc has SDES a=crypto despite SDES-off"
    from aiortc import RTCSessionDescription
    await c.pc.setRemoteDescription(RTCSessionDescription(webrtc.for_aiortc(to_browser), "offer"))
    c.pc.addTrack(c.track)  # takes the transceiver the offer created
    await c.pc.setLocalDescription(await c.pc.createAnswer())
    to_trunk = c.ng("answer", c.pc.localDescription.sdp, ANSWER_TO_TRUNK, ("trunk", "browser"))
    t = vox.parse_sdp(to_trunk).media[0]
    assert t.proto == "RTP/AVP" and not t.has("candidate"), f"answer to trunk:\n{to_trunk}"
    c.plain.start(webrtc.media_target(to_trunk))


# --------------------------------------------------------------------------
# cases


async def case_a(relay, codec: str, transcode: bool) -> None:
    c = Call(relay)
    try:
        await browser_to_trunk(c, codec, transcode)
        await c.connected()
        await c.audio_both_ways(f"browser->trunk {codec}")
    finally:
        await c.close()


async def case_b(relay) -> None:
    c = Call(relay)
    try:
        await trunk_to_browser(c)
        await c.connected()
        await c.audio_both_ways("trunk->browser")
    finally:
        await c.close()


# --------------------------------------------------------------------------


CASES = [
    ("a-pcmu", lambda r: case_a(r, "PCMU", False)),
    ("a-opus", lambda r: case_a(r, "opus", True)),
    ("b-trunk", case_b),
]


def main() -> int:
    global ARGS
    ARGS = webrtc.relay_args(__doc__.splitlines()[0])
    logging.basicConfig(level=logging.DEBUG if ARGS.verbose else logging.WARNING)
    webrtc.whole_test_limit(85 + (60 if ARGS.long else 0))
    runner = vox.CaseRunner(f"WebRTC aiortc interop on {ARGS.relay}")
    try:
        with webrtc.start_relay(ARGS) as relay:
            for name, fn in CASES:
                if ARGS.only and not any(o in name for o in ARGS.only):
                    continue
                runner.run(name, lambda: asyncio.run(asyncio.wait_for(fn(relay), 40)))
    except webrtc.Deadline as e:
        runner.fail("deadline", str(e))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
