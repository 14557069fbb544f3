"""aiortc calls through the relay, shared by the WebRTC tests that drive a
scripted browser: tests/webrtc/test_aiortc.py (NG on 127.0.0.1),
test_dpdk_aiortc.py (NG over a veth to voxrelay --backend=dpdk, aiortc in a
network namespace) and test_kamailio_webrtc.py (SIP through Kamailio).

Needs Debian's python3-aiortc (1.4): run with /usr/bin/python3.

Contents
--------
- ``Browser``: aiortc (one RTCPeerConnection whose only ICE candidate is
  ``addr``) sending a 440 Hz tone and recording what it receives;
  ``connected()`` waits for ICE and DTLS, ``ice()`` is aioice's Connection.
- ``audio_check(browser, plain, what)``: after ``seconds`` of audio, the
  plain peer decodes the browser's tone and the browser the plain peer's.
- ``Call``: a Browser (tag ``browser``) and a plain G.711 peer (tag
  ``trunk``) in one NG call; ``ng()``, ``audio_both_ways()``, ``close()``
  (which also deletes the call).
- call setup: ``browser_to_trunk(c, codec)`` (aiortc offers, NG
  BROWSER_SIDE) and ``trunk_to_browser(c)`` (the plain peer offers, NG
  WEBRTC_SIDE), each checking the SDPs both sides get.
- the cases both test_aiortc.py and test_dpdk_aiortc.py run, each on a
  fresh call from ``new_call()``: ``case_a``, ``case_b``,
  ``case_fingerprint``, ``case_forged_stun``, ``case_new_address``;
  ``shared_cases(new_call, moved_ip)`` lists them with their names.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vox  # noqa: E402
import webrtc  # noqa: E402
from webrtc import BROWSER_SIDE, LOCAL, WEBRTC_SIDE  # noqa: E402

BROWSER_HZ, TRUNK_HZ = 440.0, 1000.0
MEDIA_S = 3.0
CONNECT_S = 10.0
MOVE_S = 6.0  # aiortc re-checks consent every 4-6 s

# what Kamailio adds on the answer toward each side
ANSWER_TO_BROWSER = {"flags": ["trust-address"], "replace": ["origin", "session-connection"],
                     "ICE": "force"}
ANSWER_TO_TRUNK = BROWSER_SIDE


# --------------------------------------------------------------------------
# the browser and the audio check


class Browser:
    """aiortc on ``addr`` (the calling thread in the namespace that owns it)
    sending a 440 Hz tone, recording the remote audio track it gets."""

    def __init__(self, addr: str = LOCAL):
        self.addr = addr
        self.pc = webrtc.peer_connection_at(addr)
        self.sink = None
        self.track = webrtc.ToneTrack(BROWSER_HZ)

        @self.pc.on("track")
        def on_track(track):
            if track.kind == "audio":
                self.sink = webrtc.TrackSink(track)

    def diag(self) -> str:
        """More to say when aiortc does not connect (none here)."""
        return ""

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
        more = self.diag()
        raise AssertionError(f"aiortc not connected within {timeout} s: ICE "
                             f"{self.pc.iceConnectionState}, DTLS {self.dtls_state()}"
                             + (f"; {more}" if more else ""))

    def dtls_state(self) -> str:
        t = self.pc.getTransceivers()[0].sender.transport
        return t.state if t else "none"

    def ice(self):
        """aiortc's aioice Connection of the (only) transport."""
        return self.pc.getTransceivers()[0].sender.transport.transport._connection

    async def close(self) -> None:
        if self.sink:
            self.sink.stop()
        await self.pc.close()


async def audio_check(browser: Browser, plain: webrtc.PlainPeer, what: str,
                      seconds: float = MEDIA_S, peer: str = "the plain peer") -> dict:
    """Play ``seconds`` of audio, then check each side got the other's tone
    (the first 0.5 s skipped: jitter buffer, decoder start). Returns ``up``
    (tone_check of what the plain peer decoded), ``down`` (of what aiortc
    decoded) and ``frames`` (audio frames aiortc got meanwhile)."""
    t0 = time.monotonic()
    frames0 = browser.sink.frames() if browser.sink else 0
    await asyncio.sleep(seconds)
    up = webrtc.assert_tone(plain.decoded(t0 + 0.5), 8000, BROWSER_HZ,
                            f"{what}: {peer} decoding aiortc's audio")
    assert browser.sink is not None, f"{what}: aiortc got no remote track"
    got = browser.sink.frames() - frames0
    assert got >= seconds * 25, f"{what}: aiortc got only {got} audio frames in {seconds} s"
    down = webrtc.assert_tone(
        browser.sink.samples(since=(t0 - browser.sink.chunks[0][0]) + 0.5), browser.sink.rate,
        TRUNK_HZ, f"{what}: aiortc decoding {peer}")
    return {"up": up, "down": down, "frames": got}


