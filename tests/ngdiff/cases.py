"""The table of NG cases the differential test sends to voxrelay and rtpengine.

A case is a name, a short description and a list of messages sent in order
to each daemon; the replies are compared after normalisation (normalise.py).
A message is an NG dictionary (sent bencoded), ``Json(dict)`` (sent as
JSON), ``Raw(bytes)`` (a datagram as it is, or after a fresh cookie) or
``Repeat()`` (the previous datagram again, same cookie: a retransmission).
``@CID@`` and ``@CID2@`` in any string stand for the case's call-ids, unique
per run; the runner deletes both calls after the case (not compared).

Every address in these SDPs is a loopback address, so whatever a relay sends
toward a party (DTLS, ICE checks) stays on this host:
caller A 127.0.1.1 (ports 2000..), callee B 127.0.2.2 (ports 3000..), a
third party C 127.0.5.5, IPv6 parties on ::1.

``kamailio()`` and ``opensips()`` turn a module flag string into the NG
dictionary the way those modules' parse_flags does it (Kamailio: bare words
into ``flags``, ``key=value`` into the dictionary, ``replace-*`` into
``replace``, ``rtcp-mux-*`` into ``rtcp-mux``, ``SDES-*`` into ``SDES``,
``codec-<op>`` into the ``codec`` dictionary, protocol words into
``transport-protocol``, ``direction=`` into ``direction``, ``delete-delay=``
into ``delete delay``, plus ``supports: [load limit]``, ``received-from``
(the SIP source, when a flag string was given) and ``sip-message-type``, as
its current source does; OpenSIPS: the same for
``replace-*``, ``rtcp-mux-*``, protocols, ``address-family``, ``direction``
and ``delete-delay``, everything else bare into ``flags`` or as a key).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Optional

CID, CID2 = "@CID@", "@CID2@"
A, B, C = "127.0.1.1", "127.0.2.2", "127.0.5.5"
A6 = B6 = "::1"
MEDIA_ADDR = "127.0.3.3"
SIP_SRC = "127.0.4.4"

KEY_A = base64.b64encode(bytes(range(1, 31))).decode()          # 30 octets: AES-CM-128 key + salt
KEY_A2 = base64.b64encode(bytes(range(31, 61))).decode()
KEY_B = base64.b64encode(bytes(range(101, 131))).decode()
KEY_B256 = base64.b64encode(bytes(range(101, 147))).decode()   # 46 octets: AES-CM-256 key + salt
FP_A = ":".join("%02X" % (i * 7 % 256) for i in range(32))     # a sha-256 fingerprint's shape
FP_B = ":".join("%02X" % (i * 11 % 256) for i in range(32))


@dataclass
class Json:
    msg: dict


@dataclass
class Raw:
    data: bytes
    cookie: bool = True     # prepend a fresh "COOKIE " (False: the datagram as it is)


@dataclass
class Repeat:
    pass


@dataclass
class Case:
    name: str
    desc: str
    msgs: list = field(default_factory=list)


# ---------------------------------------------------------------------------
# SDP

RTPMAP = {0: "PCMU/8000", 3: "GSM/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000",
          96: "H264/90000", 97: "VP8/90000", 100: "telephone-event/48000",
          101: "telephone-event/8000", 111: "opus/48000/2"}
OPUS96 = ["a=rtpmap:96 opus/48000/2", "a=fmtp:96 useinbandfec=1"]   # opus as both relays add it
FMTP = {18: "annexb=no", 96: "profile-level-id=42e01f;packetization-mode=1",
        100: "0-16", 101: "0-16", 111: "minptime=10;useinbandfec=1"}


def media(port: int = 2000, pts=(0, 8, 101), proto: str = "RTP/AVP", kind: str = "audio",
          attrs=(), direction: Optional[str] = "sendrecv", rtpmap: bool = True,
          ptime: Optional[int] = 20, conn: Optional[str] = None, fmt: Optional[str] = None) -> list:
    """One m= section as lines: m=, [c=], rtpmap/fmtp per payload type,
    [a=ptime], ``attrs``, [a=<direction>]."""
    fmts = fmt if fmt is not None else " ".join(str(p) for p in pts)
    lines = [f"m={kind} {port} {proto} {fmts}"]
    if conn:
        lines.append(f"c=IN {'IP6' if ':' in conn else 'IP4'} {conn}")
    if rtpmap and fmt is None:
        for pt in pts:
            if pt in RTPMAP:
                lines.append(f"a=rtpmap:{pt} {RTPMAP[pt]}")
            if pt in FMTP:
                lines.append(f"a=fmtp:{pt} {FMTP[pt]}")
    if ptime and kind == "audio":
        lines.append(f"a=ptime:{ptime}")
    lines.extend(attrs)
    if direction:
        lines.append(f"a={direction}")
    return lines


def sdp(addr: str = A, medias=None, sess_id: int = 1545997027, version: int = 1,
        session=(), conn: Optional[str] = "same", origin: Optional[str] = None,
        user: str = "-", eol: str = "\r\n") -> str:
    """An SDP: v=, o=, s=, [c=], t=, session attributes, then the m= sections
    (default: one audio section on port 2000)."""
    medias = [media()] if medias is None else medias
    fam = lambda a: "IP6" if ":" in a else "IP4"  # noqa: E731
    o = origin or addr
    lines = ["v=0", f"o={user} {sess_id} {version} IN {fam(o)} {o}", "s=ngdiff"]
    c = addr if conn == "same" else conn
    if c:
        lines.append(f"c=IN {fam(c)} {c}")
    lines.append("t=0 0")
    lines.extend(session)
    for m in medias:
        lines.extend(m)
    return eol.join(lines) + eol


def sdp_a(**kw) -> str:
    """Caller A's plain G.711 offer (PCMU, PCMA, telephone-event)."""
    kw.setdefault("medias", [media(2000)])
    return sdp(A, **kw)


def sdp_b(**kw) -> str:
    """Callee B's answer (PCMU + telephone-event)."""
    kw.setdefault("medias", [media(3000, pts=(0, 101))])
    kw.setdefault("sess_id", 2890844526)
    return sdp(B, **kw)


def crypto(tag: int, key: str, suite: str = "AES_CM_128_HMAC_SHA1_80", extra: str = "") -> str:
    return f"a=crypto:{tag} {suite} inline:{key}{extra}"


def webrtc_media(port: int = 4000, addr: str = A, ufrag: str = "Brws", pwd: str = "browserpassword0123456789",
                 fp: str = FP_A, setup: str = "actpass", mid: str = "0", pts=(111, 0, 8, 101),
                 direction: str = "sendrecv", extra=()) -> list:
    """A browser's audio section: UDP/TLS/RTP/SAVPF, ICE, DTLS, rtcp-mux, mid."""
    return media(port, pts=pts, proto="UDP/TLS/RTP/SAVPF", ptime=None, conn=None, direction=None, attrs=[
        f"a=rtcp:9 IN IP4 0.0.0.0",
        f"a=candidate:1467250027 1 udp 2122260223 {addr} {port} typ host generation 0",
        f"a=ice-ufrag:{ufrag}", f"a=ice-pwd:{pwd}", "a=ice-options:trickle",
        f"a=fingerprint:sha-256 {fp}", f"a=setup:{setup}", f"a=mid:{mid}",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        f"a={direction}", "a=msid:stream0 track0", "a=rtcp-mux", "a=rtcp-fb:111 transport-cc",
        "a=ssrc:2874566543 cname:browsercname", *extra])


def sdp_browser(**kw) -> str:
    kw.setdefault("medias", [webrtc_media()])
    kw.setdefault("session", ["a=group:BUNDLE 0", "a=msid-semantic: WMS stream0"])
    kw.setdefault("sess_id", 4611731400430051336)
    kw.setdefault("version", 2)
    kw.setdefault("conn", None)
    m = kw["medias"]
    # the browser's c= is at media level
    kw["medias"] = [x[:1] + [f"c=IN IP4 {A}"] + x[1:] for x in m]
    return sdp(A, **kw)


def sdp_browser_answer(mid: str = "0", setup: str = "active", **kw) -> str:
    # the relay offered the browser the trunk's codecs: the browser picks PCMU
    kw.setdefault("medias", [webrtc_media(4002, addr=B, ufrag="Ansr", pwd="answererpassword987654321",
                                          fp=FP_B, setup=setup, mid=mid, pts=(0, 101))])
    kw.setdefault("session", [f"a=group:BUNDLE {mid}", "a=msid-semantic: WMS stream0"])
    kw.setdefault("sess_id", 7296356716417893311)
    kw.setdefault("conn", None)
    kw["medias"] = [x[:1] + [f"c=IN IP4 {B}"] + x[1:] for x in kw["medias"]]
    return sdp(B, **kw)


