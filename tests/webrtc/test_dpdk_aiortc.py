#!/usr/bin/python3
"""WebRTC on the DPDK backend (issue 15): aiortc 1.4 (ICE, DTLS-SRTP, Opus or
PCMU) <-> voxrelay --backend=dpdk <-> a plain G.711 RTP peer, through NG with
the flags Kamailio's rtpengine module sends (tests/webrtc/test_aiortc.py's
cases on the socket backend over loopback; these run over a veth).

Topology and relay: tests/integration/test_dpdk_netns.py's (imported as
``dn``): namespace voxr-PID holds voxrelay with DPDK's net_af_packet on vm-r
(`--no-huge --no-pci -m 512`, no kernel address for 10.77.0.1: only DPDK
answers ARP, STUN and DTLS for it, the handshake thread fed by the DPDK
worker's slow path), namespace voxp-PID holds aiortc and the plain peer on
10.77.0.2 (vm-p) and drives NG over the kernel-owned management veth
(10.78.0.1:22222). Both are created here and removed at the end, also on a
failure, Ctrl-C, SIGTERM or the watchdog. This test's main thread enters P
(setns, netns.Netns.entered()) for each case, so every socket aiortc, aioice
and the plain peer open lives in P; aioice gathers 10.77.0.2 only.

Cases (each a fresh call; audio both ways for ~3 s, then decoded):
  a-pcmu      browser -> trunk, aiortc offers PCMU only (NG BROWSER_SIDE):
              ICE + DTLS-SRTP terminated on DPDK, plain RTP/AVP to the trunk;
  a-opus      browser -> trunk, Opus only, NG `codec: {transcode: [PCMU]}`;
  b-trunk     trunk -> browser (NG WEBRTC_SIDE offer, BROWSER_SIDE answer);
  c-fingerprint  wrong a=fingerprint for aiortc: DTLS fails, no media reaches
              the plain peer;
  c-forged-stun  mid-call Binding requests with a bad MESSAGE-INTEGRITY (and
              USE-CANDIDATE) from another socket: only STUN errors (or
              nothing) reach the forger, audio continues both ways;
  d-new-address  mid-call aiortc's socket moves to 10.77.0.3 (a second
              address on vm-p) and sends a fresh nominating check: the relay
              (DPDK, ARP-resolving the new address) follows, audio continues.
In every media case the plain peer decodes aiortc's 440 Hz tone and aiortc
decodes the plain peer's 1000 Hz tone; afterwards no call is left, the relay
exits 0 on SIGTERM and the namespaces and veths are gone.

Run (root; Debian's Python for aiortc):
  /usr/bin/python3 tests/webrtc/test_dpdk_aiortc.py --build-dir build
  /usr/bin/python3 tests/webrtc/test_dpdk_aiortc.py --build-dir build --backend socket
  /usr/bin/python3 tests/webrtc/test_dpdk_aiortc.py --build-dir build --only a-opus -v
Prints "SKIP: ..." and exits 0 when not root, without `ip netns`, or (dpdk)
when voxrelay has no DPDK backend. VOX_KEEP_TMP=1 keeps the relay's log.
Exit 0 = pass.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE.parent / "integration"))
import netns  # noqa: E402
import test_dpdk_netns as dn  # noqa: E402
import vox  # noqa: E402
import webrtc  # noqa: E402
from webrtc import BROWSER_SIDE, WEBRTC_SIDE  # noqa: E402

PEER_IP, MOVED_IP = dn.PEER_IP, "10.77.0.3"
BROWSER_HZ, TRUNK_HZ = 440.0, 1000.0
MEDIA_S = 3.0
CONNECT_S = 10.0
MOVE_S = 6.0
CASE_S = 40          # asyncio.wait_for per case
IDLE_SLEEP_US = 100  # the DPDK worker naps when idle: aiortc needs the CPU
WATCHDOG_S = 115     # the whole run (brief: < 120 s)
ANSWER_TO_BROWSER = {"flags": ["trust-address"], "replace": ["origin", "session-connection"],
                     "ICE": "force"}
ANSWER_TO_TRUNK = BROWSER_SIDE
ARGS = None


def parse_args():
    ap = dn.topology_args(__doc__.split("\n")[0], load=False)
    ap.add_argument("--only", action="append", default=[],
                    help="run only the cases whose name contains this (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print SDPs and NG replies")
    args = ap.parse_args()
    args.workers = 1
    if args.backend == "dpdk":
        args.relay_arg = [f"--dpdk-idle-sleep-us={IDLE_SLEEP_US}", *args.relay_arg]
    return args


class Call:
    """One call: aiortc (tag `browser`) and a plain peer (tag `trunk`), both on
    10.77.0.2 in P (the caller's thread is in P)."""

    n = 0

    def __init__(self, ng: vox.NgClient):
        Call.n += 1
        self.ngc = ng
        self.cid = f"dpdk-webrtc-{Call.n}-{os.getpid()}"
        self.pc = webrtc.peer_connection_at(PEER_IP)
        self.plain = webrtc.PlainPeerAt(PEER_IP, TRUNK_HZ)
        self.sink = None
        self.to_browser = self.to_trunk = ""
        self.track = webrtc.ToneTrack(BROWSER_HZ)

        @self.pc.on("track")
        def on_track(track):
            self.sink = webrtc.TrackSink(track)

    def ng(self, cmd: str, sdp: str, keys: dict, tags: tuple) -> str:
        msg = {"command": cmd, "call-id": self.cid, "from-tag": tags[0], "sdp": sdp, **keys}
        if len(tags) > 1:
            msg["to-tag"] = tags[1]
        r = vox.ng_ok(self.ngc, msg)
        if ARGS.verbose:
            print(f"--- NG {cmd}:\n{sdp}\n--- reply:\n{r.get('sdp', r)}", flush=True)
        return r["sdp"]

    def dtls_state(self) -> str:
        t = self.pc.getTransceivers()[0].sender.transport
        return t.state if t else "none"

    def ice(self):
        return self.pc.getTransceivers()[0].sender.transport.transport._connection

    async def connected(self, timeout: float = CONNECT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.dtls_state() == "connected" and \
                    self.pc.iceConnectionState in ("connected", "completed"):
                return
            if self.dtls_state() == "failed" or self.pc.iceConnectionState == "failed":
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"aiortc not connected within {timeout} s: ICE "
                             f"{self.pc.iceConnectionState}, DTLS {self.dtls_state()}; "
                             f"{slow_path_diag(self.ngc)}")

    async def audio_both_ways(self, what: str, seconds: float = MEDIA_S) -> None:
        t0 = time.monotonic()
        frames0 = self.sink.frames() if self.sink else 0
        await asyncio.sleep(seconds)
        pcm = self.plain.decoded(t0 + 0.5)
        up = webrtc.assert_tone(pcm, 8000, BROWSER_HZ,
                                f"{what}: plain peer decoding aiortc's audio")
        assert self.sink is not None, f"{what}: aiortc got no remote track"
        got = self.sink.frames() - frames0
        assert got >= seconds * 25, f"{what}: aiortc got only {got} audio frames in {seconds} s"
        down = webrtc.assert_tone(self.sink.samples(since=(t0 - self.sink.chunks[0][0]) + 0.5),
                                  self.sink.rate, TRUNK_HZ,
                                  f"{what}: aiortc decoding the plain peer")
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
            self.ngc.call({"command": "delete", "call-id": self.cid, "delete delay": 0})
        except vox.NgTimeout:
            pass


def slow_path_diag(ng: vox.NgClient) -> str:
    """The relay's slow-path and backend counters (for failures)."""
    try:
        st = vox.ng_statistics(ng)
    except Exception as e:  # diagnostics only
        return f"(statistics failed: {e})"
    tot = st.get("totalstatistics", {})
    slow_in, slow_out = slow_path_counts(st)
    keys = ("packets received", "packets relayed")
    drops = {k: v for k, v in tot.get("drops", {}).items() if v}
    b = st.get("backend", {})
    return (f"relay: slow path in {slow_in}, out {slow_out}, "
            f"{', '.join(f'{k} {tot.get(k)}' for k in keys)}, drops {drops or 'none'}, backend "
            f"{ {k: v for k, v in b.items() if v} }")


def slow_path_counts(st: dict) -> tuple:
    """(slow path in, slow path out) summed over the workers of a statistics reply."""
    ws = st.get("workers", [])
    return (sum(int(w.get("slow path in", 0)) for w in ws),
            sum(int(w.get("slow path out", 0)) for w in ws))


def check_slow_path(ng: vox.NgClient, before: tuple, backend: str) -> None:
    """STUN and DTLS reached the handshake thread through the worker's slow
    path, and its answers went out through the worker (DPDK: the TX queue)."""
    st = vox.ng_statistics(ng)
    now = slow_path_counts(st)
    d_in, d_out = now[0] - before[0], now[1] - before[1]
    assert d_in > 0 and d_out > 0, (f"slow path in +{d_in}, out +{d_out} during the cases: "
                                    f"{slow_path_diag(ng)}")
    print(f"      slow path: +{d_in} packets to the handshake thread, +{d_out} replies sent "
          f"({backend}); backend frames rx {st.get('backend', {}).get('frames rx', '-')}",
          flush=True)


# --------------------------------------------------------------------------
# call setup (as test_aiortc.py, on PEER_IP)


async def browser_to_trunk(c: Call, codec: str, transcode: bool = False, mangle=None) -> None:
    from aiortc import RTCSessionDescription
    tr = c.pc.addTransceiver(c.track, direction="sendrecv")
    webrtc.prefer_codec(tr, f"audio/{codec}")
    await c.pc.setLocalDescription(await c.pc.createOffer())
    offer = c.pc.localDescription.sdp
    assert f"IN IP4 {PEER_IP}" in offer, f"aiortc's offer does not name {PEER_IP}:\n{offer}"
    keys = dict(BROWSER_SIDE, codec={"transcode": ["PCMU"]}) if transcode else BROWSER_SIDE
    to_trunk = c.ng("offer", mangle(offer) if mangle else offer, keys, ("browser",))
    m = vox.parse_sdp(to_trunk).media[0]
    assert m.proto == "RTP/AVP", f"offer to trunk: m= proto {m.proto!r}, expected RTP/AVP"
    assert not m.has("candidate") and not m.has("fingerprint"), \
        f"offer to trunk still carries ICE/DTLS attributes:\n{to_trunk}"
    assert webrtc.media_target(to_trunk)[0] == dn.RELAY_IP, f"offer to trunk:\n{to_trunk}"
    to_browser = c.ng("answer", c.plain.sdp(("PCMU",)), ANSWER_TO_BROWSER, ("browser", "trunk"))
    a = vox.parse_sdp(to_browser).media[0]
    assert a.proto == "UDP/TLS/RTP/SAVPF", f"answer to aiortc: m= proto {a.proto!r}"
    assert a.has("fingerprint") and a.has("ice-ufrag") and a.has("candidate"), \
        f"answer to aiortc lacks fingerprint/ICE:\n{to_browser}"
    assert any(dn.RELAY_IP in v for v in a.attr("candidate")), \
        f"answer to aiortc: no candidate on {dn.RELAY_IP}: {a.attr('candidate')}"
    want = "opus/48000" if transcode else "PCMU/8000"
    assert any(want in v for v in a.attr("rtpmap")), f"answer to aiortc lacks {want}"
    await c.pc.setRemoteDescription(RTCSessionDescription(webrtc.for_aiortc(to_browser), "answer"))
    c.plain.start(webrtc.media_target(to_trunk))
    c.to_browser, c.to_trunk = to_browser, to_trunk


async def trunk_to_browser(c: Call) -> None:
    from aiortc import RTCSessionDescription
    to_browser = c.ng("offer", c.plain.sdp(("PCMU", "PCMA", "telephone-event")), WEBRTC_SIDE,
                      ("trunk",))
    m = vox.parse_sdp(to_browser).media[0]
    assert m.proto == "UDP/TLS/RTP/SAVPF", f"offer to aiortc: m= proto {m.proto!r}"
    for attr in ("fingerprint", "ice-ufrag", "ice-pwd", "candidate", "mid", "rtcp-mux", "setup"):
        assert m.has(attr), f"offer to aiortc lacks a={attr}:\n{to_browser}"
    assert not m.has("crypto"), "offer to aiortc has SDES a=crypto despite SDES-off"
    await c.pc.setRemoteDescription(RTCSessionDescription(webrtc.for_aiortc(to_browser), "offer"))
    c.pc.addTrack(c.track)
    await c.pc.setLocalDescription(await c.pc.createAnswer())
    to_trunk = c.ng("answer", c.pc.localDescription.sdp, ANSWER_TO_TRUNK, ("trunk", "browser"))
    t = vox.parse_sdp(to_trunk).media[0]
    assert t.proto == "RTP/AVP" and not t.has("candidate"), f"answer to trunk:\n{to_trunk}"
    c.plain.start(webrtc.media_target(to_trunk))
    c.to_browser, c.to_trunk = to_browser, to_trunk


# --------------------------------------------------------------------------
# cases


async def case_a(ng, codec: str, transcode: bool) -> None:
    c = Call(ng)
    try:
        await browser_to_trunk(c, codec, transcode)
        await c.connected()
        await c.audio_both_ways(f"browser->trunk {codec}")
    finally:
        await c.close()


async def case_b(ng) -> None:
    c = Call(ng)
    try:
        await trunk_to_browser(c)
        await c.connected()
        await c.audio_both_ways("trunk->browser")
    finally:
        await c.close()


async def case_fingerprint(ng) -> None:
    c = Call(ng)
    try:
        await browser_to_trunk(c, "PCMU", mangle=webrtc.mangle_fingerprint)
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


async def case_forged_stun(ng) -> None:
    c = Call(ng)
    forger = vox.UdpPeer(PEER_IP)
    try:
        await browser_to_trunk(c, "PCMU")
        await c.connected()
        relay_ufrag = webrtc.sdp_attr(c.to_browser, "ice-ufrag")[0]
        relay_port = webrtc.media_target(c.to_browser)
        user = f"{relay_ufrag}:{c.ice().local_username}"
        for _ in range(5):
            forger.sendto(webrtc.stun_binding_request(user, "not-the-password", controlling=True,
                                                      use_candidate=True), relay_port)
            await asyncio.sleep(0.05)
        await c.audio_both_ways("after forged STUN")
        got = forger.recv_for(0.2)
        bad = [(d[:4].hex(), webrtc.stun_parse(d)) for d, _ in got
               if (webrtc.stun_parse(d) or (0,))[0] != 3]
        assert not bad, f"the forger received {len(bad)} packets that are not STUN errors: {bad[:5]}"
        print(f"      forger got {len(got)} packets, all STUN error responses", flush=True)
    finally:
        forger.close()
        await c.close()


async def case_new_address(ng, topo: dn.Topology) -> None:
    c = Call(ng)
    try:
        await browser_to_trunk(c, "PCMU")
        await c.connected()
        await c.audio_both_ways("before the move", 1.5)
        moved = await webrtc.move_socket(c.ice(), MOVED_IP)
        await webrtc.nominate_again(c.ice())
        while not moved.new and time.monotonic() < moved.t0 + MOVE_S:
            await asyncio.sleep(0.05)
        assert moved.new, (f"the relay sent nothing to aiortc's new address {moved.addr} within "
                           f"{MOVE_S} s ({len(moved.old)} packets still to the old one); "
                           f"{slow_path_diag(ng)}")
        print(f"      relay followed to {moved.addr[0]}:{moved.addr[1]} after "
              f"{moved.new[0] - moved.t0:.2f} s", flush=True)
        await asyncio.sleep(0.2)
        switched = time.monotonic()
        await c.audio_both_ways("after the move")
        stale = [t for t in moved.old if t > switched]
        assert not stale, f"after the move the relay still sent {len(stale)} packets to the old address"
    finally:
        await c.close()


def in_p(topo: dn.Topology, fn, *args):
    """Runs the case's coroutine with this thread inside P."""
    def run():
        with topo.p.entered():
            asyncio.run(asyncio.wait_for(fn(*args), CASE_S))
    return run


def main() -> int:
    global ARGS
    ARGS = args = parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    build_dir = Path(args.build_dir).resolve()
    early = dn.preflight(build_dir, args.backend, ("voxrelay",))
    if early is not None:
        return early
    try:
        import aiortc  # noqa: F401
    except ImportError as e:
        print(f"FAIL: aiortc missing ({e}): run with /usr/bin/python3 (python3-aiortc)")
        return 1
    runner = vox.CaseRunner(f"test_dpdk_aiortc (--backend {args.backend})")
    topo = dn.Topology(args.backend, args.keep_offloads)

    def cases(_relay, ng):
        # the address the d-new-address case moves aiortc's socket to
        topo.p.ip("addr", "add", f"{MOVED_IP}/24", "dev", dn.MEDIA_P)
        b = args.backend
        slow_before = slow_path_counts(vox.ng_statistics(ng))
        for name, label, fn, extra in (
                ("a-pcmu", "browser->trunk PCMU, audio both ways", case_a, ("PCMU", False)),
                ("a-opus", "browser->trunk Opus transcoded to PCMU, audio both ways", case_a,
                 ("opus", True)),
                ("b-trunk", "trunk->browser, audio both ways", case_b, ()),
                ("c-fingerprint", "wrong fingerprint: DTLS fails, no media", case_fingerprint, ()),
                ("c-forged-stun", "forged STUN check moves nothing", case_forged_stun, ()),
                ("d-new-address", f"aiortc moves to {MOVED_IP}: the relay follows",
                 case_new_address, (topo,))):
            if args.only and not any(o in name for o in args.only):
                continue
            runner.run(f"{b}: {name}: {label}", in_p(topo, fn, ng, *extra))
        runner.run(f"{b}: STUN/DTLS went through the workers' slow path both ways",
                   check_slow_path, ng, slow_before, b)

    return dn.run_cases(runner, topo, args, build_dir, cases,
                        "media + management veths, addresses", watchdog_s=WATCHDOG_S)


if __name__ == "__main__":
    sys.exit(main())
