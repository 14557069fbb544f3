"""Helpers for the WebRTC interop tests (tests/webrtc/): aiortc on loopback,
known audio signals in and out, a plain G.711 RTP peer, hand-made STUN, the
NG flags a Kamailio rtpengine module sends for WebRTC, SDP mangling.

Needs Debian's python3-aiortc (1.4), python3-av and python3-numpy: run with
/usr/bin/python3.

Import from a test with::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    import webrtc

Contents
--------
- ``relay_args()``: the ``--relay voxrelay|rtpengine``, ``--build-dir`` and
  ``--long`` options every WebRTC test takes; ``start_relay(args)`` starts it.
- NG flag sets: ``BROWSER_SIDE`` (what Kamailio sends when the SDP goes
  toward a plain RTP peer: ``trust-address replace-origin
  replace-session-connection ICE=remove RTP/AVP rtcp-mux-demux``) and
  ``WEBRTC_SIDE`` (toward a browser: ``ICE=force UDP/TLS/RTP/SAVPF
  rtcp-mux-offer generate-mid SDES-off``).
- ``loopback_only()``: makes aioice gather 127.0.0.1 (it skips loopback by
  default) and nothing else; ``peer_connection()``: an RTCPeerConnection
  without STUN servers.
- ``ToneTrack``: an aiortc audio track of a sine at 48 kHz, paced in real
  time; ``TrackSink``: reads a remote track into mono samples.
- ``PlainPeer``: the SIP trunk's media: a UDP socket that sends PCMU (20 ms,
  a sine) to the relay from a thread and records every datagram it gets;
  ``DtmfPlainPeer`` also sends RFC 4733 digits (``send_dtmf("15#")``);
  ``dtmf_events(pkts)`` groups received telephone-event packets into events;
  ``rtpmaps(media)``, ``pt_of(media, "telephone-event/8000")``.
- ``tone_check(samples, rate, freq)``: dominant frequency (numpy FFT), RMS,
  purity; ``assert_tone``.
- STUN: ``stun_binding_request(username, password, ...)`` with
  MESSAGE-INTEGRITY (or a deliberately wrong one) and FINGERPRINT;
  ``stun_parse(data)`` -> (class, method, txid) or None.
- aioice surgery for the mid-call cases: ``nominate_again(ice)`` (a fresh
  nominating check with the agent's current credentials), ``move_socket(ice,
  host)`` (the selected socket moves to another address).
- SDP: ``sdp_attr``, ``sdp_replace_attr``, ``mangle_fingerprint``,
  ``bump_origin_version``, ``for_aiortc`` (what aiortc 1.4's parser needs),
  ``media_target(sdp)`` (the address the SDP's first audio m= names).
- ``whole_test_limit(s)``: SIGALRM raises ``Deadline`` so cleanup still runs.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import hashlib
import hmac
import os
import re
import socket
import struct
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rtpaudio  # noqa: E402
import vox  # noqa: E402

LOCAL = "127.0.0.1"
PORT_MIN, PORT_MAX = 43000, 43999

# NG dictionaries for the two directions (Kamailio's rtpengine module turns
# its flag string into exactly these keys).
BROWSER_SIDE = {  # the SDP goes toward a plain RTP/AVP peer
    "flags": ["trust-address"],
    "replace": ["origin", "session-connection"],
    "ICE": "remove",
    "transport protocol": "RTP/AVP",
    "rtcp-mux": ["demux"],
}
WEBRTC_SIDE = {  # the SDP goes toward a browser
    "ICE": "force",
    "transport protocol": "UDP/TLS/RTP/SAVPF",
    "rtcp-mux": ["offer"],
    "flags": ["generate-mid"],
    "SDES": ["off"],
}


# --------------------------------------------------------------------------
# arguments and relay


def relay_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--relay", choices=("voxrelay", "rtpengine"), default="voxrelay")
    ap.add_argument("--build-dir", default=os.environ.get("VOX_BUILD_DIR",
                                                         str(vox.REPO_ROOT / "build")))
    ap.add_argument("--long", action="store_true",
                    help="also run the cases that take more than 30 s (consent expiry)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only the cases whose name contains this (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print SDPs and NG replies")
    return ap.parse_args()


def start_relay(args) -> vox.Relay:
    """The relay under test on 127.0.0.1 (NG on a free port), not yet started:
    use as a context manager."""
    extra = []
    if args.relay == "rtpengine":
        # not Debian's /etc/rtpengine/rtpengine.conf: its fixed CLI and HTTP
        # ports (2224, 2225) would clash with another rtpengine running
        extra = ["--config-file=none"]
        extra += ["--log-level=7"] if os.environ.get("VOX_RELAY_DEBUG") else []
    return vox.Relay(Path(args.build_dir).resolve(), impl=args.relay,
                     port_min=PORT_MIN, port_max=PORT_MAX, extra_args=extra)


def ng(relay: vox.Relay, msg: dict, verbose: bool = False) -> dict:
    r = vox.ng_ok(relay.ng, msg)
    if verbose:
        print(f"--- NG {msg['command']} -> {msg.get('sdp', '')}\n--- reply:\n{r.get('sdp', r)}",
              flush=True)
    return r


def with_flags(base: dict, extra_flags=(), **keys) -> dict:
    """A copy of an NG flag set with more ``flags`` entries and other keys."""
    d = {k: (list(v) if isinstance(v, list) else v) for k, v in base.items()}
    if extra_flags:
        d["flags"] = d.get("flags", []) + list(extra_flags)
    d.update(keys)
    return d


# --------------------------------------------------------------------------
# aiortc on loopback


def loopback_only() -> None:
    """aioice skips 127.0.0.1 when it gathers host candidates; the tests keep
    all traffic on loopback, so gather that and nothing else."""
    import aioice.ice
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [LOCAL] if use_ipv4 else []


def peer_connection():
    from aiortc import RTCConfiguration, RTCPeerConnection
    loopback_only()
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no Google STUN


def prefer_codec(transceiver, mime: str) -> None:
    """Restrict an aiortc transceiver to one codec (e.g. "audio/PCMU")."""
    from aiortc import RTCRtpSender
    caps = RTCRtpSender.getCapabilities("audio").codecs
    transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() == mime.lower()])


class ToneTrack:
    """Factory for an aiortc audio track: a ``freq`` Hz sine at 48 kHz in 20 ms
    frames, paced in real time (aiortc pulls frames as fast as recv returns)."""

    def __new__(cls, freq: float, amplitude: float = 8000.0, rate: int = 48000):
        import av
        from aiortc.mediastreams import MediaStreamTrack

        class _Tone(MediaStreamTrack):
            kind = "audio"

            def __init__(self):
                super().__init__()
                self.n = 0
                self.t0: Optional[float] = None

            async def recv(self):
                step = rate // 50
                if self.t0 is None:
                    self.t0 = time.monotonic()
                wait = self.t0 + self.n / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                t = np.arange(self.n, self.n + step) / rate
                pcm = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
                frame.sample_rate = rate
                frame.pts = self.n
                frame.time_base = fractions.Fraction(1, rate)
                self.n += step
                return frame

        return _Tone()


class TrackSink:
    """Reads a remote aiortc audio track into mono int16 samples (``samples()``
    after ``since`` seconds from the first frame) until stopped."""

    def __init__(self, track):
        self.track = track
        self.chunks: list = []
        self.rate = 0
        self.first: Optional[float] = None
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        from aiortc.mediastreams import MediaStreamError
        while True:
            try:
                f = await self.track.recv()
            except MediaStreamError:
                return
            a = f.to_ndarray()
            ch = len(f.layout.channels)
            mono = a[0] if f.format.is_planar else a.reshape(-1)[::ch]
            self.rate = f.sample_rate
            if self.first is None:
                self.first = time.monotonic()
            self.chunks.append((time.monotonic(), mono.astype(np.int16)))

    def frames(self) -> int:
        return len(self.chunks)

    def samples(self, since: float = 0.0) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0, np.int16)
        t0 = self.chunks[0][0] + since
        return np.concatenate([c for t, c in self.chunks if t >= t0] or [np.zeros(0, np.int16)])

    def stop(self):
        self.task.cancel()


async def nominate_again(ice) -> None:
    """A nominating connectivity check (USE-CANDIDATE) on the selected pair
    of an aioice Connection with its current credentials: what a controlling
    browser sends after an ICE restart or from a new address."""
    pair = ice._nominated[1]
    req = ice.build_request(pair, nominate=True)
    await pair.protocol.request(req, pair.remote_addr,
                                integrity_key=ice.remote_password.encode())


class Moved:
    """What ``move_socket`` did: ``addr`` (the new local address), ``t0``
    (when), ``old``/``new`` (monotonic arrival times of non-STUN packets at
    the old and the new address since then)."""

    def __init__(self):
        self.addr, self.t0, self.old, self.new = None, time.monotonic(), [], []


async def move_socket(ice, host: str) -> Moved:
    """Move an aioice Connection's selected socket to ``host`` (new port):
    from now on it sends from there and only what arrives there reaches
    aiortc (what still arrives at the old address is counted and dropped)."""
    loop = asyncio.get_running_loop()
    proto = ice._nominated[1].protocol
    old = proto.transport
    moved = Moved()

    class Forward(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not stun_parse(data):
                moved.new.append(time.monotonic())
            proto.datagram_received(data, addr)

        def connection_lost(self, exc):  # aiortc closes: close the old one too
            old.close()
            proto.connection_lost(exc)

    class Count(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not stun_parse(data):
                moved.old.append(time.monotonic())

    new, _ = await loop.create_datagram_endpoint(Forward, local_addr=(host, 0))
    old.set_protocol(Count())
    proto.transport = new
    moved.addr = new.get_extra_info("sockname")[:2]
    return moved


# --------------------------------------------------------------------------
# the plain G.711 peer


class PlainPeer:
    """The trunk side: PCMU/8000 in 20 ms packets carrying a ``freq`` Hz sine,
    sent from a thread to ``start(dest)``; every datagram it receives is kept
    as (monotonic time, source, bytes). RTCP goes to the next port up, where
    a second socket swallows it."""

    def __init__(self, freq: float = 1000.0, amplitude: float = 8000.0):
        self.rtp, self.rtcp = vox.udp_peer_pair(LOCAL)
        self.port = self.rtp.port
        self.freq, self.amplitude = freq, amplitude
        self.received: list = []
        self.dest: Optional[tuple] = None
        self._stop = threading.Event()
        self.sent = 0
        self._rx = threading.Thread(target=self._receive, daemon=True)
        self._rx.start()
        self._tx: Optional[threading.Thread] = None

    def sdp(self, codecs=("PCMU",), session_id: int = 4711, version: int = 1) -> str:
        """An RTP/AVP offer or answer: PCMU (PT 0), optionally PCMA (8) and
        telephone-event (101)."""
        pts = {"PCMU": ("0", ["a=rtpmap:0 PCMU/8000"]),
               "PCMA": ("8", ["a=rtpmap:8 PCMA/8000"]),
               "telephone-event": ("101", ["a=rtpmap:101 telephone-event/8000",
                                           "a=fmtp:101 0-16"])}
        fmts = " ".join(pts[c][0] for c in codecs)
        attrs = [a for c in codecs for a in pts[c][1]] + ["a=ptime:20", "a=sendrecv"]
        return vox.make_sdp(LOCAL, [(f"m=audio {self.port} RTP/AVP {fmts}", attrs)],
                            session_id=session_id, version=version)

    def start(self, dest: tuple) -> None:
        self.dest = dest
        if self._tx is None:
            self._tx = threading.Thread(target=self._send, daemon=True)
            self._tx.start()

    def _send(self) -> None:
        ssrc, seq, n, t0 = 0x5EED1234, 1, 0, time.monotonic()
        while not self._stop.is_set():
            pcm = rtpaudio.tone(self.freq, 160, 8000, self.amplitude, n)
            self.rtp.sendto(vox.rtp_packet(seq, n, ssrc, rtpaudio.ulaw_encode(pcm), 0, seq == 1),
                            self.dest)
            self.sent += 1
            seq, n = seq + 1, n + 160
            wait = t0 + n / 8000 - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    def _receive(self) -> None:
        self.rtp.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data, src = self.rtp.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.received.append((time.monotonic(), src, data))

    def rtp_since(self, t: float = 0.0, pt: Optional[int] = None) -> list:
        out = []
        for ts, _, d in list(self.received):
            p = rtpaudio.parse_rtp(d)
            if ts >= t and p is not None and (pt is None or p.pt == pt):
                out.append(p)
        return out

    def decoded(self, since: float = 0.0) -> np.ndarray:
        """The PCMU received after ``since`` (monotonic), in sequence order, decoded."""
        pkts = sorted(self.rtp_since(since, 0), key=lambda p: p.seq)
        return np.array(rtpaudio.ulaw_decode(b"".join(p.payload for p in pkts)), np.int16)

    def close(self) -> None:
        self._stop.set()
        if self._tx:
            self._tx.join(1)
        self._rx.join(1)
        self.rtp.close()
        self.rtcp.close()


def rtpmaps(media) -> dict:
    """{payload type: "encoding/clock[/channels]"} of an SdpMediaInfo."""
    out = {}
    for v in media.attr("rtpmap"):
        pt, _, enc = v.partition(" ")
        out[int(pt)] = enc.strip()
    return out


def pt_of(media, encoding: str) -> list:
    """Payload types of an SdpMediaInfo whose rtpmap starts with ``encoding``
    (case-insensitive, e.g. "telephone-event/8000"), in m= line order."""
    maps = rtpmaps(media)
    return [int(f) for f in media.fmts if f.isdigit() and
            maps.get(int(f), "").lower().startswith(encoding.lower())]


DTMF_CODES = "0123456789*#ABCD"  # RFC 4733 §3.2 events 0-15


class DtmfPlainPeer(PlainPeer):
    """A PlainPeer that also sends RFC 4733 telephone-event/8000 (PT
    ``te_pt``) in its RTP stream (same SSRC and sequence space as the PCMU):
    ``send_dtmf("15#")`` plays the digits from the next 20 ms slot on, one
    every GAP slots: UPDATES packets with growing durations (the first with
    the marker bit), then ENDS end packets repeating the final duration, all
    with the event's start timestamp; the PCMU keeps flowing meanwhile.
    ``dtmf_sent``: (event code, final duration) per digit; ``dtmf_done``:
    monotonic time of the last end packet."""

    UPDATES, ENDS, GAP, VOLUME = 6, 3, 20, 10

    def __init__(self, freq: float = 1000.0, amplitude: float = 8000.0, te_pt: int = 101):
        self.te_pt = te_pt
        self.dtmf_sent: list = []
        self.dtmf_done: Optional[float] = None
        self._digits: Optional[str] = None
        self._lock = threading.Lock()
        super().__init__(freq, amplitude)

    def sdp(self, codecs=("PCMU",), session_id: int = 4711, version: int = 1) -> str:
        """As PlainPeer.sdp, but telephone-event gets ``te_pt``."""
        s = super().sdp(codecs, session_id, version)
        if self.te_pt != 101:
            s = re.sub(r"^(m=audio \S+ \S+ .*?)\b101\b", rf"\g<1>{self.te_pt}", s, flags=re.M)
            s = s.replace("a=rtpmap:101 ", f"a=rtpmap:{self.te_pt} ")
            s = s.replace("a=fmtp:101 ", f"a=fmtp:{self.te_pt} ")
        return s

    def send_dtmf(self, digits: str) -> None:
        with self._lock:
            self._digits = digits

    def _send(self) -> None:
        ssrc, seq, n, t0 = 0x5EED1234, 1, 0, time.monotonic()
        plan: dict = {}  # slot -> (code, end, duration, event ts, marker)
        slot = 0
        while not self._stop.is_set():
            with self._lock:
                digits, self._digits = self._digits, None
            if digits:
                for k, d in enumerate(digits):
                    code, start = DTMF_CODES.index(d.upper()), slot + k * self.GAP
                    ev_ts = n + (start - slot) * 160
                    for j in range(self.UPDATES):
                        plan[start + j] = (code, False, 160 * (j + 1), ev_ts, j == 0)
                    for j in range(self.ENDS):
                        plan[start + self.UPDATES + j] = (code, True, 160 * (self.UPDATES + 1),
                                                          ev_ts, False)
                    self.dtmf_sent.append((code, 160 * (self.UPDATES + 1)))
            pcm = rtpaudio.tone(self.freq, 160, 8000, self.amplitude, n)
            self.rtp.sendto(vox.rtp_packet(seq, n, ssrc, rtpaudio.ulaw_encode(pcm), 0, seq == 1),
                            self.dest)
            self.sent += 1
            seq += 1
            ev = plan.pop(slot, None)
            if ev:
                code, end, dur, ev_ts, marker = ev
                self.rtp.sendto(vox.rtp_packet(seq, ev_ts, ssrc, rtpaudio.telephone_event(
                    code, end, self.VOLUME, dur), self.te_pt, marker), self.dest)
                seq += 1
                if end and not plan:
                    self.dtmf_done = time.monotonic()
            slot, n = slot + 1, n + 160
            wait = t0 + n / 8000 - time.monotonic()
            if wait > 0:
                time.sleep(wait)


def dtmf_events(pkts: list) -> list:
    """RFC 4733 packets (rtpaudio.Rtp of one telephone-event PT, arrival
    order) grouped into events by RTP timestamp: dicts with ``digit``,
    ``code``, ``ts``, ``packets``, ``ends`` (end packets), ``duration`` (the
    largest), ``marker`` (the first packet's M bit), ``volume``,
    ``moved_ends`` (end packets repeating an ended event's code and duration,
    without marker, on another timestamp: counted as its retransmitted ends,
    which RFC 4733 §2.5.1.4 sends on the event's timestamp; rtpengine 10.5's
    transcoder moves them 20 ms on each)."""
    events: dict = {}
    last = None
    for p in pkts:
        te = rtpaudio.parse_telephone_event(p.payload)
        if te is None:
            continue
        code, end, volume, dur = te
        if last and p.ts != last["ts"] and end and not p.marker and last["ends"] and \
                code == last["code"] and dur == last["duration"]:
            last["moved_ends"] += 1
            last["ends"] += 1
            last["packets"] += 1
            continue
        digit = DTMF_CODES[code] if code < 16 else "?"
        e = last = events.setdefault(p.ts, {
            "code": code, "digit": digit, "ts": p.ts, "packets": 0, "ends": 0, "duration": 0,
            "marker": p.marker, "volume": volume, "moved_ends": 0})
        e["packets"] += 1
        e["ends"] += int(end)
        e["duration"] = max(e["duration"], dur)
    return list(events.values())


def describe_dtmf(events: list) -> str:
    return ", ".join(f"{e['digit']}(ev {e['code']}, {e['packets']} pkts, {e['ends']} ends"
                     + (f" ({e['moved_ends']} on another ts)" if e["moved_ends"] else "")
                     + f", dur {e['duration']}, M={int(e['marker'])})" for e in events) or "none"


# --------------------------------------------------------------------------
# signal analysis


def tone_check(samples, rate: int) -> dict:
    """Dominant frequency (Hann-windowed FFT, parabolic peak), RMS, and the
    share of the power within ±3 % of the peak ("purity")."""
    x = np.asarray(samples, np.float64)
    if len(x) < rate // 10:
        return {"freq": 0.0, "rms": 0.0, "purity": 0.0, "n": len(x)}
    x = x - x.mean()
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    spec[freqs < 50] = 0
    k = int(np.argmax(spec))
    f = float(freqs[k])
    band = (freqs > f * 0.97) & (freqs < f * 1.03)
    return {"freq": f, "rms": float(np.sqrt(np.mean(x * x))),
            "purity": float(spec[band].sum() / max(spec.sum(), 1e-9)), "n": len(x)}


def assert_tone(samples, rate: int, freq: float, what: str, min_rms: float = 500.0) -> dict:
    a = tone_check(samples, rate)
    ok = abs(a["freq"] - freq) <= max(10.0, freq * 0.02) and a["rms"] >= min_rms \
        and a["purity"] >= 0.5
    assert ok, (f"{what}: expected a {freq:.0f} Hz tone, got {a['n']} samples at {rate} Hz: "
                f"dominant {a['freq']:.1f} Hz, RMS {a['rms']:.0f}, purity {a['purity']:.2f}")
    return a


# --------------------------------------------------------------------------
# STUN (RFC 5389 / 8445), by hand

STUN_MAGIC = 0x2112A442
BINDING = 0x0001


def _attr(t: int, v: bytes) -> bytes:
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def stun_binding_request(username: str, password: str, controlling: bool = True,
                         use_candidate: bool = False, bad_integrity: bool = False,
                         txid: Optional[bytes] = None) -> bytes:
    """An ICE connectivity check: USERNAME, PRIORITY, ICE-CONTROLLING/-CONTROLLED
    (+ USE-CANDIDATE), MESSAGE-INTEGRITY (HMAC-SHA1 keyed with ``password``; one
    bit flipped when ``bad_integrity``), FINGERPRINT."""
    txid = txid or os.urandom(12)
    attrs = _attr(0x0006, username.encode())
    attrs += _attr(0x0024, struct.pack("!I", 0x6E7F1EFF))
    attrs += _attr(0x802A if controlling else 0x8029, os.urandom(8))
    if use_candidate:
        attrs += _attr(0x0025, b"")

    def header(extra: int) -> bytes:
        return struct.pack("!HHI", BINDING, len(attrs) + extra, STUN_MAGIC) + txid

    mac = bytearray(hmac.new(password.encode(), header(24) + attrs, hashlib.sha1).digest())
    if bad_integrity:
        mac[0] ^= 0x01
    attrs += _attr(0x0008, bytes(mac))
    crc = (zlib.crc32(header(8) + attrs) ^ 0x5354554E) & 0xFFFFFFFF
    attrs += _attr(0x8028, struct.pack("!I", crc))
    return header(0) + attrs


def stun_parse(data: bytes) -> Optional[tuple]:
    """(class 0..3: request/indication/success/error, method, txid) or None."""
    if len(data) < 20 or data[0] & 0xC0 or struct.unpack("!I", data[4:8])[0] != STUN_MAGIC:
        return None
    t = struct.unpack("!H", data[:2])[0]
    cls = ((t >> 4) & 1) | ((t >> 7) & 2)
    method = (t & 0xF) | ((t >> 1) & 0x70) | ((t >> 2) & 0xF80)
    return cls, method, data[8:20]


# --------------------------------------------------------------------------
# SDP


def sdp_attr(sdp: str, name: str) -> list:
    return re.findall(rf"^a={re.escape(name)}:(.*?)\r?$", sdp, re.M)


def sdp_replace_attr(sdp: str, name: str, value: str) -> str:
    return re.sub(rf"^a={re.escape(name)}:.*?(\r?)$", lambda m: f"a={name}:{value}{m.group(1)}",
                  sdp, flags=re.M)


def for_aiortc(sdp: str) -> str:
    """aiortc 1.4's SDP parser needs an address in a=rtcp (RFC 3605 makes it
    optional and rtpengine leaves it out): add the session's."""
    conn = vox.parse_sdp(sdp).conn or LOCAL
    return re.sub(r"^a=rtcp:(\d+)(\r?)$", lambda m: f"a=rtcp:{m.group(1)} IN IP4 {conn}{m.group(2)}",
                  sdp, flags=re.M)


