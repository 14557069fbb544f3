#!/usr/bin/python3
"""WebRTC calls through Kamailio (issue 15): a scripted browser (aiortc 1.4)
speaking SIP <-> Kamailio (stock `rtpengine` module, the WebRTC flag lines)
<-> a SIP trunk playing real PCMU RTP, media via the relay.

Starts the relay (`--relay voxrelay|rtpengine`, voxrelay from --build-dir,
NG on a free port, media 43000-43999), Kamailio with
tests/webrtc/kamailio_webrtc.cfg (the R-URI user picks the flag lines), and
two SIP user agents written here, all on 127.0.0.1:

- the browser: aiortc (ICE, DTLS-SRTP, a 440 Hz tone) behind a minimal SIP
  UA over plain UDP. There is no WebSocket transport (RFC 7118) on purpose:
  browsers would use SIP over WebSocket, but what the relay sees (the NG
  commands Kamailio's rtpengine module sends and the SDPs) is the same, and
  the test is about the media relay;
- the trunk: a minimal SIP UA whose media is webrtc.PlainPeerAt (PCMU/8000,
  20 ms packets of a 1000 Hz tone; every packet received is recorded).

Calls (each through Kamailio, INVITE / 100 / 180 / 200 / ACK, ~3 s of audio,
BYE):
  browser->trunk  INVITE sip:trunk@...: Kamailio sends
       rtpengine_offer("trust-address replace-origin replace-session-connection
       ICE=remove RTP/AVP rtcp-mux-demux") and on the 200
       rtpengine_answer("trust-address replace-origin replace-session-connection
       ICE=force");
  trunk->browser  INVITE sip:browser@...: rtpengine_offer("ICE=force
       UDP/TLS/RTP/SAVPF rtcp-mux-offer generate-mid SDES-off"), and on the 200
       the first line again (toward the plain trunk).
Checked: the SDP each UA receives (the trunk: RTP/AVP without ICE/DTLS; the
browser: UDP/TLS/RTP/SAVPF with ICE candidates and a fingerprint), aiortc's
ICE and DTLS connected, the trunk decodes aiortc's 440 Hz tone and aiortc
decodes the trunk's 1000 Hz tone (dominant frequency, level, purity), the NG
commands Kamailio sent (sniffed on lo: offer/answer/delete with the keys the
flag lines map to), the call gone from NG `list` after BYE, and the relay
exiting 0 on SIGTERM.

    /usr/bin/python3 tests/webrtc/test_kamailio_webrtc.py --build-dir build
    /usr/bin/python3 tests/webrtc/test_kamailio_webrtc.py --relay rtpengine [-v]

Needs root (the AF_PACKET sniffer for the NG check), kamailio +
kamailio-extra-modules, Debian's python3-aiortc. VOX_KEEP_TMP=1 keeps
Kamailio's config and log. Exit 0 = pass.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE.parent / "interop"))
import test_kamailio_sipp as ks  # noqa: E402  (Proc, sip_options_ok, ng_exchanges, paths)
import vox  # noqa: E402
import webrtc  # noqa: E402
import webrtc_calls  # noqa: E402
from webrtc import LOCAL  # noqa: E402
from webrtc_calls import MEDIA_S, TRUNK_HZ, Browser  # noqa: E402

SIP_T1 = 0.5
ARGS = None

# The keys Kamailio's rtpengine module must turn the flag lines into (a
# list: these entries at least).
TO_PLAIN_KEYS = {"ICE": "remove", "transport-protocol": "RTP/AVP", "flags": ["trust-address"],
                 "replace": ["origin", "session-connection"], "rtcp-mux": ["demux"]}
ANSWER_TO_BROWSER_KEYS = {"ICE": "force", "flags": ["trust-address"],
                          "replace": ["origin", "session-connection"]}
TO_BROWSER_KEYS = {"ICE": "force", "transport-protocol": "UDP/TLS/RTP/SAVPF",
                   "flags": ["generate-mid"], "rtcp-mux": ["offer"], "SDES": ["off"]}


def log(msg: str) -> None:
    print(f"[kam-webrtc] {msg}", flush=True)


# --------------------------------------------------------------------------
# a minimal SIP UA over UDP (RFC 3261: just what these two calls need)

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type"}


class SipMsg:
    def __init__(self, data: bytes, src: tuple):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        self.start = lines[0]
        self.src = src
        self.headers: list = []   # (lower-case name, value) in order
        for ln in lines[1:]:
            if ln[:1] in (" ", "\t") and self.headers:   # folded
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + ln.strip())
                continue
            name, _, value = ln.partition(":")
            name = name.strip().lower()
            self.headers.append((COMPACT.get(name, name), value.strip()))
        self.body = body.decode(errors="replace")
        parts = self.start.split(" ", 2)
        self.is_response = parts[0] == "SIP/2.0"
        self.status = int(parts[1]) if self.is_response else 0
        self.method = self.cseq[1] if self.is_response else parts[0]

    def all(self, name: str) -> list:
        return [v for n, v in self.headers if n == name]

    def get(self, name: str) -> str:
        v = self.all(name)
        return v[0] if v else ""

    @property
    def cseq(self) -> tuple:
        n, _, m = self.get("cseq").partition(" ")
        return int(n or 0), m.strip()

    @property
    def branch(self) -> str:
        m = re.search(r";branch=([^;,\s]+)", self.get("via"))
        return m.group(1) if m else ""

    def tag(self, name: str) -> str:
        m = re.search(r";tag=([^;>\s]+)", self.get(name))
        return m.group(1) if m else ""

    def uri(self, name: str) -> str:
        v = self.get(name)
        m = re.search(r"<([^>]+)>", v)
        return m.group(1) if m else v.split(";")[0].strip()


def uri_addr(uri: str) -> tuple:
    """(host, port) of a sip: URI (loopback IPv4 only here)."""
    m = re.match(r"sips?:(?:[^@;>]+@)?([^:;>]+)(?::(\d+))?", uri)
    assert m, f"cannot parse SIP URI {uri!r}"
    return m.group(1), int(m.group(2) or 5060)


class SipUA(asyncio.DatagramProtocol):
    """One user agent (``user``) on 127.0.0.1:port, one dialog at a time,
    either side. Retransmits INVITE / 200 / BYE on T1 doubling; answers a
    retransmitted 200 with the same ACK."""

    def __init__(self, name: str, user: str, proxy: tuple):
        self.name, self.user, self.proxy = name, user, proxy
        self.transport = None
        self.port = 0
        self.q: asyncio.Queue = asyncio.Queue()
        self.log: list = []            # start lines seen / sent, for diagnostics
        self.last_ack: Optional[bytes] = None
        self.ack_to: Optional[tuple] = None
        self.dialog: dict = {}

    @classmethod
    async def create(cls, name: str, user: str, proxy: tuple) -> "SipUA":
        loop = asyncio.get_running_loop()
        ua = cls(name, user, proxy)
        await loop.create_datagram_endpoint(lambda: ua, local_addr=(LOCAL, 0))
        return ua

    def connection_made(self, transport):
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data, addr):
        if len(data) < 10 or not data[:3].isalpha():   # keep-alives etc.
            return
        msg = SipMsg(data, addr)
        self.log.append(f"< {msg.start}")
        if msg.is_response and msg.method == "INVITE" and msg.status == 200 and self.last_ack:
            self.transport.sendto(self.last_ack, self.ack_to)   # a retransmitted 200
            return
        self.q.put_nowait(msg)

    def close(self):
        if self.transport:
            self.transport.close()

    def send(self, text: str, addr: tuple) -> bytes:
        data = text.encode()
        self.log.append(f"> {text.split(chr(13), 1)[0]}")
        self.transport.sendto(data, addr)
        return data

    async def recv(self, want, timeout: float, what: str, resend=None) -> SipMsg:
        """The next message ``want(msg)`` accepts (others are dropped);
        ``resend``: (bytes, addr) retransmitted on T1 doubling until then."""
        deadline = time.monotonic() + timeout
        t = SIP_T1
        next_tx = time.monotonic() + t
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise AssertionError(f"{self.name}: no {what} within {timeout} s; SIP seen: "
                                     f"{self.log[-12:]}")
            wait = min(deadline, next_tx) - now if resend else deadline - now
            try:
                msg = await asyncio.wait_for(self.q.get(), max(wait, 0.01))
            except asyncio.TimeoutError:
                if resend and time.monotonic() >= next_tx:
                    self.transport.sendto(*resend)
                    t = min(t * 2, 4.0)
                    next_tx = time.monotonic() + t
                continue
            if want(msg):
                return msg

    def via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {LOCAL}:{self.port};branch={branch};rport"

    @staticmethod
    def _branch() -> str:
        return "z9hG4bK" + uuid.uuid4().hex[:16]

    def contact(self) -> str:
        return f"<sip:{self.user}@{LOCAL}:{self.port}>"

    # ---------------- UAC

    async def invite(self, callee_user: str, callee_port: int, sdp: str) -> tuple:
        """INVITE sip:callee@127.0.0.1:callee_port through the proxy, SDP
        offer; returns (the 200's SDP, provisional statuses seen). Sends the ACK."""
        d = self.dialog = {"call_id": f"{uuid.uuid4().hex}@{LOCAL}",
                           "from_tag": uuid.uuid4().hex[:10], "cseq": 1,
                           "ruri": f"sip:{callee_user}@{LOCAL}:{callee_port}",
                           "to": f"<sip:{callee_user}@{LOCAL}>",
                           "from": f"<sip:{self.user}@{LOCAL}>"}
        branch = self._branch()
        body = sdp if sdp.endswith("\r\n") else sdp + "\r\n"
        req = (f"INVITE {d['ruri']} SIP/2.0\r\nVia: {self.via(branch)}\r\nMax-Forwards: 70\r\n"
               f"From: {d['from']};tag={d['from_tag']}\r\nTo: {d['to']}\r\n"
               f"Call-ID: {d['call_id']}\r\nCSeq: 1 INVITE\r\nContact: {self.contact()}\r\n"
               f"User-Agent: voxrelay-test {self.name}\r\nContent-Type: application/sdp\r\n"
               f"Content-Length: {len(body.encode())}\r\n\r\n{body}")
        data = self.send(req, self.proxy)
        provisional = []
        resend: Optional[tuple] = (data, self.proxy)
        while True:
            r = await self.recv(lambda m: m.is_response and m.method == "INVITE", 15,
                                "final response to INVITE", resend)
            if r.status < 200:
                provisional.append(r.status)
                resend = None      # a provisional response stops retransmission
                continue
            break
        assert r.status == 200, f"{self.name}: INVITE got {r.start}\n{r.body}"
        d["to_tag"] = r.tag("to")
        d["to_full"] = r.get("to")
        d["remote_target"] = r.uri("contact")
        # UAC route set: Record-Route reversed
        rr = [u for v in r.all("record-route") for u in re.findall(r"<[^>]+>", v)]
        d["route"] = list(reversed(rr))
        self.last_ack = self._in_dialog("ACK", 1, self._branch())
        self.ack_to = self._next_hop()
        self.log.append("> ACK")
        self.transport.sendto(self.last_ack, self.ack_to)
        return r.body, provisional

    def _next_hop(self) -> tuple:
        d = self.dialog
        if d.get("route"):
            return uri_addr(d["route"][0].strip("<>"))
        return uri_addr(d["remote_target"])

    def _in_dialog(self, method: str, cseq: int, branch: str) -> bytes:
        d = self.dialog
        route = "".join(f"Route: {r}\r\n" for r in d.get("route", []))
        if "local_tag" in d:   # we are the UAS of this dialog
            frm, to = f"{d['local']};tag={d['local_tag']}", d["remote_full"]
        else:
            frm, to = f"{d['from']};tag={d['from_tag']}", d["to_full"]
        return (f"{method} {d['remote_target']} SIP/2.0\r\nVia: {self.via(branch)}\r\n"
                f"Max-Forwards: 70\r\n{route}From: {frm}\r\nTo: {to}\r\n"
                f"Call-ID: {d['call_id']}\r\nCSeq: {cseq} {method}\r\n"
                f"Content-Length: 0\r\n\r\n").encode()

    async def bye(self) -> None:
        self.dialog["cseq"] = self.dialog.get("cseq", 1) + 1
        req = self._in_dialog("BYE", self.dialog["cseq"], self._branch())
        self.log.append("> BYE")
        hop = self._next_hop()
        self.transport.sendto(req, hop)
        r = await self.recv(lambda m: m.is_response and m.method == "BYE" and m.status >= 200, 8,
                            "final response to BYE", (req, hop))
        assert r.status == 200, f"{self.name}: BYE got {r.start}"

    # ---------------- UAS

    def _response(self, req: SipMsg, status: str, to_tag: str, body: str = "",
                  contact: bool = False) -> str:
        vias = "".join(f"Via: {v}\r\n" for v in req.all("via"))
        rrs = "".join(f"Record-Route: {v}\r\n" for v in req.all("record-route"))
        to = req.get("to") + (f";tag={to_tag}" if to_tag and ";tag=" not in req.get("to") else "")
        extra = f"Contact: {self.contact()}\r\n" if contact else ""
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        return (f"SIP/2.0 {status}\r\n{vias}{rrs}From: {req.get('from')}\r\nTo: {to}\r\n"
                f"Call-ID: {req.get('call-id')}\r\nCSeq: {req.get('cseq')}\r\n{extra}{ctype}"
                f"Content-Length: {len(body.encode())}\r\n\r\n{body}")

    @staticmethod
    def _reply_addr(req: SipMsg) -> tuple:
        """Where a response goes: the top Via's sent-by (received/rport if set)."""
        via = req.get("via")
        m = re.match(r"SIP/2.0/UDP\s+([^:;\s]+)(?::(\d+))?", via)
        host, port = m.group(1), int(m.group(2) or 5060)
        rp = re.search(r";rport=(\d+)", via)
        rc = re.search(r";received=([^;\s]+)", via)
        return (rc.group(1) if rc else host, int(rp.group(1)) if rp else port)

    async def answer_call(self, make_answer, timeout: float = 15) -> str:
        """Waits for an INVITE, sends 180, ``await make_answer(offer_sdp)``,
        sends 200 with it until the ACK comes; returns the offer's SDP."""
        inv = await self.recv(lambda m: not m.is_response and m.method == "INVITE", timeout,
                              "INVITE")
        to_tag = uuid.uuid4().hex[:10]
        addr = self._reply_addr(inv)
        self.send(self._response(inv, "180 Ringing", to_tag, contact=True), addr)
        answer = await make_answer(inv.body)
        body = answer if answer.endswith("\r\n") else answer + "\r\n"
        ok = self.send(self._response(inv, "200 OK", to_tag, body, contact=True), addr)
        rr = [u for v in inv.all("record-route") for u in re.findall(r"<[^>]+>", v)]
        self.dialog = {"call_id": inv.get("call-id"), "local_tag": to_tag,
                       "local": inv.get("to").split(";tag=")[0], "remote_full": inv.get("from"),
                       "remote_target": inv.uri("contact"), "route": rr, "cseq": 0}
        await self.recv(lambda m: not m.is_response and m.method == "ACK", 10, "ACK for 200",
                        (ok, addr))
        return inv.body

    async def expect_bye(self, timeout: float = 10) -> None:
        bye = await self.recv(lambda m: not m.is_response and m.method == "BYE", timeout, "BYE")
        self.send(self._response(bye, "200 OK", ""), self._reply_addr(bye))


# --------------------------------------------------------------------------
# the two media sides


# The browser: webrtc_calls.Browser (aiortc on 127.0.0.1 sending a 440 Hz
# tone, recording what it gets); the trunk: webrtc.PlainPeerAt.


def check_sdp_to_trunk(sdp: str, what: str) -> None:
    m = vox.parse_sdp(sdp).media[0]
    assert m.proto == "RTP/AVP", f"{what}: m= proto {m.proto!r}, expected RTP/AVP:\n{sdp}"
    for a in ("candidate", "ice-ufrag", "fingerprint", "crypto"):
        assert not m.has(a), f"{what}: the plain trunk got a={a}:\n{sdp}"
    assert "0" in m.fmts, f"{what}: no PCMU (PT 0): {m.lines[0]}"


def check_sdp_to_browser(sdp: str, what: str) -> None:
    m = vox.parse_sdp(sdp).media[0]
    assert m.proto == "UDP/TLS/RTP/SAVPF", f"{what}: m= proto {m.proto!r}:\n{sdp}"
    for a in ("fingerprint", "ice-ufrag", "ice-pwd", "candidate", "setup"):
        assert m.has(a), f"{what}: the browser got no a={a}:\n{sdp}"
    assert not m.has("crypto"), f"{what}: SDES a=crypto toward the browser:\n{sdp}"


async def audio_both_ways(browser: Browser, plain: webrtc.PlainPeer, what: str) -> str:
    r = await webrtc_calls.audio_check(browser, plain, what, MEDIA_S, peer="the trunk")
    up, down = r["up"], r["down"]
    return (f"trunk heard {up['freq']:.0f} Hz (RMS {up['rms']:.0f}, purity {up['purity']:.2f}); "
            f"aiortc heard {down['freq']:.0f} Hz (RMS {down['rms']:.0f}, purity "
            f"{down['purity']:.2f}, {r['frames']} frames); ICE {browser.pc.iceConnectionState}, "
            f"DTLS {browser.dtls_state()}")


# --------------------------------------------------------------------------
# the calls


async def call_browser_to_trunk(kam: tuple, calls: list) -> None:
    from aiortc import RTCSessionDescription
    browser, plain = Browser(), webrtc.PlainPeerAt(LOCAL, TRUNK_HZ)
    ua_b = await SipUA.create("browser UAC", "alice-webrtc", kam)
    ua_t = await SipUA.create("trunk UAS", "trunk", kam)
    try:
        tr = browser.pc.addTransceiver(browser.track, direction="sendrecv")
        webrtc.prefer_codec(tr, "audio/PCMU")
        await browser.pc.setLocalDescription(await browser.pc.createOffer())
        got = {}

        async def trunk_answer(offer):
            check_sdp_to_trunk(offer, "INVITE at the trunk")
            got["offer"] = offer
            plain.start(webrtc.media_target(offer))
            return plain.sdp(("PCMU",))

        uas = asyncio.ensure_future(ua_t.answer_call(trunk_answer))
        answer, prov = await ua_b.invite("trunk", ua_t.port, browser.pc.localDescription.sdp)
        await uas
        calls.append(ua_b.dialog["call_id"])
        check_sdp_to_browser(answer, "200 OK at the browser")
        assert any("PCMU/8000" in v for v in vox.parse_sdp(answer).media[0].attr("rtpmap")), \
            f"200 OK at the browser lacks PCMU:\n{answer}"
        await browser.pc.setRemoteDescription(
            RTCSessionDescription(webrtc.for_aiortc(answer), "answer"))
        await browser.connected()
        log(f"browser->trunk: provisional {prov}; " +
            await audio_both_ways(browser, plain, "browser->trunk"))
        bye = asyncio.ensure_future(ua_t.expect_bye())
        await ua_b.bye()
        await bye
    finally:
        await browser.close()
        plain.close()
        ua_b.close()
        ua_t.close()


async def call_trunk_to_browser(kam: tuple, calls: list) -> None:
    from aiortc import RTCSessionDescription
    browser, plain = Browser(), webrtc.PlainPeerAt(LOCAL, TRUNK_HZ)
    ua_t = await SipUA.create("trunk UAC", "trunk", kam)
    ua_b = await SipUA.create("browser UAS", "alice-webrtc", kam)
    try:
        async def browser_answer(offer):
            check_sdp_to_browser(offer, "INVITE at the browser")
            m = vox.parse_sdp(offer).media[0]
            for a in ("mid", "rtcp-mux"):
                assert m.has(a), f"INVITE at the browser: no a={a} (generate-mid, " \
                                 f"rtcp-mux-offer):\n{offer}"
            await browser.pc.setRemoteDescription(
                RTCSessionDescription(webrtc.for_aiortc(offer), "offer"))
            browser.pc.addTrack(browser.track)
            await browser.pc.setLocalDescription(await browser.pc.createAnswer())
            return browser.pc.localDescription.sdp

        uas = asyncio.ensure_future(ua_b.answer_call(browser_answer))
        answer, prov = await ua_t.invite("browser", ua_b.port,
                                         plain.sdp(("PCMU", "PCMA", "telephone-event")))
        await uas
        calls.append(ua_t.dialog["call_id"])
        check_sdp_to_trunk(answer, "200 OK at the trunk")
        plain.start(webrtc.media_target(answer))
        await browser.connected()
        log(f"trunk->browser: provisional {prov}; " +
            await audio_both_ways(browser, plain, "trunk->browser"))
        bye = asyncio.ensure_future(ua_b.expect_bye())
        await ua_t.bye()
        await bye
    finally:
        await browser.close()
        plain.close()
        ua_b.close()
        ua_t.close()


# --------------------------------------------------------------------------


def check_ng(sniffer, ng_port: int, own_port: int, call_id: str, offer_keys: dict,
             answer_keys: dict) -> str:
    """Kamailio's NG commands for ``call_id``: offer, answer, delete, all ok,
    with the keys the flag lines map to."""
    ex = [e for e in ks.ng_exchanges([p for p in sniffer.snapshot()
                                      if ng_port in (p.sport, p.dport)], ng_port, own_port)
          if e[1].get("call-id") == call_id]
    cmds = [q.get("command") for _, q, _, _ in ex]
    problems = []
    for c in ("offer", "answer", "delete"):
        if c not in cmds:
            problems.append(f"no NG {c!r} from Kamailio (saw {cmds})")
    for _, q, r, _ in ex:
        if r is None or r.get("result") != "ok":
            problems.append(f"NG {q.get('command')!r} -> {ks.short(r, 300)}")
        want = {"offer": offer_keys, "answer": answer_keys}.get(q.get("command"), {})
        for k, v in want.items():
            got = q.get(k, q.get(k.replace("-", " ")))
            if (not set(v) <= set(got or []) if isinstance(v, list) else got != v):
                problems.append(f"NG {q['command']}: {k} = {got!r}, expected {v!r} "
                                f"(request keys: {sorted(q)})")
        if ARGS.verbose:
            log(f"NG {q.get('command')}: {ks.short({k: v for k, v in q.items() if k != 'sdp'})}")
    assert not problems, "; ".join(problems)
    return f"NG from Kamailio: {cmds}"


def main() -> int:
    global ARGS
    ARGS = webrtc.relay_args(__doc__.splitlines()[0])
    logging.basicConfig(level=logging.DEBUG if ARGS.verbose else logging.WARNING)
    for tool in (ks.KAMAILIO,):
        if not Path(tool).exists():
            print(f"FAIL: {tool} not installed (tools/setup.sh --test installs it)")
            return 2
    if os.geteuid() != 0:
        print("FAIL: needs root (AF_PACKET sniffer for the NG check)")
        return 2
    webrtc.whole_test_limit(85)
    runner = vox.CaseRunner(f"WebRTC through Kamailio on {ARGS.relay}")
    tmp = Path(tempfile.mkdtemp(prefix="vox-kam-webrtc-"))
    kam = sniffer = None
    try:
        with webrtc.start_relay(ARGS) as relay:
            kam_port = vox.free_udp_port()
            sniffer = vox.RtpSniffer([(relay.ng_port, relay.ng_port)], iface="lo",
                                     keep_payload=True).start()
            cfg = (HERE / "kamailio_webrtc.cfg").read_text()
            cfg = (cfg.replace("@SIP_PORT@", str(kam_port)).replace("@NG_PORT@", str(relay.ng_port))
                   .replace("@NG_HOST@", LOCAL).replace("@MODULE_PATH@", ks.KAM_MODULES))
            (tmp / "kamailio.cfg").write_text(cfg)
            (tmp / "run").mkdir()
            kam = ks.Proc("kamailio", [
                ks.KAMAILIO, "-DD", "-E", "-f", str(tmp / "kamailio.cfg"),
                "-P", str(tmp / "kamailio.pid"), "-Y", str(tmp / "run"), "-w", str(tmp),
                "-m", "64", "-M", "8", "--atexit=no"], tmp, tmp / "kamailio.log")
            deadline = time.monotonic() + 15
            while not ks.sip_options_ok(kam_port):
                if kam.p.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"kamailio did not come up (no 200 to OPTIONS):\n"
                                         f"{vox.tail(tmp / 'kamailio.log', 30)}")
                time.sleep(0.2)
            log(f"kamailio up on {LOCAL}:{kam_port}, relay NG {LOCAL}:{relay.ng_port}")
            own = relay.ng.sock.getsockname()[1]
            for name, fn, offer_keys, answer_keys in (
                    ("browser->trunk", call_browser_to_trunk, TO_PLAIN_KEYS,
                     ANSWER_TO_BROWSER_KEYS),
                    ("trunk->browser", call_trunk_to_browser, TO_BROWSER_KEYS, TO_PLAIN_KEYS)):
                if ARGS.only and not any(o in name for o in ARGS.only):
                    continue
                calls: list = []

                def one(fn=fn, calls=calls, offer_keys=offer_keys, answer_keys=answer_keys):
                    asyncio.run(asyncio.wait_for(fn((LOCAL, kam_port), calls), 40))
                    time.sleep(0.3)
                    log(check_ng(sniffer, relay.ng_port, own, calls[0], offer_keys, answer_keys))
                    left = relay.ng.list_calls()
                    assert calls[0] not in left, f"call {calls[0]} still listed after BYE: {left}"
                runner.run(f"{name} via Kamailio: SIP, SDPs, audio both ways, NG, BYE", one)
                if runner.failures:
                    print(f"----- kamailio log (tail) -----\n{vox.tail(tmp / 'kamailio.log', 40)}")
            if kam is not None:
                kam.stop()
                kam = None
        if ARGS.relay == "voxrelay":
            def clean_exit():
                assert relay.clean_exit, (f"voxrelay exit code {relay.returncode}"
                                          f"{', SIGKILLed' if relay.killed else ''} after SIGTERM")
            runner.run("relay exits 0 on SIGTERM", clean_exit)
    except webrtc.Deadline as e:
        runner.fail("deadline", str(e))
    except vox.RelayError as e:
        runner.fail(f"starting {ARGS.relay}", str(e))
    except AssertionError as e:
        runner.fail("setup", str(e))
    finally:
        import signal
        signal.alarm(0)
        if kam is not None:
            kam.stop()
        if sniffer is not None:
            sniffer.stop()
        if os.environ.get("VOX_KEEP_TMP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
