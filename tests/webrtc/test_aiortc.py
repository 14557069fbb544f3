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
              media to it (rtpengine 10.5 fails this: after ICE completes it
              sends no more STUN, so no consent expiry; only --timeout ends
              a call without media);
  d-ice-restart  mid-call re-offer through NG with new ice-ufrag/pwd (aiortc
              1.4 has no restartIce(): its ICE agent's credentials are swapped
              in place to match): audio continues both ways;
  d-new-address  mid-call the browser's socket moves to another address
              (127.0.0.2, emulating a NAT rebinding / network change; the
              aioice transport is swapped under the same ICE/DTLS session):
              the relay follows it after a fresh connectivity check and audio
              continues both ways;
  e-bundle    browser -> trunk, aiortc offers audio (PCMU) and video on one
              ICE/DTLS transport (max-bundle: one port, a=group:BUNDLE 0 1);
              the trunk is audio-only and rejects video (m=video 0); the
              relay's answer to aiortc rejects video (port 0, out of the
              BUNDLE group) and the audio flows both ways;
  e-dtmf      browser -> trunk with Opus <-> PCMU transcoding; aiortc's offer
              also carries a browser's telephone-event/48000 and /8000: the
              plain peer sends RFC 4733 digits 1, 5, # (with end packets) and
              aiortc must receive them as telephone-event RTP (recorded after
              SRTP decryption: aiortc has no DTMF API) on a PT it offered.
              (The other direction, the browser's DTMF to the trunk, is in
              test_chromium.py: aiortc cannot send telephone-event.)
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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402
import webrtc  # noqa: E402
import webrtc_calls as wc  # noqa: E402
from webrtc import BROWSER_SIDE  # noqa: E402
from webrtc_calls import ANSWER_TO_BROWSER, TRUNK_HZ, Call, browser_to_trunk  # noqa: E402

ARGS = None


def call(relay: vox.Relay, plain=None) -> Call:
    """A fresh call on 127.0.0.1 through ``relay``'s NG."""
    return Call(relay.ng, plain=plain, verbose=ARGS.verbose)


# --------------------------------------------------------------------------
# cases (a-pcmu, a-opus, b-trunk, c-fingerprint, c-forged-stun and
# d-new-address are webrtc_calls.shared_cases, also run by test_dpdk_aiortc.py)


def check_query_on_voxrelay(c: Call) -> None:
    if ARGS.relay == "voxrelay":
        check_query(c)


def check_query(c: Call) -> None:
    """voxrelay's `query` and `statistics` name the browser side's ICE and
    DTLS state as the handshake thread last published it (at most 1 s old)."""
    time.sleep(1.1)
    q = vox.ng_ok(c.ngc, {"command": "query", "call-id": c.cid})
    stream = q["tags"]["browser"]["medias"][0]["streams"][0]
    ice, dtls = stream.get("ICE"), stream.get("DTLS")
    assert ice and ice["state"] == "connected" and ice["nominated pair"]["port"], f"query ICE: {ice}"
    assert dtls and dtls["state"] == "connected", f"query DTLS: {dtls}"
    # aiortc 1.4 offers only SRTP_AES128_CM_SHA1_80 (Chromium gets GCM)
    assert dtls["role"] == "active" and dtls["SRTP profile"] in (
        "SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80"), dtls
    assert "ICE" not in q["tags"]["trunk"]["medias"][0]["streams"][0], "the trunk side has no ICE"
    st = vox.ng_ok(c.ngc, {"command": "statistics"})["statistics"]["totalstatistics"]["webrtc"]
    assert st["handshakes completed"] >= 1 and st["STUN checks answered"] >= 1, st
    print(f"      query: ICE {ice['state']} via {ice['nominated pair']['address']}:"
          f"{ice['nominated pair']['port']}, DTLS {dtls['state']} {dtls['role']} "
          f"{dtls['SRTP profile']} {dtls.get('cipher')} in {dtls.get('handshake us')} us", flush=True)



