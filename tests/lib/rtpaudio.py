"""Audio helpers for voxrelay's transcoding tests (stdlib only + libopus via ctypes).

Import from a test with::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    import rtpaudio

Contents
--------
- ``ulaw_encode(samples) -> bytes`` / ``ulaw_decode(data) -> list``: ITU-T
  G.711 µ-law (the classic Sun/CCITT reference algorithm: bias 0x84, clip
  32635, bits inverted on the wire).
- ``tone(freq, n, rate, amplitude, start)``: n samples of a sine (int16
  values), ``start`` = index of the first sample (phase continues across calls).
- ``goertzel_power(samples, freq, rate)``, ``dominant_frequency(samples, rate)``
  (coarse Goertzel scan, then a fine one around the peak), ``rms(samples)``,
  ``tone_analysis(samples, rate)`` -> dict with dominant Hz, RMS, and the share
  of the signal's power at the dominant frequency ("purity").
- ``Opus``: libopus through ctypes (``libopus.so.0``): ``Opus.available()``,
  ``Opus.encoder(rate, channels, application)`` -> ``OpusEnc`` (``encode(pcm)``),
  ``Opus.decoder(rate, channels)`` -> ``OpusDec`` (``decode(data, max_samples)``).
- RTP: ``parse_rtp(data) -> Rtp`` (header fields and payload, CSRC/extension/
  padding handled); RFC 4733: ``telephone_event(event, end, volume, duration)``
  payload and ``parse_telephone_event(payload) -> (event, end, volume, duration)``.
- RTCP: ``rtcp_rr_report(sender_ssrc, source_ssrc, fraction_lost)``: an RR with
  one report block; ``opus_has_lbrr(packet)``: whether an Opus packet carries
  in-band FEC (SILK LBRR).
- ``percentile(values, p)``: nearest-rank percentile.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import struct
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

__all__ = ["ulaw_encode", "ulaw_decode", "alaw_encode", "alaw_decode", "tone", "goertzel_power", "dominant_frequency", "rms",
           "tone_analysis", "Opus", "OpusEnc", "OpusDec", "OpusError", "Rtp", "parse_rtp",
           "telephone_event", "parse_telephone_event", "rtcp_rr_report", "opus_has_lbrr",
           "percentile",
           "OPUS_APPLICATION_VOIP"]

# --------------------------------------------------------------------------
# G.711 µ-law

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def _lin2ulaw(s: int) -> int:
    if s < 0:
        sign, s = 0x80, -s
    else:
        sign = 0
    if s > _ULAW_CLIP:
        s = _ULAW_CLIP
    s += _ULAW_BIAS                       # 0x84 .. 0x7FFF
    exponent = (s >> 7).bit_length() - 1  # segment 0..7
    mantissa = (s >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _ulaw2lin(u: int) -> int:
    u = ~u & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    s = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return -s if u & 0x80 else s


_ULAW_DECODE = [_ulaw2lin(u) for u in range(256)]


def ulaw_encode(samples: Iterable[int]) -> bytes:
    return bytes(_lin2ulaw(int(s)) for s in samples)


def ulaw_decode(data: bytes) -> list:
    return [_ULAW_DECODE[b] for b in data]


# --------------------------------------------------------------------------
# G.711 A-law (ITU-T G.711: 13-bit magnitude, segments, even bits inverted)


def _lin2alaw(s: int) -> int:
    s >>= 3  # 16-bit to 13-bit
    if s >= 0:
        sign = 0x80
    else:
        sign, s = 0, -s - 1
    s = min(s, 0xFFF)
    if s < 32:
        code = s >> 1
    else:
        exponent = s.bit_length() - 5  # segment 1..7
        code = (exponent << 4) | ((s >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def _alaw2lin(a: int) -> int:
    a ^= 0x55
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    s = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return s if a & 0x80 else -s


_ALAW_DECODE = [_alaw2lin(a) for a in range(256)]


def alaw_encode(samples: Iterable[int]) -> bytes:
    return bytes(_lin2alaw(int(s)) for s in samples)


def alaw_decode(data: bytes) -> list:
    return [_ALAW_DECODE[b] for b in data]


# --------------------------------------------------------------------------
# signals and analysis


def tone(freq: float, n: int, rate: int = 8000, amplitude: float = 8000.0,
         start: int = 0) -> list:
    w = 2.0 * math.pi * freq / rate
    return [int(round(amplitude * math.sin(w * (start + i)))) for i in range(n)]


def goertzel_power(samples: Sequence[float], freq: float, rate: int) -> float:
    """|X(f)|^2 of the samples at ``freq`` (rectangular window)."""
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def rms(samples: Sequence[float]) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(float(x) * x for x in samples) / len(samples))


def _hann(samples: Sequence[float]) -> list:
    n = len(samples)
    if n < 2:
        return list(samples)
    return [x * (0.5 - 0.5 * math.cos(2.0 * math.pi * i / (n - 1))) for i, x in enumerate(samples)]


def dominant_frequency(samples: Sequence[float], rate: int = 8000, lo: float = 100.0,
                       hi: Optional[float] = None, coarse: float = 50.0,
                       fine: float = 5.0) -> float:
    """Frequency with the most power: a Goertzel scan every ``coarse`` Hz
    (Hann-windowed), then every ``fine`` Hz within ±coarse of the peak."""
    hi = hi if hi is not None else rate / 2 - coarse
    x = _hann(samples)
    best_f, best_p = lo, -1.0
    f = lo
    while f <= hi:
        p = goertzel_power(x, f, rate)
        if p > best_p:
            best_f, best_p = f, p
        f += coarse
    center = best_f
    f = max(lo, center - coarse)
    while f <= min(hi, center + coarse):
        p = goertzel_power(x, f, rate)
        if p > best_p:
            best_f, best_p = f, p
        f += fine
    return best_f


def tone_analysis(samples: Sequence[float], rate: int = 8000) -> dict:
    """Dominant frequency, RMS, and the share of the power in the dominant
    tone (its amplitude estimated with a rectangular-window Goertzel over a
    whole number of periods), 0..~1."""
    f = dominant_frequency(samples, rate)
    total = rms(samples)
    # whole periods of f, so the rectangular window does not leak
    periods = int(len(samples) * f / rate)
    n = int(round(periods * rate / f)) if periods else len(samples)
    seg = samples[:max(1, min(n, len(samples)))]
    amp = 2.0 * math.sqrt(max(goertzel_power(seg, f, rate), 0.0)) / len(seg)
    seg_rms = rms(seg)
    purity = (amp * amp / 2.0) / (seg_rms * seg_rms) if seg_rms > 0 else 0.0
    return {"freq": f, "rms": total, "amplitude": amp, "purity": purity}


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(1, math.ceil(p / 100.0 * len(v)))
    return v[min(k, len(v)) - 1]


# --------------------------------------------------------------------------
# libopus via ctypes

OPUS_APPLICATION_VOIP = 2048
OPUS_SET_BITRATE_REQUEST = 4002


class OpusError(RuntimeError):
    pass


class Opus:
    _lib = None

    @classmethod
    def lib(cls):
        if cls._lib is None:
            name = "libopus.so.0"
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                found = ctypes.util.find_library("opus")
                if not found:
                    raise
                lib = ctypes.CDLL(found)
            lib.opus_decoder_create.restype = ctypes.c_void_p
            lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int,
                                                ctypes.POINTER(ctypes.c_int)]
            lib.opus_decode.restype = ctypes.c_int
            lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                        ctypes.POINTER(ctypes.c_int16), ctypes.c_int, ctypes.c_int]
            lib.opus_decoder_destroy.restype = None
            lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
            lib.opus_encoder_create.restype = ctypes.c_void_p
            lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int,
                                                ctypes.POINTER(ctypes.c_int)]
            lib.opus_encode.restype = ctypes.c_int32
            lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16),
                                        ctypes.c_int, ctypes.c_char_p, ctypes.c_int32]
            lib.opus_encoder_destroy.restype = None
            lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
            lib.opus_strerror.restype = ctypes.c_char_p
            lib.opus_strerror.argtypes = [ctypes.c_int]
            lib.opus_packet_get_nb_samples.restype = ctypes.c_int
            lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32,
                                                       ctypes.c_int32]
            cls._lib = lib
        return cls._lib

    @classmethod
    def available(cls) -> bool:
        try:
            cls.lib()
            return True
        except OSError:
            return False

    @classmethod
    def strerror(cls, code: int) -> str:
        return cls.lib().opus_strerror(code).decode()

    @classmethod
    def encoder(cls, rate: int = 48000, channels: int = 1,
                application: int = OPUS_APPLICATION_VOIP) -> "OpusEnc":
        return OpusEnc(cls.lib(), rate, channels, application)

    @classmethod
    def decoder(cls, rate: int = 8000, channels: int = 1) -> "OpusDec":
        return OpusDec(cls.lib(), rate, channels)

    @classmethod
    def packet_samples(cls, data: bytes, rate: int) -> int:
        return cls.lib().opus_packet_get_nb_samples(data, len(data), rate)


class OpusEnc:
    def __init__(self, lib, rate: int, channels: int, application: int):
        self.lib, self.rate, self.channels = lib, rate, channels
        err = ctypes.c_int(0)
        self.h = lib.opus_encoder_create(rate, channels, application, ctypes.byref(err))
        if err.value != 0 or not self.h:
            raise OpusError(f"opus_encoder_create({rate}, {channels}): "
                            f"{Opus.strerror(err.value)}")
        self._out = ctypes.create_string_buffer(4000)

    def encode(self, pcm: Sequence[int]) -> bytes:
        n = len(pcm) // self.channels
        buf = (ctypes.c_int16 * len(pcm))(*pcm)
        r = self.lib.opus_encode(self.h, buf, n, self._out, len(self._out))
        if r < 0:
            raise OpusError(f"opus_encode: {Opus.strerror(r)}")
        return self._out.raw[:r]

    def close(self) -> None:
        if self.h:
            self.lib.opus_encoder_destroy(self.h)
            self.h = None

    def __del__(self):
        self.close()


class OpusDec:
    def __init__(self, lib, rate: int, channels: int):
        self.lib, self.rate, self.channels = lib, rate, channels
        err = ctypes.c_int(0)
        self.h = lib.opus_decoder_create(rate, channels, ctypes.byref(err))
        if err.value != 0 or not self.h:
            raise OpusError(f"opus_decoder_create({rate}, {channels}): "
                            f"{Opus.strerror(err.value)}")

    def decode(self, data: bytes, max_samples: int = 960) -> list:
        """PCM of one packet (raises OpusError on a malformed packet)."""
        pcm = (ctypes.c_int16 * (max_samples * self.channels))()
        r = self.lib.opus_decode(self.h, data, len(data), pcm, max_samples, 0)
        if r < 0:
            raise OpusError(f"opus_decode ({len(data)} bytes): {Opus.strerror(r)}")
        return list(pcm[:r * self.channels])

    def close(self) -> None:
        if self.h:
            self.lib.opus_decoder_destroy(self.h)
            self.h = None

    def __del__(self):
        self.close()


# --------------------------------------------------------------------------
# RTP and RFC 4733


@dataclass
class Rtp:
    version: int
    marker: bool
    pt: int
    seq: int
    ts: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> Optional[Rtp]:
    """RTP header fields and the payload (CSRCs, extension, padding skipped);
    None if it is not an RTP v2 packet."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    off = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if len(data) < off + 4:
            return None
        off += 4 + 4 * struct.unpack("!H", data[off + 2:off + 4])[0]
    end = len(data)
    if b0 & 0x20 and end > off:
        end -= data[-1]
    if off > end:
        return None
    return Rtp(2, bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, bytes(data[off:end]))