# --------------------------------------------------------------------------
# one call through NG


class Call(Browser):
    """One call: aiortc (tag `browser`) and a plain peer (tag `trunk`, a
    PlainPeer sending 1000 Hz unless ``plain`` is given), both on ``addr``,
    NG through ``ngc``; ``diag()`` (if given) is added to a failure to
    connect."""

    n = 0

    def __init__(self, ngc: vox.NgClient, addr: str = LOCAL, plain=None, prefix: str = "webrtc",
                 verbose: bool = False, diag: Optional[Callable[[], str]] = None):
        Call.n += 1
        self.ngc = ngc
        self.cid = f"{prefix}-{Call.n}-{os.getpid()}"
        super().__init__(addr)
        self.plain = plain or (webrtc.PlainPeer(TRUNK_HZ) if addr == LOCAL
                               else webrtc.PlainPeerAt(addr, TRUNK_HZ))
        self.to_browser = self.to_trunk = ""
        self.verbose = verbose
        self._diag = diag

    def diag(self) -> str:
        return self._diag() if self._diag else ""

    def ng(self, cmd: str, sdp: str, keys: dict, tags: tuple) -> str:
        msg = {"command": cmd, "call-id": self.cid, "from-tag": tags[0], "sdp": sdp, **keys}
        if len(tags) > 1:
            msg["to-tag"] = tags[1]
        r = vox.ng_ok(self.ngc, msg)
        if self.verbose:
            print(f"--- NG {cmd} -> {sdp}\n--- reply:\n{r.get('sdp', r)}", flush=True)
        return r["sdp"]

    async def audio_both_ways(self, what: str, seconds: float = MEDIA_S) -> None:
        """``audio_check`` with the plain peer, printed."""
        r = await audio_check(self, self.plain, what, seconds)
        up, down = r["up"], r["down"]
        print(f"      {what}: trunk got {up['freq']:.0f} Hz RMS {up['rms']:.0f} purity "
              f"{up['purity']:.2f}; aiortc got {down['freq']:.0f} Hz RMS {down['rms']:.0f} "
              f"purity {down['purity']:.2f} ({r['frames']} frames at {self.sink.rate} Hz); "
              f"ICE {self.pc.iceConnectionState}, DTLS {self.dtls_state()}", flush=True)

    async def close(self) -> None:
        await super().close()
        self.plain.close()
        try:
            self.ngc.call({"command": "delete", "call-id": self.cid, "delete delay": 0})
        except vox.NgTimeout:
            pass


# --------------------------------------------------------------------------
# call setup, both directions