async def case_consent(relay) -> None:
    """RFC 7675: aiortc stops answering the relay's STUN (its socket drops
    every STUN request); after 30 s without consent the relay must stop
    sending it media."""
    c = call(relay)
    try:
        await browser_to_trunk(c, "PCMU")
        await c.connected()
        proto = c.ice()._nominated[1].protocol
        arrivals: list = []
        checks: list = []
        real = proto.datagram_received

        def muted(data, addr):
            parsed = webrtc.stun_parse(data)
            if parsed and parsed[0] == 0:
                checks.append(time.monotonic())
                return  # a request: no answer
            if not parsed:
                arrivals.append(time.monotonic())
            real(data, addr)
        proto.datagram_received = muted
        c.ice()._query_consent_handle.cancel()  # aiortc keeps sending media, nothing else
        t0 = time.monotonic()
        await asyncio.sleep(40)
        late = [t for t in arrivals if t > time.monotonic() - 3]
        early = [t for t in arrivals if t < t0 + 5]
        assert early, "consent: no media reached aiortc even at the start"
        assert not late, (f"consent: 40 s without STUN answers, the relay still sent aiortc "
                          f"{len(late)} packets in the last 3 s (RFC 7675 §5.1: stop after 30 s); "
                          f"it sent {len(checks)} STUN requests (consent checks) meanwhile")
        print(f"      last media to aiortc {max(arrivals) - t0:.1f} s after it went quiet",
              flush=True)
    finally:
        await c.close()


async def case_ice_restart(relay) -> None:
    """Mid-call ICE restart (RFC 8445 §9) by re-offer through NG with new
    ice-ufrag/ice-pwd: audio keeps flowing both ways. aiortc 1.4 has no
    restartIce(), so its aioice agent gets the new credentials in place and
    sends a fresh nominating check with them, as a restarting browser would."""
    c = call(relay)
    try:
        await browser_to_trunk(c, "PCMU")
        await c.connected()
        await c.audio_both_ways("before ICE restart", 1.5)
        ice = c.ice()
        old_relay_ufrag = webrtc.sdp_attr(c.to_browser, "ice-ufrag")[0]
        ufrag, pwd = "rst" + os.urandom(3).hex(), "restart" + os.urandom(12).hex()
        ice.local_username, ice.local_password = ufrag, pwd
        reoffer = webrtc.sdp_replace_attr(c.pc.localDescription.sdp, "ice-ufrag", ufrag)
        reoffer = webrtc.sdp_replace_attr(reoffer, "ice-pwd", pwd)
        reoffer = webrtc.bump_origin_version(reoffer)
        to_trunk = c.ng("offer", reoffer, BROWSER_SIDE, ("browser",))
        to_browser = c.ng("answer", c.plain.sdp(("PCMU",), version=2), ANSWER_TO_BROWSER,
                          ("browser", "trunk"))
        assert webrtc.media_target(to_trunk) == webrtc.media_target(c.to_trunk), \
            "ICE restart moved the trunk side's port"
        new_ufrag = webrtc.sdp_attr(to_browser, "ice-ufrag")[0]
        assert new_ufrag != old_relay_ufrag, \
            f"ICE restart: the relay's answer kept its ice-ufrag {new_ufrag} (RFC 8445 §9)"
        ice.remote_username = new_ufrag
        ice.remote_password = webrtc.sdp_attr(to_browser, "ice-pwd")[0]
        await webrtc.nominate_again(ice)
        await c.audio_both_ways("after ICE restart")
        print(f"      relay ufrag {old_relay_ufrag} -> {new_ufrag}", flush=True)
    finally:
        await c.close()


# --------------------------------------------------------------------------
# BUNDLE and DTMF (e-)


def max_bundle(pc, main, *others) -> None:
    """aiortc 1.4 has no bundlePolicy: each transceiver gets its own ICE/DTLS
    transport until an answer's BUNDLE group merges them. Do what a browser's
    "max-bundle" does before the first offer: ``others`` share ``main``'s
    transport, so every m= line carries one port, ufrag and fingerprint."""
    for t in others:
        old = t._transport
        t.receiver.setTransport(main._transport)
        t.sender.setTransport(main._transport)
        t._transport, t._bundled = main._transport, True
        pc._RTCPeerConnection__iceTransports.discard(old.transport)  # never gathers