def bump_origin_version(sdp: str) -> str:
    """o= session version + 1 (a re-offer)."""
    return re.sub(r"^(o=\S+ \S+ )(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) + 1}", sdp,
                  count=1, flags=re.M)


def mangle_fingerprint(sdp: str) -> str:
    """The same SDP with every a=fingerprint's last octet changed."""
    def flip(m):
        alg, fp = m.group(1), m.group(2)
        last = int(fp[-2:], 16) ^ 0x5A
        return f"a=fingerprint:{alg} {fp[:-2]}{last:02X}{m.group(3)}"
    out = re.sub(r"^a=fingerprint:(\S+) (\S+?)(\r?)$", flip, sdp, flags=re.M)
    assert out != sdp, "no a=fingerprint to mangle"
    return out


def media_target(sdp: str) -> tuple:
    """(address, port) of the first m=audio of an SDP (media c= else session c=)."""
    info = vox.parse_sdp(sdp)
    m = info.media[0]
    return (m.conn or info.conn, m.port)


class Deadline(BaseException):
    pass


def whole_test_limit(seconds: int) -> None:
    """SIGALRM after ``seconds``: raises Deadline in the main thread so that
    the relay and browsers are still cleaned up."""
    import signal

    def on_alarm(*_):
        raise Deadline(f"whole test exceeded {seconds} s")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)


