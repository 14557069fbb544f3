"""High-availability test helpers: a Redis server of the test's own, and a
set of calls with media checked end to end (stdlib + tests/lib only).

- ``check(ok, what, detail)``: one checked fact, printed ``ok``/``FAIL``.
- ``media_peer(host)``: a party's media socket with its RTCP port held.
- ``RedisServer(port, password, bind, prefix)``: Debian's ``redis-server``
  started for the test (no persistence), ``cli(...)`` runs ``redis-cli``
  against it, ``keys()`` lists voxrelay's call keys of a database,
  ``stop()``/``start()`` take it away and bring it back on the same port.
- ``CallSet(ng, host)``: calls set up through NG, of three kinds: ``plain``
  (RTP both ways), ``srtp`` (plain caller, SDES-SRTP callee: the relay
  encrypts toward the callee with the key it offered and decrypts what the
  callee protects with its own) and ``opus`` (PCMU caller, Opus callee: a
  transcoder each way). ``pump(seconds)`` sends one packet each way on
  every call every ``period`` and checks what arrives: plain and SRTP
  payloads must be exactly the packet the other party sent (call index and
  sequence number inside), decrypted with the party's own key where SRTP;
  transcoded audio is decoded and must carry the other party's tone (ten
  tones per direction, 100 Hz apart, by call index), so a packet of
  another call never passes for this one. ``mark()`` starts a new measurement: ``first_arrivals()`` then gives,
  per call and direction, when its first good packet came after the mark.
"""

from __future__ import annotations

import select
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import rtpaudio
import srtp
import vox

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
KEY_PREFIX = "voxrelay:call:"
SUITE = "AES_CM_128_HMAC_SHA1_80"