def sections(sdp: str) -> tuple:
    """(session lines, [lines of each m= section])."""
    head, media = [], []
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            media.append([line])
        elif line:
            (media[-1] if media else head).append(line)
    return head, media


def rejected_for_aiortc(answer: str, offer: str) -> str:
    """aiortc 1.4 ignores port 0 and insists on ICE credentials, a fingerprint
    and a known codec in every m= section of an answer; turn each rejected
    m= section into an inactive one on the first section's transport (its
    mid and first codec from aiortc's offer), which is what it means."""
    head, media = sections(answer)
    first = media[0]
    port = first[0].split()[1]
    # aiortc takes the bundle's remote candidates from the last section that
    # names its transport: the candidates too, or an ICE-lite relay is never checked
    transport = [x for x in first if x.startswith("c=") or x.split(":")[0] in
                 ("a=ice-ufrag", "a=ice-pwd", "a=fingerprint", "a=setup", "a=candidate",
                  "a=end-of-candidates")]
    for i, sec in enumerate(media):
        f = sec[0].split()
        if f[1] != "0":
            continue
        om = vox.parse_sdp(offer).media[i]
        pt = om.fmts[0]
        media[i] = [f"m={om.kind} {port} UDP/TLS/RTP/SAVPF {pt}", *transport,
                    f"a=mid:{om.attr('mid')[0]}", "a=inactive", "a=rtcp-mux",
                    f"a=rtpmap:{pt} {webrtc.rtpmaps(om)[int(pt)]}"]
    return "\r\n".join(head + [x for sec in media for x in sec]) + "\r\n"


async def case_bundle(relay) -> None:
    from aiortc import RTCSessionDescription
    from aiortc.mediastreams import VideoStreamTrack
    c = call(relay)
    try:
        audio = c.pc.addTransceiver(c.track, direction="sendrecv")
        webrtc.prefer_codec(audio, "audio/PCMU")
        video = c.pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")
        max_bundle(c.pc, audio, video)
        await c.pc.setLocalDescription(await c.pc.createOffer())
        offer = c.pc.localDescription.sdp
        o = vox.parse_sdp(offer)
        mids = [m.attr("mid")[0] for m in o.media]
        assert [m.kind for m in o.media] == ["audio", "video"] and \
            o.media[0].port == o.media[1].port and f"a=group:BUNDLE {' '.join(mids)}" in \
            o.session_lines, f"aiortc's offer is not audio + video bundled on one port:\n{offer}"

        to_trunk = c.ng("offer", offer, BROWSER_SIDE, ("browser",))
        t = vox.parse_sdp(to_trunk)
        assert [m.kind for m in t.media] == ["audio", "video"], \
            f"offer to trunk: m= lines {[m.kind for m in t.media]}, expected audio, video " \
            f"(RFC 3264 §8: the m= lines stay):\n{to_trunk}"
        ta, tv = t.media
        assert ta.port and ta.proto == "RTP/AVP" and "0" in ta.fmts, f"offer to trunk:\n{to_trunk}"
        for m in t.media:
            assert not m.has("candidate") and not m.has("ice-ufrag") and \
                not m.has("fingerprint"), \
                f"offer to trunk keeps ICE/DTLS in m={m.kind}:\n{to_trunk}"
        if tv.port:  # offered on: a port of its own (no BUNDLE toward a plain RTP/AVP peer)
            assert tv.proto == "RTP/AVP" and (tv.port, tv.conn) != (ta.port, ta.conn), \
                f"offer to trunk: video m={tv.lines[0]} next to audio m={ta.lines[0]}"
        video_to_trunk = tv.lines[0]
        # the audio-only trunk rejects the video m= line
        plain = c.plain.sdp(("PCMU",)) + f"m=video 0 {tv.proto} {' '.join(tv.fmts)}\r\n"
        to_browser = c.ng("answer", plain, ANSWER_TO_BROWSER, ("browser", "trunk"))
        b = vox.parse_sdp(to_browser)
        assert [m.kind for m in b.media] == ["audio", "video"], \
            f"answer to aiortc: m= lines {[m.kind for m in b.media]}:\n{to_browser}"
        ba, bv = b.media
        assert bv.port == 0, f"answer to aiortc: video not rejected: {bv.lines[0]}\n{to_browser}"
        assert ba.port and ba.proto == "UDP/TLS/RTP/SAVPF" and ba.has("fingerprint") and \
            ba.has("ice-ufrag") and ba.has("candidate") and \
            any("PCMU/8000" in v for v in ba.attr("rtpmap")), f"answer to aiortc:\n{to_browser}"
        assert ba.attr("mid") == [mids[0]], f"answer to aiortc: audio a=mid {ba.attr('mid')}"
        groups = [x.split()[1:] for x in b.session_lines if x.startswith("a=group:BUNDLE")]
        assert not any(mids[1] in g for g in groups), \
            f"answer to aiortc: the rejected video mid {mids[1]} is still in {groups} " \
            f"(RFC 9143 §7.3.3)"
        await c.pc.setRemoteDescription(RTCSessionDescription(
            webrtc.for_aiortc(rejected_for_aiortc(to_browser, offer)), "answer"))
        c.plain.start(webrtc.media_target(to_trunk))
        c.to_browser, c.to_trunk = to_browser, to_trunk
        await c.connected()
        await c.audio_both_ways("bundled audio")
        stray = sorted({p.pt for p in c.plain.rtp_since(0) if p.pt != 0})
        assert not stray, f"the trunk got RTP with payload types {stray} besides PCMU"
        print(f"      to trunk: {video_to_trunk}; to aiortc: {bv.lines[0]}, "
              f"group {groups}", flush=True)
    finally:
        await c.close()


