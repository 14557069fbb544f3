"""SRTP for the test side (stdlib only + Debian's libsrtp2 through ctypes).

The party end of an SRTP leg: what a phone or browser would do with the key
it agreed with the relay over SDES. Runs on the packaged ``libsrtp2.so.1``
(2.5.0, built on NSS), not on the OpenSSL build voxrelay links, so the two
ends share no code beyond the algorithm.

Import from a test with::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    import srtp

Contents
--------
- ``SUITES``: SDES suite name -> (master key octets, master salt octets);
  ``SRTP_TAG_LENGTHS``: suite -> octets of SRTP authentication tag.
- ``Session(suite, key_salt, outbound)``: one direction of one SRTP stream
  for any SSRC. ``protect(rtp)``/``protect_rtcp(rtcp)`` return the SRTP/SRTCP
  packet; ``unprotect(srtp)``/``unprotect_rtcp(srtcp)`` return the plain
  packet or raise ``SrtpError`` (``.status``: libsrtp2's code, e.g.
  ``AUTH_FAIL``, ``REPLAY_FAIL``).
- ``crypto_line(tag, suite, key_salt)``: an ``a=crypto`` attribute line
  (RFC 4568 §9.1); ``parse_crypto(value)`` -> (tag, suite, key_salt).
- ``self_test()``: known-answer check of the ctypes layout (the RFC 3711
  B.3 key and libsrtp2's own test vector); the tests call it first.
"""

from __future__ import annotations

import base64
import ctypes
import re
from typing import Optional

__all__ = ["SUITES", "SRTP_TAG_LENGTHS", "Session", "SrtpError", "crypto_line", "parse_crypto", "self_test",
           "AUTH_FAIL", "REPLAY_FAIL", "REPLAY_OLD"]

# srtp_err_status_t (srtp2/srtp.h, 2.5.0)
OK, AUTH_FAIL, REPLAY_FAIL, REPLAY_OLD = 0, 7, 9, 10

# ssrc type: srtp_ssrc_type_t
_SSRC_ANY_INBOUND, _SSRC_ANY_OUTBOUND = 2, 3
_MAX_TRAILER = 16 + 128 + 4  # SRTP_MAX_TRAILER_LEN (tag + MKI) + SRTCP index

# suite -> (key octets, salt octets, RTP policy setter, RTCP policy setter);
# srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 is a macro for rtp_default.
_SUITES = {
    "AEAD_AES_256_GCM": (32, 12, "aes_gcm_256_16_auth", "aes_gcm_256_16_auth"),
    "AEAD_AES_128_GCM": (16, 12, "aes_gcm_128_16_auth", "aes_gcm_128_16_auth"),
    "AES_256_CM_HMAC_SHA1_80": (32, 14, "aes_cm_256_hmac_sha1_80", "aes_cm_256_hmac_sha1_80"),
    "AES_CM_128_HMAC_SHA1_80": (16, 14, "rtp_default", "rtcp_default"),
    # RFC 4568 §6.2.2: SRTCP keeps the 80-bit tag.
    "AES_CM_128_HMAC_SHA1_32": (16, 14, "aes_cm_128_hmac_sha1_32", "rtcp_default"),
}
SUITES = {name: (k, s) for name, (k, s, _, _) in _SUITES.items()}
# Octets protect appends to SRTP (RFC 3711 §4.2, RFC 7714 §7.2 tags).
SRTP_TAG_LENGTHS = {"AEAD_AES_256_GCM": 16, "AEAD_AES_128_GCM": 16,
                    "AES_256_CM_HMAC_SHA1_80": 10, "AES_CM_128_HMAC_SHA1_80": 10,
                    "AES_CM_128_HMAC_SHA1_32": 4}


class SrtpError(RuntimeError):
    def __init__(self, what: str, status: int):
        super().__init__(f"{what}: libsrtp2 status {status}")
        self.status = status


# srtp2/srtp.h 2.5.0, field by field.
class _CryptoPolicy(ctypes.Structure):
    _fields_ = [("cipher_type", ctypes.c_uint32), ("cipher_key_len", ctypes.c_int),
                ("auth_type", ctypes.c_uint32), ("auth_key_len", ctypes.c_int),
                ("auth_tag_len", ctypes.c_int), ("sec_serv", ctypes.c_int)]


class _Ssrc(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("value", ctypes.c_uint)]


class _Policy(ctypes.Structure):
    pass


_Policy._fields_ = [
    ("ssrc", _Ssrc), ("rtp", _CryptoPolicy), ("rtcp", _CryptoPolicy),
    ("key", ctypes.c_void_p), ("keys", ctypes.c_void_p), ("num_master_keys", ctypes.c_ulong),
    ("deprecated_ekt", ctypes.c_void_p), ("window_size", ctypes.c_ulong),
    ("allow_repeat_tx", ctypes.c_int), ("enc_xtn_hdr", ctypes.c_void_p),
    ("enc_xtn_hdr_count", ctypes.c_int), ("next", ctypes.POINTER(_Policy)),
]