ICE_ATTRS = ["a=ice-ufrag:Ca11", "a=ice-pwd:callerpassword0123456789",
             f"a=candidate:1 1 UDP 2130706431 {A} 2000 typ host",
             f"a=candidate:1 2 UDP 2130706430 {A} 2001 typ host"]

# ---------------------------------------------------------------------------
# NG messages


def _msg(command: str, extra: Optional[dict], **base) -> dict:
    m = {"command": command, **{k: v for k, v in base.items() if v is not None}}
    m.update(extra or {})
    return m


def offer(body: Optional[str] = None, extra: Optional[dict] = None, cid: str = CID, ft: str = "ft",
          tt: Optional[str] = None) -> dict:
    return _msg("offer", extra, **{"call-id": cid, "from-tag": ft, "to-tag": tt,
                                   "sdp": sdp_a() if body is None else body})


def answer(body: Optional[str] = None, extra: Optional[dict] = None, cid: str = CID, ft: str = "ft",
           tt: str = "tt") -> dict:
    return _msg("answer", extra, **{"call-id": cid, "from-tag": ft, "to-tag": tt,
                                    "sdp": sdp_b() if body is None else body})


def delete(extra: Optional[dict] = None, cid: str = CID, ft: Optional[str] = "ft",
           tt: Optional[str] = None) -> dict:
    return _msg("delete", extra, **{"call-id": cid, "from-tag": ft, "to-tag": tt})


def query(extra: Optional[dict] = None, cid: str = CID) -> dict:
    return _msg("query", extra, **{"call-id": cid})


PING = {"command": "ping"}
LIST = {"command": "list"}
STATISTICS = {"command": "statistics"}
RA = {"replace": ["origin", "session-connection"]}      # what every proxy config sends
RI = {"replace": ["origin", "session-connection"], "ICE": "remove"}


def with_(*dicts: dict) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            if k == "flags" and k in out:
                out[k] = out[k] + list(v)
            else:
                out[k] = v
    return out


# ---------------------------------------------------------------------------
# proxy modules' flag strings -> NG dictionaries

_PROTOCOLS = {"RTP/AVP": 0x100, "RTP/SAVP": 0x101, "RTP/AVPF": 0x102, "RTP/SAVPF": 0x103,
              "UDP/TLS/RTP/SAVP": 0x104, "UDP/TLS/RTP/SAVPF": 0x106}
_PROTOCOL_NAMES = {0: "RTP/AVP", 1: "RTP/SAVP", 2: "RTP/AVPF", 3: "RTP/SAVPF",
                   4: "UDP/TLS/RTP/SAVP", 6: "UDP/TLS/RTP/SAVPF"}
_CODEC_OPS = [("transcode", "transcode"), ("codec-transcode", "transcode"), ("codec-strip", "strip"),
              ("codec-offer", "offer"), ("codec-mask", "mask"), ("codec-set", "set"),
              ("codec-except", "except"), ("codec-accept", "accept"), ("codec-consume", "consume")]


def _prefixed(key: str, val: Optional[str], prefix: str) -> Optional[str]:
    """``prefix=value`` or ``prefix-rest``: the value or the rest."""
    if key == prefix and val is not None:
        return val
    if key.startswith(prefix + "-") and len(key) > len(prefix) + 1:
        return key[len(prefix) + 1:]
    return None


def kamailio(command: str, flags: str = "", body: Optional[str] = None, cid: str = CID,
             ft: str = "ft", tt: Optional[str] = None, src: str = A, reply: bool = False) -> dict:
    """What Kamailio's rtpengine module sends for rtpengine_<command>(flags):
    a request (``reply=False``: the INVITE, BYE...) or a reply (the 200 OK
    with the answer), with SIP source address ``src``."""
    d: dict = {"supports": ["load limit"]}
    lists: dict = {"flags": [], "direction": [], "replace": [], "rtcp-mux": [], "SDES": [], "T.38": []}
    codec: dict = {}
    received_from: list = []
    transport = 0
    for token in flags.split():
        key, eq, val = token.partition("=")
        val = val if eq else None
        if (s := _prefixed(key, val, "replace")) is not None:
            lists["replace"].append(s)
            continue
        if (s := _prefixed(key, val, "received-from")) is not None:
            received_from = ["IP6" if ":" in s else "IP4", s]
            continue
        if (s := _prefixed(key, val, "SDES")) is not None:
            lists["SDES"].append(s)
            continue
        if (s := _prefixed(key, val, "T38")) is not None or (s := _prefixed(key, val, "T.38")) is not None:
            lists["T.38"].append(s)
            continue
        if (s := _prefixed(key, val, "rtcp-mux")) is not None:
            lists["rtcp-mux"].append(s)
            continue
        for prefix, op in _CODEC_OPS:
            if (s := _prefixed(key, val, prefix)) is not None:
                codec.setdefault(op, []).append(s)
                break
        else:
            if val is None and key == "RTP":
                transport = (transport | 0x100) & ~0x001
            elif val is None and key == "AVP":
                transport = (transport | 0x100) & ~0x002
            elif val is None and key == "SRTP":
                transport |= 0x101
            elif val is None and key == "AVPF":
                transport |= 0x102
            elif val is None and key == "DTLS":
                transport |= 0x104
            elif val is None and key in _PROTOCOLS:
                transport = _PROTOCOLS[key]
            elif key == "TOS" and val is not None:
                d["TOS"] = int(val)
            elif key in ("internal", "external"):
                lists["direction"].append(key)
            elif key == "direction" and val is not None:
                lists["direction"].append(val)
            elif key == "delete-delay" and val is not None:
                d["delete delay"] = int(val)
            elif key == "via-branch" and val is not None:
                d["via-branch"] = "z9hG4bK-ngdiff-" + val  # the module reads it from a Via header
            elif val is None:
                lists["flags"].append(key)
            else:
                d[key] = val
    if command in ("offer", "answer"):
        for k in ("direction", "flags", "replace", "rtcp-mux", "SDES", "T.38"):
            if lists[k]:
                d[k] = lists[k]
        if codec:
            d["codec"] = codec
        if transport & 0x100:
            d["transport-protocol"] = _PROTOCOL_NAMES[transport & 0x007]
        d["sdp"] = body if body is not None else (sdp_a() if command == "offer" else sdp_b())
    elif lists["flags"]:
        d["flags"] = lists["flags"]
    if flags.strip():  # the module adds the SIP source whenever it parsed a flag string
        d["received-from"] = received_from or ["IP6" if ":" in src else "IP4", src]
    d["call-id"] = cid
    d["from-tag"] = ft
    if tt is not None and command != "delete":
        d["to-tag"] = tt
    d["command"] = command
    d["sip-message-type"] = "sip_reply" if reply else "sip_request"
    return d


def opensips(command: str, flags: str = "", body: Optional[str] = None, cid: str = CID,
             ft: str = "ft", tt: Optional[str] = None, src: str = A) -> dict:
    """What OpenSIPS's rtpengine module sends for rtpengine_<command>(flags)."""
    d: dict = {}
    fl: list = []
    direction: list = []
    replace: list = []
    mux: list = []
    transport = 0
    for token in flags.split():
        key, eq, val = token.partition("=")
        val = val if eq else None
        if val is None and key in ("RTP", "AVP", "SRTP", "AVPF"):
            transport |= 0x100
            transport = {"RTP": transport & ~1, "AVP": transport & ~2, "SRTP": transport | 1,
                         "AVPF": transport | 2}[key]
        elif val is None and key in _PROTOCOLS:
            transport = _PROTOCOLS[key] if key != "UDP/TLS/RTP/SAVPF" else 0x105
        elif key in ("internal", "external"):
            direction.append(key)
        elif key == "delete-delay" and val is not None:
            d["delete-delay"] = int(val)
        elif key == "address-family" and val is not None:
            d["address family"] = val
        elif key.startswith("replace-"):
            replace.append({"origin": "origin", "session-connection": "session-connection",
                            "username": "username", "SDP-version": "SDP version",
                            "zero-address": "zero address",
                            "session-name": "session name"}.get(key[8:], key[8:]))
        elif key.startswith("rtcp-mux-"):
            mux.append(key[9:])
        elif val is None:
            fl.append(key)
        else:
            d[key] = val
    names = {0: "RTP/AVP", 1: "RTP/SAVP", 2: "RTP/AVPF", 3: "RTP/SAVPF", 4: "UDP/TLS/RTP/SAVP",
             5: "UDP/TLS/RTP/SAVPF"}
    if command in ("offer", "answer"):
        if direction:
            d["direction"] = direction
        if replace:
            d["replace"] = replace
        if mux:
            d["rtcp-mux"] = mux
        if transport & 0x100:
            d["transport-protocol"] = names[transport & 0x007]
        d["received-from"] = ["IP6" if ":" in src else "IP4", src]
        d["sdp"] = body if body is not None else (sdp_a() if command == "offer" else sdp_b())
    if fl:
        d["flags"] = fl
    d["call-id"] = cid
    d["from-tag"] = ft
    if tt is not None and command != "delete":
        d["to-tag"] = tt
    d["command"] = command
    return d