def add_telephone_event(sdp: str) -> str:
    """What a browser offers beside Opus: telephone-event/48000 (PT 110) and
    telephone-event/8000 (PT 126), as Chromium numbers them."""
    out, audio = [], False
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            audio = line.startswith("m=audio")
            if audio:
                line += " 110 126"
        if audio and line.startswith("a=rtpmap:"):
            out += ["a=rtpmap:110 telephone-event/48000", "a=rtpmap:126 telephone-event/8000",
                    "a=fmtp:126 0-16"]
            audio = False  # once
        out.append(line)
    return "\r\n".join(out)


def record_rtp(c: Call) -> list:
    """Every RTP packet aiortc's DTLS transport decrypts: (monotonic time,
    rtpaudio.Rtp), whether or not a receiver takes its payload type."""
    got: list = []
    dtls = c.pc.getTransceivers()[0].receiver.transport
    real = dtls._handle_rtp_data

    async def spy(data, arrival_time_ms):
        p = webrtc.rtpaudio.parse_rtp(data)
        if p is not None:
            got.append((time.monotonic(), p))
        await real(data, arrival_time_ms)
    dtls._handle_rtp_data = spy
    return got


async def case_dtmf(relay) -> None:
    c = call(relay, webrtc.DtmfPlainPeer(TRUNK_HZ))
    digits = "15#"
    try:
        def trunk_answer(to_trunk: str) -> str:
            m = vox.parse_sdp(to_trunk).media[0]
            te = webrtc.pt_of(m, "telephone-event/8000")
            assert te, f"offer to trunk: no telephone-event/8000:\n{to_trunk}"
            c.plain.te_pt = te[0]
            return c.plain.sdp(("PCMU", "telephone-event"))
        await browser_to_trunk(c, "opus", transcode=True, mangle=add_telephone_event,
                               trunk_answer=trunk_answer)
        a = vox.parse_sdp(c.to_browser).media[0]
        maps = webrtc.rtpmaps(a)
        te_pts = webrtc.pt_of(a, "telephone-event/")
        assert te_pts, f"answer to aiortc: no telephone-event (it offered PT 110 " \
                       f"telephone-event/48000 and 126 /8000):\n{c.to_browser}"
        for pt in te_pts:
            assert (pt, maps[pt]) in ((110, "telephone-event/48000"),
                                      (126, "telephone-event/8000")), \
                f"answer to aiortc: telephone-event PT {pt} {maps[pt]} is not one it offered"
        got = record_rtp(c)
        await c.connected()
        await c.audio_both_ways("opus <-> PCMU before DTMF", 1.5)
        t0 = time.monotonic()
        c.plain.send_dtmf(digits)
        deadline = t0 + 0.02 * (len(digits) * webrtc.DtmfPlainPeer.GAP) + 3
        while c.plain.dtmf_done is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert c.plain.dtmf_done, "the plain peer did not finish sending its digits"
        await asyncio.sleep(0.5)
        pkts = [p for t, p in got if t >= t0]
        pts = {}
        for p in pkts:
            pts[p.pt] = pts.get(p.pt, 0) + 1
        events = webrtc.dtmf_events([p for p in pkts if p.pt in te_pts])
        desc = webrtc.describe_dtmf(events)
        if ARGS.verbose:
            print([(p.pt, p.seq, p.ts, p.marker, p.payload.hex()) for p in pkts if p.pt in te_pts])
        tes = ", ".join(f"{pt} {maps[pt]}" for pt in te_pts)
        print(f"      answer to aiortc: {a.lines[0]} ({tes}); "
              f"aiortc got PTs {pts}; events: {desc}", flush=True)
        got_digits = "".join(e["digit"] for e in events)
        assert got_digits == digits, \
            f"aiortc got telephone-event digits {got_digits!r}, expected {digits!r}: {desc}"
        pt_rate = {pt: int(maps[pt].split("/")[1]) for pt in te_pts}
        rates = {pt_rate[p.pt] for p in pkts if p.pt in te_pts}
        assert len(rates) == 1, f"telephone-event at several clock rates {rates}"
        rate = rates.pop()
        sent = c.plain.dtmf_sent[0][1] * rate // 8000
        for e in events:
            assert e["ends"] >= 1, f"digit {e['digit']}: no end packet (E bit): {desc}"
            assert e["marker"], f"digit {e['digit']}: first packet without marker bit: {desc}"
            assert 0.8 * sent <= e["duration"] <= 1.25 * sent, \
                f"digit {e['digit']}: duration {e['duration']} at {rate} Hz, sent " \
                f"{c.plain.dtmf_sent[0][1]} at 8000 Hz (expected ~{sent}): {desc}"
        await c.audio_both_ways("opus <-> PCMU after DTMF", 1.5)
    finally:
        await c.close()