_lib: Optional[ctypes.CDLL] = None


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        lib = ctypes.CDLL("libsrtp2.so.1")
        lib.srtp_init.restype = ctypes.c_int
        lib.srtp_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_Policy)]
        lib.srtp_dealloc.argtypes = [ctypes.c_void_p]
        for f in ("srtp_protect", "srtp_unprotect", "srtp_protect_rtcp", "srtp_unprotect_rtcp"):
            getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
            getattr(lib, f).restype = ctypes.c_int
        st = lib.srtp_init()
        if st != OK:
            raise SrtpError("srtp_init", st)
        _lib = lib
    return _lib


class Session:
    """One direction of one SRTP stream (any SSRC): ``outbound`` protects
    what this end sends, otherwise it unprotects what it receives."""

    def __init__(self, suite: str, key_salt: bytes, outbound: bool):
        key_len, salt_len, rtp_set, rtcp_set = _SUITES[suite]
        if len(key_salt) != key_len + salt_len:
            raise ValueError(f"{suite}: key||salt is {key_len + salt_len} octets, got {len(key_salt)}")
        lib = _library()
        self.suite = suite
        self._key = ctypes.create_string_buffer(bytes(key_salt), len(key_salt))
        p = _Policy()
        getattr(lib, "srtp_crypto_policy_set_" + rtp_set)(ctypes.byref(p.rtp))
        getattr(lib, "srtp_crypto_policy_set_" + rtcp_set)(ctypes.byref(p.rtcp))
        p.ssrc.type = _SSRC_ANY_OUTBOUND if outbound else _SSRC_ANY_INBOUND
        p.key = ctypes.cast(self._key, ctypes.c_void_p)
        p.window_size = 128
        p.allow_repeat_tx = 0
        self._ctx = ctypes.c_void_p()
        st = lib.srtp_create(ctypes.byref(self._ctx), ctypes.byref(p))
        if st != OK:
            raise SrtpError(f"srtp_create {suite}", st)

    def __del__(self):
        if getattr(self, "_ctx", None) and self._ctx.value and _lib is not None:
            _lib.srtp_dealloc(self._ctx)
            self._ctx = None

    def _run(self, fn: str, data: bytes, grow: bool) -> bytes:
        buf = ctypes.create_string_buffer(bytes(data), len(data) + (_MAX_TRAILER if grow else 0))
        n = ctypes.c_int(len(data))
        st = getattr(_library(), fn)(self._ctx, buf, ctypes.byref(n))
        if st != OK:
            raise SrtpError(fn, st)
        return buf.raw[:n.value]

    def protect(self, rtp: bytes) -> bytes:
        return self._run("srtp_protect", rtp, True)

    def unprotect(self, srtp: bytes) -> bytes:
        return self._run("srtp_unprotect", srtp, False)

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        return self._run("srtp_protect_rtcp", rtcp, True)

    def unprotect_rtcp(self, srtcp: bytes) -> bytes:
        return self._run("srtp_unprotect_rtcp", srtcp, False)


def crypto_line(tag: int, suite: str, key_salt: bytes) -> str:
    """``a=crypto:<tag> <suite> inline:<base64 key||salt>`` (RFC 4568 §9.1)."""
    return f"a=crypto:{tag} {suite} inline:{base64.b64encode(key_salt).decode()}"


def parse_crypto(value: str) -> tuple:
    """``<tag> <suite> inline:<key||salt>[|lifetime][|MKI:len]`` -> (tag, suite,
    key_salt); ``value`` is what follows ``a=crypto:``."""
    m = re.match(r"(\d+) (\S+) inline:([A-Za-z0-9+/=]+)", value)
    if not m:
        raise ValueError(f"not an SDES a=crypto value: {value!r}")
    b64 = m.group(3).rstrip("=")
    return int(m.group(1)), m.group(2), base64.b64decode(b64 + "=" * (-len(b64) % 4))  # unpadded too


def self_test() -> None:
    """The ctypes layout checked against libsrtp2's own vector (srtp_driver.c,
    RFC 3711 B.3 key): protect gives the known bytes, unprotect inverts it."""
    key = bytes.fromhex("e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6")
    plain = bytes.fromhex("800f1234decafbadcafebabeabababababababababababababababab")
    want = bytes.fromhex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc"
                         "99ea179b8dbb")
    got = Session("AES_CM_128_HMAC_SHA1_80", key, True).protect(plain)
    if got != want:
        raise AssertionError(f"libsrtp2 ctypes self-test: protect gave {got.hex()}, want {want.hex()}")
    back = Session("AES_CM_128_HMAC_SHA1_80", key, False).unprotect(got)
    if back != plain:
        raise AssertionError("libsrtp2 ctypes self-test: unprotect did not invert protect")