# ---------------------------------------------------------------------------
# the cases

CASES: list = []


def case(name: str, desc: str, *msgs) -> None:
    CASES.append(Case(name, desc, list(msgs)))


def call(extra_offer: Optional[dict] = None, extra_answer: Optional[dict] = None,
         a: Optional[str] = None, b: Optional[str] = None) -> list:
    """offer A -> answer B: the common two messages."""
    return [offer(a, extra_offer), answer(b, extra_answer)]


# --- commands and request errors ---------------------------------------------------

case("ping", "ping -> pong", PING)
case("ping-json", "ping as a JSON document", Json(PING))
case("ping-extra-keys", "ping with keys ping does not use", {"command": "ping", "call-id": CID, "foo": "bar"})
case("command-case", "the command name in another case: 'Ping'", {"command": "Ping"})
case("unknown-command", "a command neither daemon has", {"command": "frobnicate", "call-id": CID})
case("missing-command", "a dictionary without 'command'", {"call-id": CID})
case("command-not-string", "'command' is an integer", {"command": 7})
case("bad-bencode", "a body that is not bencode", Raw(b"d7:command4:ping"))
case("bad-bencode-list", "a bencoded list instead of a dictionary", Raw(b"l4:pinge"))
case("bad-json", "a body that starts like JSON but is not", Raw(b'{"command": "ping"'))
case("bad-bencode-string", "a bencode dictionary whose string runs past the end", Raw(b"d7:command40:pinge"))
case("json-array", "a JSON array instead of an object", Raw(b'["command", "ping"]'))
case("empty-body", "a cookie and nothing after it", Raw(b""))
case("no-cookie", "a datagram without a cookie and space", Raw(b"d7:command4:pinge", cookie=False))
case("json-offer-answer", "offer and answer as JSON documents",
     Json(offer(None, RA)), Json(answer(None, RA)))
case("retransmitted-offer", "the same offer datagram twice (same cookie): the second gets the cached reply",
     offer(None, RA), Repeat())
case("retransmitted-delete", "a delete retransmitted with its cookie",
     offer(), answer(), delete(), Repeat())

case("offer-missing-call-id", "offer without call-id",
     {"command": "offer", "from-tag": "ft", "sdp": sdp_a()})
case("offer-empty-call-id", "offer with an empty call-id (then a delete of the call-id '')",
     {"command": "offer", "call-id": "", "from-tag": "ft", "sdp": sdp_a()},
     {"command": "delete", "call-id": "", "from-tag": "ft", "delete delay": 0})
case("offer-missing-from-tag", "offer without from-tag",
     {"command": "offer", "call-id": CID, "sdp": sdp_a()})
case("offer-missing-sdp", "offer without sdp", {"command": "offer", "call-id": CID, "from-tag": "ft"})
case("offer-empty-sdp", "offer with an empty sdp", offer(""))
case("offer-garbage-sdp", "offer whose sdp is not SDP", offer("this is not an SDP body\r\n"))
case("offer-sdp-no-media", "an SDP without m= lines", offer(sdp_a(medias=[])))
case("offer-sdp-no-connection", "an SDP with neither session nor media c=",
     offer(sdp_a(conn=None)))