# --------------------------------------------------------------------------
# aiortc and the plain peer on an address other than 127.0.0.1 (a network
# namespace's veth address: test_dpdk_aiortc.py; the SIP UAs of
# test_kamailio_webrtc.py). Call these with the calling thread already in the
# namespace that owns ``addr`` (netns.Netns.entered()): aioice and the
# sockets bind to ``addr`` there.


def host_only(addr: str = LOCAL) -> None:
    """Like ``loopback_only()`` for any IPv4 address: aioice gathers ``addr``
    and nothing else (one host candidate)."""
    import aioice.ice
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [addr] if use_ipv4 else []


def peer_connection_at(addr: str = LOCAL):
    """``peer_connection()`` whose only ICE candidate is ``addr``."""
    from aiortc import RTCConfiguration, RTCPeerConnection
    host_only(addr)
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


class PlainPeerAt(PlainPeer):
    """``PlainPeer`` with its RTP/RTCP sockets and SDP on ``addr``."""

    def __init__(self, addr: str, freq: float = 1000.0, amplitude: float = 8000.0):
        self.addr = addr
        self.rtp, self.rtcp = vox.udp_peer_pair(addr)
        self.port = self.rtp.port
        self.freq, self.amplitude = freq, amplitude
        self.received = []
        self.dest = None
        self._stop = threading.Event()
        self.sent = 0
        self._rx = threading.Thread(target=self._receive, daemon=True)
        self._rx.start()
        self._tx = None

    def sdp(self, codecs=("PCMU",), session_id: int = 4711, version: int = 1) -> str:
        text = super().sdp(codecs, session_id, version)
        return re.sub(rf"IN IP4 {re.escape(LOCAL)}(\r?)$", rf"IN IP4 {self.addr}\1", text,
                      flags=re.M)