def telephone_event(event: int, end: bool, volume: int, duration: int) -> bytes:
    """RFC 4733 §2.3 payload: event, E|R|volume, duration."""
    return struct.pack("!BBH", event & 0xFF, (0x80 if end else 0) | (volume & 0x3F),
                       duration & 0xFFFF)


def parse_telephone_event(payload: bytes) -> Optional[tuple]:
    """(event, end, volume, duration) or None if shorter than 4 octets."""
    if len(payload) < 4:
        return None
    ev, flags, dur = struct.unpack("!BBH", payload[:4])
    return ev, bool(flags & 0x80), flags & 0x3F, dur


def rtcp_rr_report(sender_ssrc: int, source_ssrc: int, fraction_lost: int,
                   cumulative_lost: int = 0, highest_seq: int = 0) -> bytes:
    """RTCP RR (RFC 3550 §6.4.2) from ``sender_ssrc`` with one report block
    about ``source_ssrc``: fraction lost in 1/256, cumulative lost (24 bits),
    extended highest sequence; jitter, LSR and DLSR 0."""
    return struct.pack("!BBHI", 0x81, 201, 7, sender_ssrc & 0xFFFFFFFF) + struct.pack(
        "!IIIIII", source_ssrc & 0xFFFFFFFF,
        (fraction_lost & 0xFF) << 24 | (cumulative_lost & 0xFFFFFF), highest_seq & 0xFFFFFFFF,
        0, 0, 0)