case("offer-sdp-bad-port", "an m= line with a port that is not a number",
     offer(sdp_a(medias=[["m=audio abc RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]])))
case("offer-sdp-lf-only", "an SDP with LF line ends instead of CRLF", offer(sdp_a(eol="\n")))
case("offer-sdp-integer", "sdp given as an integer", offer(None, {"sdp": 42}))
case("answer-missing-to-tag", "answer without to-tag",
     offer(), {"command": "answer", "call-id": CID, "from-tag": "ft", "sdp": sdp_b()})
case("answer-unknown-call-id", "answer for a call-id never offered", answer())
case("answer-wrong-from-tag", "answer naming a from-tag the call does not have",
     offer(), answer(None, None, ft="nosuchtag"))
case("answer-missing-sdp", "answer without sdp",
     offer(), {"command": "answer", "call-id": CID, "from-tag": "ft", "to-tag": "tt"})

# --- delete, query, list --------------------------------------------------------------

case("delete-unknown-call-id", "delete a call-id never seen (no 'fatal')", delete())
case("delete-unknown-call-id-fatal", "delete a call-id never seen, flags [fatal]", delete({"flags": ["fatal"]}))
case("delete-missing-call-id", "delete without call-id", {"command": "delete", "from-tag": "ft"})
case("delete-missing-from-tag", "delete naming only the call-id", offer(), answer(),
     {"command": "delete", "call-id": CID})
case("delete-established", "offer, answer, delete (the reply's statistics)", offer(), answer(), delete())
case("delete-twice", "a second delete of a deleted call", offer(), answer(), delete(), delete())
case("delete-twice-delay-0", "delete with 'delete delay' 0, then delete again",
     offer(), answer(), delete({"delete delay": 0}), delete({"delete delay": 0}))
case("delete-delay-hyphen", "'delete-delay' written with a hyphen, then query",
     offer(), answer(), delete({"delete-delay": 0}), query())
case("delete-delay-string", "'delete delay' as a string \"0\"", offer(), delete({"delete delay": "0"}))
case("delete-delay-negative", "'delete delay' -1", offer(), delete({"delete delay": -1}))
case("delete-wrong-from-tag", "delete naming a tag the call does not have", offer(), answer(),
     delete(None, ft="nosuchtag"))
case("delete-wrong-from-tag-fatal", "delete naming an unknown tag, flags [fatal]", offer(), answer(),
     delete({"flags": ["fatal"]}, ft="nosuchtag"))
case("delete-to-tag", "delete with from-tag and to-tag", offer(), answer(), delete(None, tt="tt"))
case("delete-callee-tag", "delete sent for the callee's BYE (from-tag = callee)", offer(), answer(),
     delete(None, ft="tt"))
case("delete-pending-offer", "delete a call that was only offered", offer(), delete())
case("delete-via-branch", "delete with a via-branch", offer(None, {"via-branch": "z9hG4bK-1"}),
     delete({"via-branch": "z9hG4bK-1"}))
case("query-established", "query an answered call", offer(), answer(), query())
case("query-offered", "query a call that has an offer only", offer(), query())
case("query-unknown-call-id", "query a call-id never seen", query())
case("query-missing-call-id", "query without call-id", {"command": "query"})
case("query-from-tag", "query with from-tag and to-tag", offer(), answer(),
     query({"from-tag": "ft", "to-tag": "tt"}))
case("query-deleted", "query right after a delete with delay 0", offer(), answer(),
     delete({"delete delay": 0}), query())
case("list-one", "list while this case's call exists", offer(), LIST)
case("list-limit", "list with limit 1 while two calls exist", offer(), offer(None, None, cid=CID2),
     {"command": "list", "limit": 1})
case("list-limit-zero", "list with limit 0", offer(), {"command": "list", "limit": 0})
case("list-after-delete", "list after the call was deleted", offer(), delete({"delete delay": 0}), LIST)
case("statistics", "statistics: which keys there are", STATISTICS)
case("statistics-during-call", "statistics while a call is up", offer(), answer(), STATISTICS)

# --- SDP rewriting: addresses, origin, replace ----------------------------------------

case("offer-answer-plain", "the basic call, no flags", *call())
case("replace-origin", "replace: [origin]", *call({"replace": ["origin"]}, {"replace": ["origin"]}))
case("replace-session-connection", "replace: [session-connection]",
     *call({"replace": ["session-connection"]}, {"replace": ["session-connection"]}))
case("replace-session-connection-spaces", "replace: [session connection] (space spelling)",
     *call({"replace": ["origin", "session connection"]}))
case("replace-media-level-c", "replace origin with c= at media level only",
     *call(RA, RA, a=sdp_a(conn=None, medias=[media(2000, conn=A)]),
           b=sdp_b(conn=None, medias=[media(3000, pts=(0, 101), conn=B)])))
case("replace-session-and-media-c", "session c= and a media c= that differs",
     offer(sdp_a(medias=[media(2000, conn=C)]), RA))
case("replace-sdp-version", "replace: [SDP-version], then a re-offer of the same SDP",
     offer(None, {"replace": ["origin", "SDP-version"]}), answer(),
     offer(None, {"replace": ["origin", "SDP-version"]}))
case("replace-sdp-version-changed", "replace: [SDP-version], re-offer with another codec list",
     offer(None, {"replace": ["SDP-version"]}),
     offer(sdp_a(medias=[media(2000, pts=(8, 101))]), {"replace": ["SDP-version"]}))
case("replace-force-increment", "replace: [force-increment-sdp-ver]",
     offer(None, {"replace": ["force-increment-sdp-ver"]}),
     offer(None, {"replace": ["force-increment-sdp-ver"]}))
case("replace-username", "replace: [username] with another o= user",
     offer(sdp_a(user="alice"), {"replace": ["username", "origin"]}))
case("replace-zero-address", "replace: [zero-address] on a c=0.0.0.0 offer",
     offer(sdp_a(conn="0.0.0.0"), {"replace": ["zero-address"]}))
case("no-replace-origin", "without replace the o= line is passed as it is",
     offer(sdp_a(origin="127.0.9.9")))
case("replace-unknown", "replace: [no-such-thing]", offer(None, {"replace": ["no-such-thing"]}))
case("o-line-ip6-origin", "an IPv4 SDP whose o= is IPv6, replace origin",
     offer(sdp_a(origin="::1"), RA))

case("trust-address", "flags [trust-address]", *call(with_(RA, {"flags": ["trust-address"]}),
                                                      with_(RA, {"flags": ["trust-address"]})), query())
case("trust-address-spaces", "flags [trust address] (space spelling)",
     offer(None, {"flags": ["trust address"]}))
case("sip-source-address", "flags [SIP-source-address] with received-from",
     offer(None, {"flags": ["SIP-source-address"], "received-from": ["IP4", SIP_SRC]}), answer(), query())
case("received-from-only", "received-from without SIP-source-address (SDP address trusted)",
     offer(None, {"received-from": ["IP4", SIP_SRC]}), answer(), query())
case("received-from-spaces", "'received from' (space spelling) with SIP source address",
     offer(None, {"flags": ["SIP source address"], "received from": ["IP4", SIP_SRC]}), query())
case("media-address", "media address overrides the SDP's", offer(None, {"media address": MEDIA_ADDR}),
     answer(), query())
case("media-address-hyphen", "media-address (hyphen)", offer(None, {"media-address": MEDIA_ADDR}), query())
case("media-address-invalid", "media address that is not an address",
     offer(None, {"media address": "not-an-address"}))
case("address-family-ip6", "IPv4 offer, address family IP6 toward B",
     offer(None, {"address family": "IP6"}), answer(sdp_b(medias=[media(3000, pts=(0, 101))],
                                                             conn=B6, origin=B6)))
case("address-family-ip4", "IPv6 offer, address family IP4",
     offer(sdp(A6, [media(2000)]), {"address family": "IP4"}))
case("address-family-hyphen", "address-family (hyphen) IP6", offer(None, {"address-family": "IP6"}))
case("address-family-invalid", "address family IP5", offer(None, {"address family": "IP5"}))
case("ipv6-call", "IPv6 offer and answer", offer(sdp(A6, [media(2000)]), RA),
     answer(sdp(B6, [media(3000, pts=(0, 101))], sess_id=2890844526), RA))
case("ipv6-to-ipv4", "IPv6 caller, IPv4 callee (family follows the answer)",
     offer(sdp(A6, [media(2000)]), with_(RA, {"address family": "IP4"})), answer(None, RA))
case("direction-int-ext", "direction [int, ext]", *call({"direction": ["int", "ext"]}), query())
case("direction-ext-int", "direction [ext, int]", *call({"direction": ["ext", "int"]}))
case("direction-unknown", "direction naming an interface that does not exist",
     offer(None, {"direction": ["nosuch", "ext"]}))
case("direction-one", "direction with one entry", offer(None, {"direction": ["ext"]}))
case("direction-internal-external", "direction [internal, external] (legacy names, not configured)",
     offer(None, {"direction": ["internal", "external"]}))

case("symmetric", "flags [symmetric]", *call({"flags": ["symmetric"]}))
case("asymmetric", "flags [asymmetric]", *call({"flags": ["asymmetric"]}), query())
case("strict-source", "flags [strict-source]", *call({"flags": ["strict-source"]}))
case("media-handover", "flags [media-handover]", *call({"flags": ["media-handover"]}))
case("port-latching", "flags [port-latching]", *call({"flags": ["port-latching"]}))
case("unknown-flag", "flags [no-such-flag] is ignored", offer(None, {"flags": ["no-such-flag"]}))
case("unknown-key", "an unknown key is ignored", offer(None, {"no-such-key": "x"}))
case("flags-not-a-list", "flags given as one string", offer(None, {"flags": "trust-address"}))
case("label", "label on offer, to-label on answer, query", offer(None, {"label": "caller"}),
     answer(None, {"label": "callee"}), query())
case("from-label", "from-label and to-label", offer(None, {"from-label": "a-side", "to-label": "b-side"}),
     answer(), query())
case("via-branch", "offer and answer with via-branch", offer(None, {"via-branch": "z9hG4bK-abc"}),
     answer(None, {"via-branch": "z9hG4bK-abc"}))
case("record-call-yes", "record call: yes", offer(None, {"record call": "yes"}))
case("record-call-flag", "flags [record-call]", offer(None, {"flags": ["record-call"]}))
case("start-recording", "start recording on a call", offer(), answer(), {"command": "start recording", "call-id": CID})
case("stop-recording", "stop recording on a call", offer(), answer(), {"command": "stop recording", "call-id": CID})
case("pause-recording", "pause recording on a call", offer(), {"command": "pause recording", "call-id": CID})
case("start-recording-unknown", "start recording on a call-id never seen",
     {"command": "start recording", "call-id": CID})
case("tos", "TOS 184", offer(None, {"TOS": 184}))
case("supports-load-limit", "supports [load limit] (Kamailio always sends it)",
     offer(None, {"supports": ["load limit"]}))
case("loop-protect", "flags [loop-protect]: the relay marks the SDP it rewrote",
     offer(None, {"flags": ["loop-protect"]}))
case("original-sendrecv", "flags [original-sendrecv] on a c=0.0.0.0 sendonly offer",
     offer(sdp_a(conn="0.0.0.0", medias=[media(2000, direction="sendonly")]),
           {"flags": ["original-sendrecv"]}))

# --- RTCP, rtcp-mux ----------------------------------------------------------------------

case("rtcp-attribute-in-offer", "the offer has its own a=rtcp",
     offer(sdp_a(medias=[media(2000, attrs=["a=rtcp:2005"])])))
case("no-rtcp-attribute", "flags [no-rtcp-attribute]", *call({"flags": ["no-rtcp-attribute"]}))
case("full-rtcp-attribute", "flags [full-rtcp-attribute]", *call({"flags": ["full-rtcp-attribute"]},
                                                                 {"flags": ["full-rtcp-attribute"]}))
MUX_A = sdp_a(medias=[media(2000, attrs=["a=rtcp-mux"])])
MUX_B = sdp_b(medias=[media(3000, pts=(0, 101), attrs=["a=rtcp-mux"])])
case("rtcp-mux-passthrough", "caller offers rtcp-mux, callee accepts", *call(a=MUX_A, b=MUX_B))
case("rtcp-mux-callee-declines", "caller offers rtcp-mux, callee answers without", *call(a=MUX_A))
case("rtcp-mux-offer", "rtcp-mux [offer] on a plain offer", *call({"rtcp-mux": ["offer"]}, b=MUX_B))
case("rtcp-mux-demux", "rtcp-mux [demux]", *call({"rtcp-mux": ["demux"]}, a=MUX_A))
case("rtcp-mux-accept", "rtcp-mux [accept]", *call({"rtcp-mux": ["accept"]}, a=MUX_A))
case("rtcp-mux-reject", "rtcp-mux [reject]", *call({"rtcp-mux": ["reject"]}, a=MUX_A, b=MUX_B))
case("rtcp-mux-require", "rtcp-mux [require]", *call({"rtcp-mux": ["require"]}, b=MUX_B))
case("rtcp-mux-offer-reject", "rtcp-mux [offer, reject] on a mux offer",
     *call({"rtcp-mux": ["offer", "reject"]}, a=MUX_A, b=MUX_B))
case("rtcp-mux-invalid", "rtcp-mux [sometimes]", offer(None, {"rtcp-mux": ["sometimes"]}))
case("rtcp-mux-flag-form", "flags [rtcp-mux-demux] (flag spelling)", offer(MUX_A, {"flags": ["rtcp-mux-demux"]}))

# --- ICE ------------------------------------------------------------------------------------

ICE_A = sdp_a(medias=[media(2000, attrs=ICE_ATTRS)])
case("ice-remove", "ICE=remove strips the caller's ICE", offer(ICE_A, RI), answer(None, RI))
case("ice-remove-no-ice", "ICE=remove on an SDP without ICE", offer(None, RI))
case("ice-force", "ICE=force on a plain offer", offer(None, with_(RA, {"ICE": "force"})))
case("ice-force-ice-offer", "ICE=force on an ICE offer", offer(ICE_A, with_(RA, {"ICE": "force"})))
case("ice-default-ice-offer", "no ICE key, ICE in the offer", offer(ICE_A, RA))
case("ice-default-no-ice", "ICE=default, no ICE in the offer", offer(None, with_(RA, {"ICE": "default"})))
case("ice-optional", "ICE=optional on a plain offer", offer(None, with_(RA, {"ICE": "optional"})))
case("ice-force-relay", "ICE=force-relay on an ICE offer", offer(ICE_A, with_(RA, {"ICE": "force-relay"})))
case("ice-invalid", "ICE=sometimes", offer(None, {"ICE": "sometimes"}))
case("ice-flag-form", "ICE=remove as an entry of flags", offer(ICE_A, {"flags": ["ICE=remove"]}))
case("ice-lite-forward", "ICE=force with ICE-lite forward", offer(None, {"ICE": "force", "ICE-lite": "forward"}))
case("trickle-ice", "ICE=force with flags [trickle-ICE]", offer(None, {"ICE": "force", "flags": ["trickle-ICE"]}))
case("reject-ice", "flags [reject-ICE] on an ICE offer", offer(ICE_A, {"flags": ["reject-ICE"]}))

# --- transport protocol, SDES, DTLS -----------------------------------------------------------

SRTP_A = sdp_a(medias=[media(2000, proto="RTP/SAVP", attrs=[crypto(1, KEY_A), crypto(2, KEY_A2,
                                                                          "AES_CM_128_HMAC_SHA1_32")])])
# tag 3 is AES_256_CM_HMAC_SHA1_80 in both relays' offers
SRTP_B = sdp_b(medias=[media(3000, pts=(0, 101), proto="RTP/SAVP",
                             attrs=[crypto(3, KEY_B256, "AES_256_CM_HMAC_SHA1_80")])])
SRTP_B_TAG1 = sdp_b(medias=[media(3000, pts=(0, 101), proto="RTP/SAVP", attrs=[crypto(1, KEY_B)])])
case("avp-to-savp", "transport protocol RTP/SAVP: the callee is offered SDES",
     *call(with_(RA, {"transport protocol": "RTP/SAVP"}), RA, b=SRTP_B))
case("sdes-answer-tag-mismatch", "the callee answers tag 1 with a suite the offer's tag 1 was not",
     *call({"transport protocol": "RTP/SAVP"}, b=SRTP_B_TAG1))
case("avp-to-savpf", "transport protocol RTP/SAVPF",
     offer(None, with_(RA, {"transport protocol": "RTP/SAVPF"})))
case("avp-to-avpf", "transport protocol RTP/AVPF", *call({"transport protocol": "RTP/AVPF"}))
case("avp-to-avp", "transport protocol RTP/AVP on a plain offer (no change)",
     offer(None, {"transport protocol": "RTP/AVP"}))
case("savp-to-avp", "SDES caller, transport protocol RTP/AVP toward the callee",
     *call({"transport protocol": "RTP/AVP"}, a=SRTP_A))
case("savp-passthrough", "SDES caller, SDES callee, no transport protocol",
     *call(RA, RA, a=SRTP_A, b=SRTP_B))
case("savp-callee-answers-avp", "RTP/SAVP offer passed on, callee answers RTP/AVP", *call(a=SRTP_A))
case("avp-to-dtls", "transport protocol UDP/TLS/RTP/SAVP", offer(None, {"transport protocol": "UDP/TLS/RTP/SAVP"}))
case("avp-to-dtls-f", "transport protocol UDP/TLS/RTP/SAVPF",
     offer(None, {"transport protocol": "UDP/TLS/RTP/SAVPF", "ICE": "force"}))
case("transport-protocol-hyphen", "transport-protocol (hyphen) RTP/SAVP",
     offer(None, {"transport-protocol": "RTP/SAVP"}))
case("transport-protocol-flag", "RTP/SAVP as a bare entry of flags", offer(None, {"flags": ["RTP/SAVP"]}))
case("transport-protocol-invalid", "transport protocol RTP/FOO", offer(None, {"transport protocol": "RTP/FOO"}))
case("transport-protocol-accept", "answer with transport protocol accept and an AVPF answer",
     offer(None, {"transport protocol": "RTP/AVP"}),
     answer(sdp_b(medias=[media(3000, pts=(0, 101), proto="RTP/AVPF")]), {"transport protocol": "accept"}))
case("answer-avpf-no-accept", "callee answers RTP/AVPF to an RTP/AVP offer (no accept)",
     offer(), answer(sdp_b(medias=[media(3000, pts=(0, 101), proto="RTP/AVPF")])))
case("sdes-off", "RTP/SAVP with SDES [off]", offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["off"]}))
case("sdes-no-suite", "RTP/SAVP with SDES [no-AES_CM_128_HMAC_SHA1_32]",
     offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["no-AES_CM_128_HMAC_SHA1_32"]}))
case("sdes-only-suite", "RTP/SAVP with SDES [only-AES_CM_128_HMAC_SHA1_80]",
     offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["only-AES_CM_128_HMAC_SHA1_80"]}))