async def browser_to_trunk(c: Call, codec: str, transcode: bool = False, mangle=None,
                           trunk_answer=None, relay_ip: Optional[str] = None) -> None:
    """aiortc offers (``codec`` only), the plain peer answers PCMU (or
    ``trunk_answer(offer to the trunk)``). With ``relay_ip`` also checked:
    aiortc's offer names ``c.addr``, the offer to the trunk points at
    ``relay_ip`` and the answer to aiortc has a candidate on it."""
    from aiortc import RTCSessionDescription
    tr = c.pc.addTransceiver(c.track, direction="sendrecv")
    webrtc.prefer_codec(tr, f"audio/{codec}")
    await c.pc.setLocalDescription(await c.pc.createOffer())
    offer = c.pc.localDescription.sdp
    if relay_ip:
        assert f"IN IP4 {c.addr}" in offer, f"aiortc's offer does not name {c.addr}:\n{offer}"
    keys = dict(BROWSER_SIDE, codec={"transcode": ["PCMU"]}) if transcode else BROWSER_SIDE
    to_trunk = c.ng("offer", mangle(offer) if mangle else offer, keys, ("browser",))
    m = vox.parse_sdp(to_trunk).media[0]
    assert m.proto == "RTP/AVP", f"offer to trunk: m= proto {m.proto!r}, expected RTP/AVP"
    assert not m.has("candidate") and not m.has("ice-ufrag") and not m.has("fingerprint"), \
        f"offer to trunk still carries ICE/DTLS attributes:\n{to_trunk}"
    assert "0" in m.fmts, f"offer to trunk has no PCMU: m={m.lines[0]}"
    if relay_ip:
        assert webrtc.media_target(to_trunk)[0] == relay_ip, f"offer to trunk:\n{to_trunk}"
    answer = trunk_answer(to_trunk) if trunk_answer else c.plain.sdp(("PCMU",))
    to_browser = c.ng("answer", answer, ANSWER_TO_BROWSER, ("browser", "trunk"))
    a = vox.parse_sdp(to_browser).media[0]
    assert a.proto == "UDP/TLS/RTP/SAVPF", f"answer to aiortc: m= proto {a.proto!r}"
    assert a.has("fingerprint") and a.has("ice-ufrag") and a.has("candidate"), \
        f"answer to aiortc lacks fingerprint/ICE:\n{to_browser}"
    if relay_ip:
        assert any(relay_ip in v for v in a.attr("candidate")), \
            f"answer to aiortc: no candidate on {relay_ip}: {a.attr('candidate')}"
    want = "opus/48000" if transcode else "PCMU/8000"
    assert any(want in v for v in a.attr("rtpmap")), \
        f"answer to aiortc lacks {want} (it offered {codec} only):\n{to_browser}"
    await c.pc.setRemoteDescription(RTCSessionDescription(webrtc.for_aiortc(to_browser), "answer"))
    c.plain.start(webrtc.media_target(to_trunk))
    c.to_browser, c.to_trunk = to_browser, to_trunk


async def trunk_to_browser(c: Call) -> None:
    """The plain peer offers PCMU, PCMA, telephone-event; aiortc answers."""
    from aiortc import RTCSessionDescription
    to_browser = c.ng("offer", c.plain.sdp(("PCMU", "PCMA", "telephone-event")), WEBRTC_SIDE,
                      ("trunk",))
    m = vox.parse_sdp(to_browser).media[0]
    assert m.proto == "UDP/TLS/RTP/SAVPF", f"offer to aiortc: m= proto {m.proto!r}"
    for attr in ("fingerprint", "ice-ufrag", "ice-pwd", "candidate", "mid", "rtcp-mux", "setup"):
        assert m.has(attr), f"offer to aiortc lacks a={attr}:\n{to_browser}"
    assert not m.has("crypto"), "offer to aiortc has SDES a=crypto despite SDES-off"
    await c.pc.setRemoteDescription(RTCSessionDescription(webrtc.for_aiortc(to_browser), "offer"))
    c.pc.addTrack(c.track)  # takes the transceiver the offer created
    await c.pc.setLocalDescription(await c.pc.createAnswer())
    to_trunk = c.ng("answer", c.pc.localDescription.sdp, ANSWER_TO_TRUNK, ("trunk", "browser"))
    t = vox.parse_sdp(to_trunk).media[0]
    assert t.proto == "RTP/AVP" and not t.has("candidate"), f"answer to trunk:\n{to_trunk}"
    c.plain.start(webrtc.media_target(to_trunk))
    c.to_browser, c.to_trunk = to_browser, to_trunk


# --------------------------------------------------------------------------
# the shared cases; ``new_call()`` makes a fresh Call, ``relay_ip`` as for
# browser_to_trunk


async def case_a(new_call, codec: str, transcode: bool, after=None, relay_ip=None) -> None:
    """browser -> trunk with ``codec`` (transcoded to PCMU if ``transcode``);
    ``after(c)`` runs once the audio went both ways."""
    c = new_call()
    try:
        await browser_to_trunk(c, codec, transcode, relay_ip=relay_ip)
        await c.connected()
        await c.audio_both_ways(f"browser->trunk {codec}")
        if after:
            after(c)
    finally:
        await c.close()


async def case_b(new_call) -> None:
    c = new_call()
    try:
        await trunk_to_browser(c)
        await c.connected()
        await c.audio_both_ways("trunk->browser")
    finally:
        await c.close()