CASES = [
    ("d-ice-restart", case_ice_restart),
    ("e-bundle", case_bundle),
    ("e-dtmf", case_dtmf),
]
LONG_CASES = [("c-consent", case_consent)]


def cases(relay) -> list:
    """(name, coroutine function without arguments) in the order they run."""
    shared = {name: fn for name, _, fn in wc.shared_cases(
        lambda: call(relay), "127.0.0.2", after_a=check_query_on_voxrelay)}
    own = {name: (lambda fn=fn: fn(relay)) for name, fn in
           CASES + (LONG_CASES if ARGS.long else [])}
    return [(n, shared.get(n) or own[n]) for n in (
        "a-pcmu", "a-opus", "b-trunk", "c-fingerprint", "c-forged-stun", "d-ice-restart",
        "d-new-address", "e-bundle", "e-dtmf", "c-consent") if n in shared or n in own]


def main() -> int:
    global ARGS
    ARGS = webrtc.relay_args(__doc__.splitlines()[0])
    logging.basicConfig(level=logging.DEBUG if ARGS.verbose else logging.WARNING)
    webrtc.whole_test_limit(120 if ARGS.long else 85)
    runner = vox.CaseRunner(f"WebRTC aiortc interop on {ARGS.relay}")
    try:
        with webrtc.start_relay(ARGS) as relay:
            for name, fn in cases(relay):
                if ARGS.only and not any(o in name for o in ARGS.only):
                    continue
                runner.run(name, lambda: asyncio.run(asyncio.wait_for(fn(), 60)))
    except webrtc.Deadline as e:
        runner.fail("deadline", str(e))
    except vox.RelayError as e:
        runner.fail(f"starting {ARGS.relay}", str(e))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