case("sdes-unencrypted-srtp", "RTP/SAVP with SDES [unencrypted_srtp]",
     offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["unencrypted_srtp"]}))
case("sdes-unencrypted-srtcp-upper", "RTP/SAVP with SDES [UNENCRYPTED_SRTCP, UNAUTHENTICATED_SRTP]",
     offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP"]}))
case("sdes-pad", "RTP/SAVP with SDES [pad]", offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["pad"]}))
case("sdes-lifetime", "RTP/SAVP with SDES [lifetime]",
     offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["lifetime"]}))
case("sdes-flag-form", "flags [SDES-no-AEAD_AES_256_GCM, SDES-no-AEAD_AES_128_GCM] with RTP/SAVP",
     offer(None, {"transport protocol": "RTP/SAVP",
                  "flags": ["SDES-no-AEAD_AES_256_GCM", "SDES-no-AEAD_AES_128_GCM"]}))
case("sdes-nonew", "SDES [nonew] on an SDES offer", offer(SRTP_A, {"SDES": ["nonew"]}))
case("sdes-unknown", "SDES [sometimes]", offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["sometimes"]}))
case("sdes-nonew-plain", "RTP/SAVP with SDES [nonew] on a plain offer",
     offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["nonew"]}))
case("sdes-order", "RTP/SAVP with SDES [order:AES_CM_128_HMAC_SHA1_32;AES_256_CM_HMAC_SHA1_80]",
     offer(None, {"transport protocol": "RTP/SAVP", "SDES": ["order:AES_CM_128_HMAC_SHA1_32;AES_256_CM_HMAC_SHA1_80"]}))
case("sdes-prefer", "SDES [prefer] on an RTP/SAVP offer with a=crypto and a=fingerprint, to RTP/AVP",
     *call({"transport protocol": "RTP/AVP", "SDES": ["prefer"]},
           a=sdp_a(medias=[media(2000, proto="RTP/SAVP", attrs=[crypto(1, KEY_A), f"a=fingerprint:sha-256 {FP_A}",
                                                                  "a=setup:actpass"])])))
case("pad-crypto", "flags [pad-crypto] (legacy alias of SDES pad)",
     offer(None, {"transport protocol": "RTP/SAVP", "flags": ["pad-crypto"]}))
case("srtp-bad-key", "SDES offer with a key that is not base64",
     offer(sdp_a(medias=[media(2000, proto="RTP/SAVP", attrs=["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!!"])]),
           {"transport protocol": "RTP/AVP"}))
case("srtp-unknown-suite-only", "SDES offer with only an unknown suite, to RTP/AVP",
     offer(sdp_a(medias=[media(2000, proto="RTP/SAVP", attrs=[crypto(1, KEY_A, "FOO_BAR_80")])]),
           {"transport protocol": "RTP/AVP"}))
case("dtls-passive", "UDP/TLS/RTP/SAVPF toward B with DTLS=passive",
     offer(None, {"transport protocol": "UDP/TLS/RTP/SAVPF", "DTLS": "passive", "ICE": "force"}))
case("dtls-active", "UDP/TLS/RTP/SAVPF toward B with DTLS=active",
     offer(None, {"transport protocol": "UDP/TLS/RTP/SAVPF", "DTLS": "active", "ICE": "force"}))