def opus_has_lbrr(packet: bytes) -> Optional[bool]:
    """Whether a mono single-frame (code 0) SILK or hybrid Opus packet
    carries LBRR (in-band FEC) data: RFC 6716 §4.2.3-4.2.4, the SILK layer
    opens with one VAD flag per 20 ms SILK frame then the LBRR flag, coded
    with probability 1/2, i.e. the raw leading bits after the TOC octet.
    None for CELT-only, stereo or multi-frame packets."""
    if len(packet) < 2:
        return None
    toc = packet[0]
    config = toc >> 3
    if config >= 16 or toc & 0x07:  # CELT-only (§3.1), stereo, or not code 0
        return None
    ms = (10, 20, 40, 60)[config % 4] if config < 12 else (10, 20)[config % 2]
    silk_frames = max(1, ms // 20)
    return bool((packet[1] >> (7 - silk_frames)) & 1)


if __name__ == "__main__":  # self-test
    import sys
    # µ-law: known code points, and agreement with audioop where it exists.
    assert ulaw_encode([0]) == b"\xff" and ulaw_decode(b"\xff") == [0]
    assert ulaw_encode([32767]) == b"\x80" and ulaw_encode([-32768]) == b"\x00"
    assert ulaw_decode(b"\x80") == [32124] and ulaw_decode(b"\x00") == [-32124]
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import audioop  # removed in Python 3.13
    except ImportError:
        audioop = None
    if audioop is not None:
        pcm = list(range(-32768, 32768, 7))
        raw = struct.pack(f"<{len(pcm)}h", *pcm)
        ours, ref = ulaw_encode(pcm), audioop.lin2ulaw(raw, 2)
        # audioop (like Sun's g711.c) shifts to 14 bits with an arithmetic
        # shift, which floors negatives: a negative value within 3 counts of
        # a decision level lands one code further out than the sign-magnitude
        # encoder here. Everything else must agree exactly.
        for x, u, v in zip(pcm, ours, ref):
            assert u == v or (x < 0 and abs(u - v) == 1), (x, u, v)
        dec = struct.unpack("<256h", audioop.ulaw2lin(bytes(range(256)), 2))
        assert ulaw_decode(bytes(range(256))) == list(dec), "µ-law decoder differs from audioop"
    rr = rtcp_rr_report(0x11111111, 0x0A0B0C0D, 25, 7, 300)
    assert len(rr) == 32 and rr[:2] == b"\x81\xc9" and rr[8:16] == bytes.fromhex("0a0b0c0d19000007")
    # round trip keeps a tone
    t = tone(1000, 8000, 8000, 8000)
    a = tone_analysis(ulaw_decode(ulaw_encode(t)), 8000)
    assert abs(a["freq"] - 1000) <= 5 and a["purity"] > 0.95, a
    if Opus.available():
        enc, dec = Opus.encoder(48000), Opus.decoder(8000)
        out = []
        for i in range(50):
            out += dec.decode(enc.encode(tone(1000, 960, 48000, 8000, 960 * i)))
        a = tone_analysis(out[1600:], 8000)
        assert abs(a["freq"] - 1000) <= 10 and a["rms"] > 2000, a
        print(f"opus round trip: {a}")
    print(f"rtpaudio self-test ok (audioop cross-check: {audioop is not None})")
    sys.exit(0)