async def case_fingerprint(new_call, relay_ip=None) -> None:
    """The relay gets aiortc's offer with a wrong a=fingerprint: it must
    refuse aiortc's DTLS certificate, so no SRTP keys and no media."""
    c = new_call()
    try:
        await browser_to_trunk(c, "PCMU", mangle=webrtc.mangle_fingerprint, relay_ip=relay_ip)
        t0 = time.monotonic()
        await asyncio.sleep(MEDIA_S)
        got = c.plain.rtp_since(t0)
        assert not got, (f"wrong fingerprint: the plain peer received {len(got)} RTP packets "
                         f"from aiortc (DTLS {c.dtls_state()}); expected none")
        assert c.dtls_state() != "connected", \
            "wrong fingerprint: aiortc's DTLS is connected: the relay accepted the certificate"
        print(f"      no media after {MEDIA_S} s; aiortc: ICE {c.pc.iceConnectionState}, "
              f"DTLS {c.dtls_state()}", flush=True)
    finally:
        await c.close()


async def case_forged_stun(new_call, relay_ip=None) -> None:
    """Binding requests with a bad MESSAGE-INTEGRITY (claiming the ICE
    username and nominating) from another socket on aiortc's address must
    not divert the media."""
    c = new_call()
    forger = vox.UdpPeer(c.addr)
    try:
        await browser_to_trunk(c, "PCMU", relay_ip=relay_ip)
        await c.connected()
        relay_ufrag = webrtc.sdp_attr(c.to_browser, "ice-ufrag")[0]
        relay_port = webrtc.media_target(c.to_browser)
        user = f"{relay_ufrag}:{c.ice().local_username}"
        for _ in range(5):  # the forger does not know the relay's ice-pwd
            forger.sendto(webrtc.stun_binding_request(user, "not-the-password", controlling=True,
                                                      use_candidate=True), relay_port)
            await asyncio.sleep(0.05)
        await c.audio_both_ways("after forged STUN")
        got = forger.recv_for(0.2)
        bad = [(d[:4].hex(), webrtc.stun_parse(d)) for d, _ in got
               if (webrtc.stun_parse(d) or (0,))[0] != 3]  # only error responses are fine
        assert not bad, f"the forger received {len(bad)} packets that are not STUN errors: {bad[:5]}"
        print(f"      forger got {len(got)} packets, all STUN error responses", flush=True)
    finally:
        forger.close()
        await c.close()


async def case_new_address(new_call, moved_ip: str, relay_ip=None) -> None:
    """The browser's address changes mid-call (``c.addr``:p -> ``moved_ip``:q,
    a NAT rebinding or a Wi-Fi -> LTE move without ICE restart): it sends a
    nominating check and media from the new address; within MOVE_S the relay
    sends its media there, and then nothing more to the old address."""
    c = new_call()
    try:
        await browser_to_trunk(c, "PCMU", relay_ip=relay_ip)
        await c.connected()
        await c.audio_both_ways("before the move", 1.5)
        moved = await webrtc.move_socket(c.ice(), moved_ip)
        await webrtc.nominate_again(c.ice())
        while not moved.new and time.monotonic() < moved.t0 + MOVE_S:
            await asyncio.sleep(0.05)
        more = c.diag()
        assert moved.new, (f"the relay sent nothing to aiortc's new address {moved.addr} within "
                           f"{MOVE_S} s ({len(moved.old)} packets still to the old one)"
                           + (f"; {more}" if more else ""))
        print(f"      relay followed to {moved.addr[0]}:{moved.addr[1]} after "
              f"{moved.new[0] - moved.t0:.2f} s", flush=True)
        await asyncio.sleep(0.2)
        switched = time.monotonic()
        await c.audio_both_ways("after the move")
        stale = [t for t in moved.old if t > switched]
        assert not stale, f"after the move the relay still sent {len(stale)} packets to the old address"
    finally:
        await c.close()


def shared_cases(new_call, moved_ip: str, after_a=None, relay_ip=None) -> list:
    """(name, label, coroutine function without arguments) of the shared
    cases, in the order both tests run them."""
    return [
        ("a-pcmu", "browser->trunk PCMU, audio both ways",
         lambda: case_a(new_call, "PCMU", False, after_a, relay_ip)),
        ("a-opus", "browser->trunk Opus transcoded to PCMU, audio both ways",
         lambda: case_a(new_call, "opus", True, after_a, relay_ip)),
        ("b-trunk", "trunk->browser, audio both ways", lambda: case_b(new_call)),
        ("c-fingerprint", "wrong fingerprint: DTLS fails, no media",
         lambda: case_fingerprint(new_call, relay_ip)),
        ("c-forged-stun", "forged STUN check moves nothing",
         lambda: case_forged_stun(new_call, relay_ip)),
        ("d-new-address", f"aiortc moves to {moved_ip}: the relay follows",
         lambda: case_new_address(new_call, moved_ip, relay_ip)),
    ]