case("dtls-off-savp", "RTP/SAVP with DTLS=off", offer(None, {"transport protocol": "RTP/SAVP", "DTLS": "off"}))
case("dtls-invalid", "DTLS=sometimes", offer(None, {"DTLS": "sometimes"}))
case("dtls-fingerprint-sha1", "DTLS-fingerprint sha-1",
     offer(None, {"transport protocol": "UDP/TLS/RTP/SAVPF", "DTLS-fingerprint": "sha-1"}))
case("dtls-reverse-passive", "browser offer to a trunk with DTLS-reverse=passive",
     offer(sdp_browser(), with_(RI, {"transport protocol": "RTP/AVP", "DTLS-reverse": "passive",
                                     "rtcp-mux": ["demux"]})))
case("webrtc-browser-to-trunk", "a browser's offer to a plain trunk (dictionary form)",
     offer(sdp_browser(), with_(RI, {"transport protocol": "RTP/AVP", "rtcp-mux": ["demux"],
                                     "flags": ["trust-address"]})),
     answer(None, with_(RA, {"ICE": "force", "flags": ["trust-address"]})), query())
case("webrtc-trunk-to-browser", "a trunk's offer to a browser (dictionary form)",
     offer(None, {"ICE": "force", "transport protocol": "UDP/TLS/RTP/SAVPF", "rtcp-mux": ["offer"],
                  "flags": ["generate-mid"], "SDES": ["off"]}),
     answer(sdp_browser_answer(mid="0"), with_(RI, {"transport protocol": "RTP/AVP", "rtcp-mux": ["demux"],
                                                    "flags": ["trust-address"]})))
case("generate-mid", "flags [generate-mid] on a plain offer", offer(None, {"flags": ["generate-mid"]}))
case("strip-extmap", "flags [strip-extmap] on an offer with a=extmap",
     offer(sdp_a(medias=[media(2000, attrs=["a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"])]),
           {"flags": ["strip-extmap"]}))
case("bundle-audio-video", "a browser offer bundling audio and video, to a trunk",
     offer(sdp_browser(session=["a=group:BUNDLE 0 1", "a=msid-semantic: WMS stream0"],
                       medias=[webrtc_media(),
                               media(4000, pts=(96,), proto="UDP/TLS/RTP/SAVPF", kind="video", direction="sendrecv",
                                     attrs=["a=mid:1", "a=rtcp-mux", "a=ice-ufrag:Brws",
                                            "a=ice-pwd:browserpassword0123456789", f"a=fingerprint:sha-256 {FP_A}",
                                            "a=setup:actpass"])]),
           with_(RI, {"transport protocol": "RTP/AVP", "rtcp-mux": ["demux"]})))

# --- codecs ------------------------------------------------------------------------------------

OPUS_A = sdp_a(medias=[media(2000, pts=(111, 0, 8, 101))])
case("codec-strip", "codec strip [PCMA]", *call({"codec": {"strip": ["PCMA"]}}))
case("codec-strip-all-except", "codec strip [all], except [PCMU]",
     offer(None, {"codec": {"strip": ["all"], "except": ["PCMU"]}}))
case("codec-strip-everything", "codec strip [all] leaves nothing", offer(None, {"codec": {"strip": ["all"]}}))
case("codec-flag-strip-all-alone", "flags [codec-strip-all] alone, then the answer",
     offer(None, {"flags": ["codec-strip-all"]}), answer())
case("codec-flag-mask-all-alone", "flags [codec-mask-all] alone, then the answer",
     offer(None, {"flags": ["codec-mask-all"]}), answer())
case("codec-mask-everything", "codec mask [all] alone", offer(None, {"codec": {"mask": ["all"]}}))
case("codec-strip-telephone-event", "codec strip [telephone-event]",
     offer(None, {"codec": {"strip": ["telephone-event"]}}))
case("codec-strip-payload-type", "codec strip [8] (by payload type number)",
     offer(None, {"codec": {"strip": ["8"]}}))
case("codec-offer-reorder", "codec offer [PCMA] after strip all", offer(None, {"codec": {"strip": ["all"],
                                                                                       "offer": ["PCMA", "PCMU"]}}))
case("codec-except-unknown", "codec strip all, except a codec not offered",
     offer(None, {"codec": {"strip": ["all"], "except": ["G722", "PCMU"]}}))
case("codec-mask", "codec mask [PCMA] with transcode [PCMU]", offer(None, {"codec": {"mask": ["PCMA"]}}))
OPUS_B = sdp_b(medias=[media(3000, pts=(101,), fmt="96 101", attrs=OPUS96 + ["a=rtpmap:101 telephone-event/8000",
                                                                              "a=fmtp:101 0-16"])])
OPUS_B_ONLY = sdp_b(medias=[media(3000, fmt="96", attrs=OPUS96)])
case("codec-transcode-opus", "codec transcode [opus]: offer gains opus; callee answers opus",
     offer(None, {"codec": {"transcode": ["opus"]}}), answer(OPUS_B))
case("codec-transcode-present", "codec transcode [PCMA] when PCMA is already offered",
     offer(None, {"codec": {"transcode": ["PCMA"]}}))
case("codec-transcode-g722", "codec transcode [G722] (rtpengine can, voxrelay cannot)",
     offer(None, {"codec": {"transcode": ["G722"]}}))
case("codec-transcode-unknown", "codec transcode [NOSUCH]", offer(None, {"codec": {"transcode": ["NOSUCH"]}}))
case("codec-mask-all-transcode", "codec mask [all], transcode [opus] (trunk to app), callee answers opus only",
     offer(None, {"codec": {"mask": ["all"], "transcode": ["opus"]}}), answer(OPUS_B_ONLY))
case("codec-opus-to-pcmu", "opus caller, mask opus, transcode PCMU, callee answers PCMU",
     offer(OPUS_A, {"codec": {"mask": ["opus"], "transcode": ["PCMU"]}}), answer())
case("codec-set-bitrate", "codec transcode opus with set opus/48000/2/32000",
     offer(None, {"codec": {"transcode": ["opus"], "set": ["opus/48000/2/32000"]}}))
case("codec-consume", "codec consume [PCMA]", offer(None, {"codec": {"consume": ["PCMA"]}}))
case("codec-accept", "codec accept [PCMA], callee answers PCMU only", offer(None, {"codec": {"accept": ["PCMA"]}}),
     answer())
case("codec-flag-strip", "flags [codec-strip-PCMA]", offer(None, {"flags": ["codec-strip-PCMA"]}))
case("codec-flag-transcode", "flags [codec-transcode-opus]", offer(None, {"flags": ["codec-transcode-opus"]}))
case("codec-flag-transcode-short", "flags [transcode-opus] (short form OpenSIPS documents)",
     offer(None, {"flags": ["transcode-opus"]}))
case("codec-flag-mask-all", "flags [codec-mask-all, codec-transcode-PCMA]",
     offer(OPUS_A, {"flags": ["codec-mask-all", "codec-transcode-PCMA"]}))
case("codec-strip-case", "codec strip [pcma] (lower case)", offer(None, {"codec": {"strip": ["pcma"]}}))
case("codec-not-dict", "codec given as a list", offer(None, {"codec": ["PCMA"]}))
case("always-transcode", "flags [always-transcode]", *call({"flags": ["always-transcode"]}))
case("single-codec", "flags [single-codec] in the answer",
     offer(), answer(sdp_b(medias=[media(3000, pts=(0, 8, 101))]), {"flags": ["single-codec"]}))
case("ptime-30", "ptime 30 on the offer", offer(None, {"ptime": 30}))
case("ptime-string", "ptime \"40\" given as a string", offer(None, {"ptime": "40"}))
case("ptime-reverse", "ptime-reverse 30, then the answer", offer(None, {"ptime-reverse": 30}), answer())
case("ptime-invalid", "ptime 7", offer(None, {"ptime": 7}))
case("ptime-25", "ptime 25 on a G.711 offer, then the answer", offer(None, {"ptime": 25}), answer())
case("ptime-reverse-25", "ptime-reverse 25, then the answer", offer(None, {"ptime-reverse": 25}), answer())
case("answer-unoffered-codec", "the callee answers a codec never offered",
     offer(), answer(sdp_b(medias=[media(3000, pts=(9,))])))
case("answer-unoffered-g711", "the callee answers PCMU to a PCMA-only offer (no codec options)",
     offer(sdp_a(medias=[media(2000, pts=(8, 101))])), answer(sdp_b(medias=[media(3000, pts=(0, 101))])),
     query())
case("static-pt-no-rtpmap", "static payload types without a=rtpmap",
     *call(a=sdp_a(medias=[media(2000, pts=(0, 8, 18), rtpmap=False)]),
           b=sdp_b(medias=[media(3000, pts=(0,), rtpmap=False)])))