class RedisServer:
    def __init__(self, workdir: Path, port: int, password: str = "", bind: str = "127.0.0.1",
                 prefix: tuple = ()):
        self.workdir, self.port, self.password, self.bind = Path(workdir), port, password, bind
        self.prefix = list(prefix)  # e.g. ["ip", "netns", "exec", NAME]
        self.proc: Optional[subprocess.Popen] = None

    def target(self, db: int) -> str:
        """voxrelay's --redis value for database ``db``."""
        return f"{self.password + '@' if self.password else ''}{self.bind}:{self.port}/{db}"

    def start(self) -> "RedisServer":
        cmd = [*self.prefix, REDIS_SERVER, "--port", str(self.port), "--bind", self.bind,
               "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
               "--logfile", str(self.workdir / "redis.log")]
        if self.password:
            cmd += ["--requirepass", self.password]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited {self.proc.returncode}: "
                                   f"{vox.tail(self.workdir / 'redis.log')}")
            if self.cli("PING").strip() == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            vox.stop_process(self.proc, 5.0)
        self.proc = None

    def cli(self, *args, db: int = 0) -> str:
        cmd = [*self.prefix, REDIS_CLI, "-h", self.bind, "-p", str(self.port), "-n", str(db)]
        if self.password:
            cmd += ["--no-auth-warning", "-a", self.password]
        r = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=10)
        return r.stdout

    def keys(self, db: int) -> set:
        return {k for k in self.cli("--scan", "--pattern", KEY_PREFIX + "*", db=db).split() if k}

    def wait_keys(self, db: int, want: int, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        n = len(self.keys(db))
        while n != want and time.monotonic() < deadline:
            time.sleep(0.1)
            n = len(self.keys(db))
        return n


def check(ok: bool, what: str, detail: str = "") -> None:
    """One checked fact of a test, printed ok/FAIL; AssertionError when it fails."""
    print(("ok    " if ok else "FAIL  ") + what + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        raise AssertionError(what)


def _payload(index: int, seq: int, size: int = 160) -> bytes:
    return struct.pack("!IH", index, seq) + bytes([index & 0xFF]) * (size - 6)


def media_peer(host: str = "127.0.0.1") -> vox.UdpPeer:
    """A party's media socket whose RTCP port (its port + 1, which its SDP
    implies) is held by a second socket, ``rtcp_guard``: no other party's
    socket can sit there and take RTCP meant for this one (the relay's own
    reports toward a transcoded call's party, every --rtcp-interval, would
    otherwise reach whichever test socket the kernel happened to bind at
    that port, as a packet of another call)."""
    for _ in range(100):
        peer = vox.UdpPeer(host)
        try:
            peer.rtcp_guard = vox.UdpPeer(host, peer.port + 1)
            return peer
        except (OSError, OverflowError):
            peer.sock.close()
    raise RuntimeError(f"no port pair free on {host}")


@dataclass
class Direction:
    """What arrived one way on one call since the last mark."""
    good: int = 0
    bad: int = 0
    first_at: Optional[float] = None
    samples: list = field(default_factory=list)  # decoded audio (transcoded calls)


@dataclass
class MediaCall:
    index: int
    kind: str
    call_id: str
    a: vox.UdpPeer
    b: vox.UdpPeer
    to_a: int = 0  # the relay port A sends to
    to_b: int = 0
    relay: str = ""  # the relay's media address (from its SDPs)
    seq: int = 0
    opus_pt: int = 0
    b_protect: Optional[srtp.Session] = None    # the callee's own key
    b_unprotect: Optional[srtp.Session] = None  # the key the relay offered the callee
    enc: object = None
    dec: object = None
    ab: Direction = field(default_factory=Direction)
    ba: Direction = field(default_factory=Direction)

    @property
    def tone_a(self) -> float:  # the caller's tone, Hz: 10 tones 100 Hz apart
        return 300.0 + 100 * (self.index % 10)

    @property
    def tone_b(self) -> float:
        return 1500.0 + 100 * (self.index % 10)


class CallSet:
    def __init__(self, ng: vox.NgClient, host: str = "127.0.0.1", prefix: str = "ha"):
        self.ng, self.host, self.prefix = ng, host, prefix
        self.calls: list = []
        self.mark_at = time.monotonic()
        self._fds: dict = {}
        self._poll = select.epoll()

    # ---- set-up ----------------------------------------------------------------
    def add(self, kind: str, peers: Optional[tuple] = None, first_seq: int = 0) -> MediaCall:
        """One call of ``kind``; ``peers`` (a, b) are UdpPeers already bound
        (in a namespace, say); else they are made here on ``host``. Both
        parties' RTP sequence numbers start after ``first_seq`` (near 65535:
        the streams wrap soon, SRTP's rollover counter moves to 1)."""
        i = len(self.calls)
        a, b = peers or (media_peer(self.host), media_peer(self.host))
        c = MediaCall(i, kind, f"{self.prefix}-{kind}-{i}", a, b, seq=first_seq)
        getattr(self, "_setup_" + kind)(c)
        self.calls.append(c)
        self._fds[a.fileno()] = (c, "ba")
        self._fds[b.fileno()] = (c, "ab")
        self._poll.register(a.fileno(), select.EPOLLIN)
        self._poll.register(b.fileno(), select.EPOLLIN)
        return c

    def _signal(self, c: MediaCall, offer: dict, answer_sdp: str) -> tuple:
        o = vox.ng_ok(self.ng, {"command": "offer", "call-id": c.call_id, "from-tag": "A", **offer})
        r = vox.ng_ok(self.ng, {"command": "answer", "call-id": c.call_id, "from-tag": "A",
                                "to-tag": "B", "sdp": answer_sdp(o["sdp"])})
        c.to_a = vox.parse_sdp(r["sdp"]).media[0].port
        c.to_b = vox.parse_sdp(o["sdp"]).media[0].port
        c.relay = vox.parse_sdp(o["sdp"]).media[0].conn
        return o, r

    def _setup_plain(self, c: MediaCall) -> None:
        self._signal(c, {"sdp": vox.make_sdp(self.host, [c.a.port])},
                     lambda _o: vox.make_sdp(self.host, [c.b.port]))

    def _setup_srtp(self, c: MediaCall) -> None:
        own = bytes((c.index * 7 + k) & 0xFF for k in range(30))

        def answer(offer_sdp: str) -> str:
            line = next(v for v in vox.parse_sdp(offer_sdp).media[0].attrs
                        if v.startswith("crypto:") and SUITE in v)
            tag, _suite, relay_key = srtp.parse_crypto(line[len("crypto:"):])
            c.b_unprotect = srtp.Session(SUITE, relay_key, outbound=False)
            c.b_protect = srtp.Session(SUITE, own, outbound=True)
            return vox.make_sdp(self.host, [vox.audio_media(
                c.b.port, [srtp.crypto_line(tag, SUITE, own)], proto="RTP/SAVP")])

        self._signal(c, {"sdp": vox.make_sdp(self.host, [c.a.port]),
                         "transport protocol": "RTP/SAVP"}, answer)

    def _setup_opus(self, c: MediaCall) -> None:
        c.enc = rtpaudio.Opus.encoder(48000, 1)
        c.dec = rtpaudio.Opus.decoder(48000, 1)

        def answer(offer_sdp: str) -> str:
            pt = next(int(v.split()[0][len("rtpmap:"):]) for v in vox.parse_sdp(offer_sdp).media[0].attrs
                      if v.startswith("rtpmap:") and "opus/48000" in v)
            c.opus_pt = pt
            return vox.make_sdp(self.host, [(f"m=audio {c.b.port} RTP/AVP {pt}",
                                             [f"a=rtpmap:{pt} opus/48000/2"])])

        self._signal(c, {"sdp": vox.make_sdp(self.host, [c.a.port]),
                         "codec": {"transcode": ["opus"]}}, answer)

    # ---- media -------------------------------------------------------------------
    def mark(self) -> None:
        self.mark_at = time.monotonic()
        for c in self.calls:
            c.ab, c.ba = Direction(), Direction()

    def _send(self, c: MediaCall) -> None:
        c.seq += 1
        s, ts = c.seq & 0xFFFF, c.seq * 160
        if c.kind == "opus":
            tone_a = rtpaudio.tone(c.tone_a, 160, start=c.seq * 160)
            c.a.sendto(vox.rtp_packet(s, ts, 0xA0000 + c.index, rtpaudio.ulaw_encode(tone_a)),
                       (c.relay, c.to_a))
            tone_b = rtpaudio.tone(c.tone_b, 960, rate=48000, start=c.seq * 960)
            c.b.sendto(vox.rtp_packet(s, c.seq * 960, 0xB0000 + c.index, c.enc.encode(tone_b),
                                      pt=c.opus_pt), (c.relay, c.to_b))
            return
        c.a.sendto(vox.rtp_packet(s, ts, 0xA0000 + c.index, _payload(c.index, s)), (c.relay, c.to_a))
        pkt = vox.rtp_packet(s, ts, 0xB0000 + c.index, _payload(c.index, s))
        if c.kind == "srtp":
            pkt = c.b_protect.protect(pkt)
        c.b.sendto(pkt, (c.relay, c.to_b))

    def _receive(self, c: MediaCall, way: str, data: bytes, at: float) -> None:
        d: Direction = getattr(c, way)
        try:
            if c.kind == "srtp" and way == "ab":
                data = c.b_unprotect.unprotect(data)
            rtp = rtpaudio.parse_rtp(data)
            if rtp is None:
                raise ValueError("not RTP")
            if c.kind == "opus":
                if way == "ab":
                    d.samples += c.dec.decode(rtp.payload)
                else:
                    d.samples += rtpaudio.ulaw_decode(rtp.payload)
            elif rtp.payload != _payload(c.index, rtp.seq):
                raise ValueError("another payload")
        except (ValueError, srtp.SrtpError, rtpaudio.OpusError):
            d.bad += 1
            return
        d.good += 1
        if d.first_at is None:
            d.first_at = at

    def pump(self, seconds: float, period: float = 0.02) -> None:
        end = time.monotonic() + seconds
        next_round = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_round:
                if now >= end:
                    break
                for c in self.calls:
                    self._send(c)
                next_round += period
            for fd, _ev in self._poll.poll(max(0.0, min(next_round, end) - time.monotonic())):
                c, way = self._fds[fd]
                peer = c.b if way == "ab" else c.a
                while True:
                    try:
                        data = peer.sock.recv(65535, 0x40)  # MSG_DONTWAIT
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    self._receive(c, way, data, time.monotonic())
        self.drain(0.2)

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for fd, _ev in self._poll.poll(max(0.0, end - time.monotonic())):
                c, way = self._fds[fd]
                peer = c.b if way == "ab" else c.a
                while True:
                    try:
                        data = peer.sock.recv(65535, 0x40)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    self._receive(c, way, data, time.monotonic())

    # ---- checks -------------------------------------------------------------------
    def first_arrivals(self) -> list:
        """Seconds from the mark to each direction's first good packet (None: none)."""
        out = []
        for c in self.calls:
            for d in (c.ab, c.ba):
                out.append(None if d.first_at is None else d.first_at - self.mark_at)
        return out

    def problems(self, min_good: int, tones: bool = True) -> list:
        """What is wrong with the media since the mark: a direction with
        fewer than ``min_good`` good packets, any bad packet, transcoded
        audio that is not the other party's tone (``tones``: that check,
        a few ms of CPU per transcoded call, is made)."""
        out = []
        for c in self.calls:
            for way, d in (("A->B", c.ab), ("B->A", c.ba)):
                if d.good < min_good or d.bad:
                    out.append(f"{c.call_id} {way}: {d.good} good, {d.bad} bad packets")
                if tones and c.kind == "opus" and d.samples:
                    rate = 48000 if way == "A->B" else 8000
                    want = c.tone_a if way == "A->B" else c.tone_b
                    # 100 ms: a main lobe wider than dominant_frequency's 50 Hz scan step
                    got = rtpaudio.dominant_frequency(d.samples[-rate // 10:], rate=rate, hi=3000)
                    if abs(got - want) > 45:
                        out.append(f"{c.call_id} {way}: tone {got:.0f} Hz, sent {want:.0f} Hz")
        return out

    def close(self) -> None:
        for c in self.calls:
            c.a.close()
            c.b.close()
        self._poll.close()