case("dynamic-pt-opus", "opus and telephone-event/48000",
     *call(a=sdp_a(medias=[media(2000, pts=(111, 100, 0))]), b=sdp_b(medias=[media(3000, pts=(111, 100))])))
case("dtmf-only-telephone-event", "telephone-event listed first", offer(sdp_a(medias=[media(2000, pts=(101, 0))])))
case("fmtp-unknown-codec", "an unknown codec with rtpmap and fmtp",
     offer(sdp_a(medias=[media(2000, pts=(0,), attrs=["a=rtpmap:98 FOO/16000", "a=fmtp:98 x=1"], fmt="0 98")])))

# --- direction, hold, re-INVITEs ----------------------------------------------------------------

case("sendonly", "a=sendonly offer, a=recvonly answer",
     *call(a=sdp_a(medias=[media(2000, direction="sendonly")]),
           b=sdp_b(medias=[media(3000, pts=(0, 101), direction="recvonly")])))
case("inactive", "a=inactive offer", offer(sdp_a(medias=[media(2000, direction="inactive")])))
case("no-direction", "an offer without direction attribute", offer(sdp_a(medias=[media(2000, direction=None)])))
case("session-level-direction", "a=sendonly at session level",
     offer(sdp_a(session=["a=sendonly"], medias=[media(2000, direction=None)])))
case("hold-zero-address", "c=0.0.0.0 hold offer", offer(sdp_a(conn="0.0.0.0")))
case("hold-reinvite", "call, hold re-offer (sendonly), resume re-offer", *call(RA, RA),
     offer(sdp_a(version=2, medias=[media(2000, direction="sendonly")]), RA),
     answer(sdp_b(version=2, medias=[media(3000, pts=(0, 101), direction="recvonly")]), RA),
     offer(sdp_a(version=3), RA), answer(sdp_b(version=3), RA))
case("hold-zero-reinvite", "call, re-offer with c=0.0.0.0, resume", *call(RA, RA),
     offer(sdp_a(version=2, conn="0.0.0.0"), RA), answer(sdp_b(version=2), RA), offer(sdp_a(version=3), RA))
case("reinvite-same", "re-offer of the same SDP keeps the ports", *call(RA, RA), offer(None, RA),
     answer(None, RA))
case("reinvite-new-port", "re-offer with a new caller port", *call(), offer(sdp_a(version=2, medias=[media(2010)])),
     answer())
case("reinvite-from-callee", "re-offer from the callee (tags reversed)", *call(),
     offer(sdp_b(version=2), None, ft="tt", tt="ft"),
     answer(sdp_a(version=2, medias=[media(2000, pts=(0, 101))]), None, ft="tt", tt="ft"))
case("reinvite-add-video", "re-offer adding a video stream", *call(),
     offer(sdp_a(version=2, medias=[media(2000), media(2002, pts=(96,), kind="video")])),
     answer(sdp_b(version=2, medias=[media(3000, pts=(0, 101)), media(3002, pts=(96,), kind="video")])))
case("reinvite-drop-video", "call with video, re-offer rejecting it (port 0)",
     offer(sdp_a(medias=[media(2000), media(2002, pts=(96,), kind="video")])),
     answer(sdp_b(medias=[media(3000, pts=(0, 101)), media(3002, pts=(96,), kind="video")])),
     offer(sdp_a(version=2, medias=[media(2000), media(0, pts=(96,), kind="video")])))
case("reinvite-codec-change", "re-offer with PCMA only", *call(),
     offer(sdp_a(version=2, medias=[media(2000, pts=(8, 101))])),
     answer(sdp_b(version=2, medias=[media(3000, pts=(8, 101))])))
case("reoffer-with-to-tag", "re-offer carrying the to-tag", *call(), offer(None, None, tt="tt"))
case("forked-answers", "one offer, two answers with different to-tags",
     offer(), answer(None, None, tt="tt1"), answer(sdp_b(sess_id=11), None, tt="tt2"), query())
case("answer-twice", "the same answer twice (a 200 OK retransmission)", offer(), answer(), answer())
case("early-media-then-answer", "183 answer, then the 200 answer with another SDP", offer(), answer(),
     answer(sdp_b(version=2, medias=[media(3002, pts=(0, 101))])))

# --- forking: one port set per via-branch ---------------------------------------------------------

case("fork-via-branch", "two branches by via-branch, the second answers, the first is deleted",
     offer(None, {"via-branch": "b1"}), offer(None, {"via-branch": "b2"}), query(),
     answer(None, {"via-branch": "b2"}, tt="tt2"), query(),
     delete({"via-branch": "b1"}), query())
case("fork-via-branch-delete-answered", "two branches; the answered branch is deleted by via-branch",
     offer(None, {"via-branch": "b1"}), offer(None, {"via-branch": "b2"}),
     answer(None, {"via-branch": "b1"}, tt="tt1"),
     delete({"via-branch": "b1"}), query())
case("fork-via-branch-delete-unknown", "a delete naming a via-branch no offer had",
     offer(None, {"via-branch": "b1"}), answer(None, {"via-branch": "b1"}, tt="tt1"),
     delete({"via-branch": "bX"}), query())
case("fork-via-branch-untagged-answer", "two branches; the answer names the branch by via-branch only",
     offer(None, {"via-branch": "b1"}), offer(None, {"via-branch": "b2"}),
     answer(None, {"via-branch": "b1"}, tt="tt1"), query())
case("kam-fork-via-branch", "Kamailio: a forked INVITE, \"via-branch=1\" on each branch's offer and reply",
     kamailio("offer", "via-branch=1 replace-origin"),
     kamailio("offer", "via-branch=2 replace-origin"),
     kamailio("answer", "via-branch=2 replace-origin", body=sdp_b(), tt="tt2", reply=True),
     kamailio("delete", "via-branch=1"), query())

# --- several m= lines, fax, video ---------------------------------------------------------------

case("port-count", "m=audio P/2 (RFC 8866 §5.14: two RTP/RTCP port pairs) offered and answered",
     offer(sdp_a(medias=[media("2000/2")])), answer(sdp_b(medias=[media("3000/2", pts=(0, 101))])), query())

case("audio-video", "audio and video", *call(a=sdp_a(medias=[media(2000), media(2002, pts=(96, 97), kind="video")]),
                                             b=sdp_b(medias=[media(3000, pts=(0, 101)),
                                                             media(3002, pts=(96,), kind="video")])), query())
case("rejected-video", "offer with video on port 0", offer(sdp_a(medias=[media(2000), media(0, pts=(96,), kind="video")])))
case("callee-rejects-video", "callee answers video with port 0",
     *call(a=sdp_a(medias=[media(2000), media(2002, pts=(96,), kind="video")]),
           b=sdp_b(medias=[media(3000, pts=(0, 101)), media(0, pts=(96,), kind="video")])))
case("two-audio", "two audio m= lines",
     offer(sdp_a(medias=[media(2000), media(2002, pts=(8,))])))
T38 = media(2004, kind="image", proto="udptl", fmt="t38", ptime=None, direction=None,
            attrs=["a=T38FaxVersion:0", "a=T38MaxBitRate:14400", "a=T38FaxRateManagement:transferredTCF",
                   "a=T38FaxMaxDatagram:400", "a=T38FaxUdpEC:t38UDPRedundancy"])
T38_B = media(3004, kind="image", proto="udptl", fmt="t38", ptime=None, direction=None,
              attrs=["a=T38FaxVersion:0", "a=T38MaxBitRate:14400", "a=T38FaxRateManagement:transferredTCF",
                     "a=T38FaxMaxDatagram:400", "a=T38FaxUdpEC:t38UDPRedundancy"])
case("t38-offer", "m=image udptl t38 offer", offer(sdp_a(medias=[T38]), RA))
case("t38-reinvite", "audio call, re-offer switching to T.38 (audio port 0)", *call(RA, RA),
     offer(sdp_a(version=2, medias=[media(0, pts=(0,)), T38]), RA),
     answer(sdp_b(version=2, medias=[media(0, pts=(0,)), T38_B]), RA))
case("application-stream", "an m=application stream beside audio",
     offer(sdp_a(medias=[media(2000), ["m=application 2006 UDP/BFCP *", "a=floorctrl:c-only"]])))
case("media-level-attrs-order", "unknown attributes, b= and i= lines keep their order",
     offer(sdp_a(session=["a=tool:ngdiff", "b=AS:84"],
                 medias=[["m=audio 2000 RTP/AVP 0 101", "i=voice", "b=AS:64", "a=foo:bar", "a=rtpmap:0 PCMU/8000",
                          "a=rtpmap:101 telephone-event/8000", "a=x-custom", "a=maxptime:40", "a=sendrecv"]])))
case("ssrc-msid-passthrough", "a=ssrc and a=msid lines on a plain audio offer",
     offer(sdp_a(medias=[media(2000, attrs=["a=ssrc:1111 cname:abc", "a=msid:s t", "a=label:1"])])))

# --- proxy module flag strings (Kamailio, OpenSIPS documentation) -------------------------------

K_BASIC = "replace-origin replace-session-connection ICE=remove"
case("kam-readme-basic", "Kamailio: rtpengine_offer/answer(\"replace-origin replace-session-connection ICE=remove\"), "
     "rtpengine_delete(\"delete-delay=0\")",
     kamailio("offer", K_BASIC), kamailio("answer", K_BASIC, tt="tt", src=B, reply=True),
     kamailio("delete", "delete-delay=0"))
case("kam-basic-rtp-avp", "Kamailio: \"replace-origin replace-session-connection ICE=remove RTP/AVP\" on an SDES offer",
     kamailio("offer", K_BASIC + " RTP/AVP", SRTP_A), kamailio("answer", K_BASIC + " RTP/SAVP", tt="tt", src=B,
                                                                reply=True))
K_B2T_OFFER = "trust-address replace-origin replace-session-connection ICE=remove RTP/AVP rtcp-mux-demux"
K_B2T_ANSWER = "trust-address replace-origin replace-session-connection ICE=force"
case("kam-webrtc-browser-to-trunk", "Kamailio WebRTC, browser calls the trunk: offer \"" + K_B2T_OFFER
     + "\", answer \"" + K_B2T_ANSWER + "\"",
     kamailio("offer", K_B2T_OFFER, sdp_browser()),
     kamailio("answer", K_B2T_ANSWER, tt="tt", src=B, reply=True), query())
K_T2B_OFFER = "ICE=force UDP/TLS/RTP/SAVPF rtcp-mux-offer generate-mid SDES-off"
case("kam-webrtc-trunk-to-browser", "Kamailio WebRTC, trunk calls the browser: offer \"" + K_T2B_OFFER
     + "\", answer \"" + K_B2T_OFFER + "\"",
     kamailio("offer", K_T2B_OFFER), kamailio("answer", K_B2T_OFFER, sdp_browser_answer(mid="0"), tt="tt",
                                               src=B, reply=True))
case("kam-webrtc-trunk-to-browser-mid1", "as kam-webrtc-trunk-to-browser, the browser answers a=mid:1",
     kamailio("offer", K_T2B_OFFER), kamailio("answer", K_B2T_OFFER, sdp_browser_answer(mid="1"), tt="tt",
                                               src=B, reply=True))
case("kam-transcode-mask-all", "Kamailio README: \"codec-mask=all codec-transcode=PCMU codec-transcode=PCMA\" on an "
     "opus offer", kamailio("offer", "codec-mask=all codec-transcode=PCMU codec-transcode=PCMA",
                            sdp_a(medias=[media(2000, pts=(111, 101))])))
case("kam-transcode-opus-dash", "Kamailio: \"replace-origin codec-transcode-opus\" (dash form)",
     kamailio("offer", "replace-origin codec-transcode-opus"),
     kamailio("answer", "replace-origin", OPUS_B, tt="tt", src=B, reply=True))
case("kam-direction", "Kamailio: \"direction=int direction=ext replace-origin replace-session-connection\"",
     kamailio("offer", "direction=int direction=ext replace-origin replace-session-connection"),
     kamailio("answer", "replace-origin replace-session-connection", tt="tt", src=B, reply=True))
case("kam-internal-external", "Kamailio: \"internal external\" shorthand (interfaces not so named)",
     kamailio("offer", "internal external"))
case("kam-address-family", "Kamailio: \"address-family=IP6 replace-origin replace-session-connection\"",
     kamailio("offer", "address-family=IP6 replace-origin replace-session-connection"))
case("kam-media-address", "Kamailio: \"media-address=127.0.3.3\"", kamailio("offer", "media-address=" + MEDIA_ADDR))
case("kam-sip-source", "Kamailio: \"SIP-source-address received-from=127.0.4.4\"",
     kamailio("offer", "SIP-source-address received-from=" + SIP_SRC), query())
case("kam-srtp-avpf-words", "Kamailio: \"SRTP AVPF\" (protocol as words) -> RTP/SAVPF",
     kamailio("offer", "SRTP AVPF replace-origin"))
case("kam-dtls-avpf-words", "Kamailio: \"DTLS AVPF ICE=force\" -> UDP/TLS/RTP/SAVPF",
     kamailio("offer", "DTLS AVPF ICE=force"))
case("kam-dtls-passive", "Kamailio: \"UDP/TLS/RTP/SAVPF ICE=force DTLS=passive\"",
     kamailio("offer", "UDP/TLS/RTP/SAVPF ICE=force DTLS=passive"))
case("kam-sdes-off-savp", "Kamailio: \"RTP/SAVP SDES-off\"", kamailio("offer", "RTP/SAVP SDES-off"))
case("kam-sdes-unencrypted", "Kamailio: \"RTP/SAVP SDES-unencrypted_srtcp SDES-unauthenticated_srtp\"",
     kamailio("offer", "RTP/SAVP SDES-unencrypted_srtcp SDES-unauthenticated_srtp"))
case("kam-rtcp-mux-require", "Kamailio: \"rtcp-mux-require ICE=force UDP/TLS/RTP/SAVPF\"",
     kamailio("offer", "rtcp-mux-require ICE=force UDP/TLS/RTP/SAVPF"))
case("kam-ice-force-relay", "Kamailio: \"ICE=force-relay\" on an ICE offer", kamailio("offer", "ICE=force-relay", ICE_A))
case("kam-latching-flags", "Kamailio: \"asymmetric strict-source media-handover symmetric\"",
     kamailio("offer", "symmetric strict-source replace-origin"),
     kamailio("answer", "asymmetric media-handover", tt="tt", src=B, reply=True))
case("kam-record-call", "Kamailio: \"record-call=on metadata=abc\"", kamailio("offer", "record-call=on metadata=abc"))
case("kam-tos", "Kamailio: \"TOS=184\"", kamailio("offer", "TOS=184"))
case("kam-via-branch", "Kamailio: \"via-branch=1 replace-origin\" (the module fills in the Via branch)",
     kamailio("offer", "via-branch=1 replace-origin"), kamailio("delete", "via-branch=1"))
case("kam-label", "Kamailio: \"label=callerside\"", kamailio("offer", "label=callerside"), query())
case("kam-ptime", "Kamailio: \"ptime=30\" (a string value)", kamailio("offer", "ptime=30"))
case("kam-delete-to-tag", "Kamailio: rtpengine_delete(\"to-tag\") after the call", kamailio("offer", K_BASIC),
     kamailio("answer", K_BASIC, tt="tt", src=B, reply=True), kamailio("delete", "to-tag"))
case("kam-cancel-delete", "Kamailio: CANCEL before an answer: rtpengine_delete()", kamailio("offer", K_BASIC),
     kamailio("delete"))
case("kam-readme-manage-reinvite", "Kamailio: re-INVITE through rtpengine_manage (offer with to-tag)",
     kamailio("offer", K_BASIC), kamailio("answer", K_BASIC, tt="tt", src=B, reply=True),
     kamailio("offer", K_BASIC, sdp_a(version=2), tt="tt"),
     kamailio("answer", K_BASIC, sdp_b(version=2), tt="tt", src=B, reply=True))
case("osips-basic", "OpenSIPS: \"replace-origin replace-session-connection ICE=remove\"",
     opensips("offer", K_BASIC), opensips("answer", K_BASIC, tt="tt", src=B), opensips("delete"))
case("osips-transcode-doc", "OpenSIPS docs: \"codec-mask-PCMA codec-strip-opus transcode-opus\" on a PCMA+opus offer",
     opensips("offer", "codec-mask-PCMA codec-strip-opus transcode-opus",
              sdp_a(medias=[media(2000, pts=(8, 111, 101))])))
case("osips-record-call", "OpenSIPS docs: \"record-call=yes metadata=6b6579\"",
     opensips("offer", "record-call=yes metadata=6b6579"))
case("osips-webrtc", "OpenSIPS: \"ICE=force RTP/SAVPF rtcp-mux-offer replace-origin\" (SDES toward a browser)",
     opensips("offer", "ICE=force RTP/SAVPF rtcp-mux-offer replace-origin"))
case("osips-sdes-no", "OpenSIPS: \"UDP/TLS/RTP/SAVPF ICE=force SDES-no rtcp-mux-offer\" (SDES-no passed as a flag)",
     opensips("offer", "UDP/TLS/RTP/SAVPF ICE=force SDES-no rtcp-mux-offer"))
case("osips-delete-delay", "OpenSIPS: rtpengine_delete(\"delete-delay=0\")", opensips("offer"),
     opensips("delete", "delete-delay=0"))
