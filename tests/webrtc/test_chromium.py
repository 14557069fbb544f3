#!/usr/bin/python3
"""WebRTC interop (issue 15) with a real browser: headless Chromium <-> the
relay <-> a plain G.711 RTP peer, on 127.0.0.1.

The test serves tests/webrtc/page.html from a tiny signalling server
(http.server on 127.0.0.1). The page takes the fake microphone (Chromium's
periodic beep), creates an offer and POSTs it; the test sends it to the relay
as NG `offer` with Kamailio's browser->trunk flags (trust-address
replace-origin replace-session-connection ICE=remove RTP/AVP rtcp-mux-demux),
the plain peer answers PCMU, NG `answer` (ICE=force toward the browser), and
the page gets the answer. The plain peer plays a 1000 Hz tone. After 4 s the
page POSTs what it saw: DTLS transport state, getStats() inbound-rtp
packetsReceived, and the remote audio's energy and dominant frequency through
a WebAudio AnalyserNode (inbound totalAudioEnergy stays 0 headless when
nothing plays it out).

Proves: a real browser's ICE + DTLS-SRTP (Opus offered first, as browsers
do; the relay keeps PCMU, which Chromium also offers) complete against the
relay, the browser decodes the trunk's tone, and the trunk decodes the
browser's beep (non-silent, bursty: energy and periodicity, not correlation).

Cases (one relay, a fresh Chromium and call each):
  browser->trunk        as above;
  browser->trunk dtmf   the plain peer answers PCMU + telephone-event/8000 (on
                        the PT Chromium offered: passthrough); 1 s after DTLS
                        connects the page calls dtmf.insertDTMF("123#") and
                        the plain peer must receive RFC 4733 events 1, 2, 3,
                        # (each with an end packet), besides the audio checks;
  browser->trunk opus dtmf  the same with Chromium offering only Opus and
                        telephone-event (setCodecPreferences, ?codecs=) and
                        NG `codec: {transcode: [PCMU]}`: the relay transcodes
                        Opus <-> PCMU and telephone-event/48000 -> /8000;
  trunk->browser        the plain peer offers PCMU, PCMA, telephone-event
                        with Kamailio's flags toward a browser (ICE=force
                        UDP/TLS/RTP/SAVPF rtcp-mux-offer generate-mid
                        SDES-off); the page (?role=answer) answers, NG answer
                        with the browser->trunk flags; audio both ways.

    /usr/bin/python3 tests/webrtc/test_chromium.py --relay rtpengine
    /usr/bin/python3 tests/webrtc/test_chromium.py --build-dir build

Needs chromium. Exit 0 = pass; ~30 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
import vox  # noqa: E402
import webrtc  # noqa: E402
from webrtc import BROWSER_SIDE, LOCAL  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TRUNK_HZ = 1000.0
ANSWER_TO_BROWSER = {"flags": ["trust-address"], "replace": ["origin", "session-connection"],
                     "ICE": "force"}
DTMF_DIGITS = "123#"
# the browser offers only Opus and telephone-event; Kamailio's codec-transcode-PCMU
OPUS_TO_PCMU = {"transcode": ["PCMU"]}


class Signalling:
    """GET / -> page.html; POST /offer, GET /answer (204 until set), POST
    /result, POST /log (printed); the other way round GET /remote-offer (204
    until set), POST /local-answer."""

    def __init__(self):
        self.offer = self.answer = self.result = None
        self.remote_offer = self.local_answer = None
        self.cond = threading.Condition()
        sig = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body=b"", ctype="text/plain"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.split("?")[0] in ("/", "/page.html"):
                    self._send(200, (HERE / "page.html").read_bytes(), "text/html")
                elif self.path in ("/answer", "/remote-offer"):
                    with sig.cond:
                        a = getattr(sig, self.path[1:].replace("-", "_"))
                    self._send(200, a.encode()) if a else self._send(204)
                else:
                    self._send(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.path == "/log":
                    print(f"      [page] {body}", flush=True)
                elif self.path in ("/offer", "/result", "/local-answer"):
                    with sig.cond:
                        setattr(sig, self.path[1:].replace("-", "_"), json.loads(body))
                        sig.cond.notify_all()
                else:
                    return self._send(404)
                self._send(200)

        self.httpd = ThreadingHTTPServer((LOCAL, 0), Handler)
        self.url = f"http://{LOCAL}:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, what: str, timeout: float):
        with self.cond:
            self.cond.wait_for(lambda: getattr(self, what) is not None, timeout)
            v = getattr(self, what)
        if v is None:
            raise AssertionError(f"the page posted no /{what} within {timeout} s")
        return v

    def set_answer(self, sdp: str) -> None:
        with self.cond:
            self.answer = sdp

    def set_remote_offer(self, sdp: str) -> None:
        with self.cond:
            self.remote_offer = sdp

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def start_chromium(url: str, profile: str) -> subprocess.Popen:
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--use-fake-ui-for-media-stream",
           "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection",
           "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}",
           "--no-first-run", "--no-default-browser-check", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-features=WebRtcHideLocalIpsWithMdns", url]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(Path(profile) / "chromium.log", "wb"),
                            start_new_session=True)


def loopback_candidates(sdp: str) -> str:
    """Keep only the browser's 127.0.0.1 candidates: all media stays on loopback."""
    return "".join(line for line in sdp.splitlines(keepends=True)
                   if not line.startswith("a=candidate:") or f" {LOCAL} " in line)


def check_beep(pcm: np.ndarray) -> str:
    """The trunk heard the fake microphone: non-silent, and bursty (the beep
    comes and goes: some 20 ms windows loud, some quiet, several bursts)."""
    n = len(pcm) // 160
    assert n >= 100, f"trunk decoded only {len(pcm)} samples from the browser (expected ~3 s)"
    win = np.sqrt(np.mean(pcm[:n * 160].reshape(n, 160).astype(np.float64) ** 2, axis=1))
    loud = win > max(300.0, win.max() / 4)
    bursts = int(np.sum(loud[1:] & ~loud[:-1]) + loud[0])
    desc = (f"{n} windows of 20 ms, max RMS {win.max():.0f}, {loud.mean() * 100:.0f} % loud, "
            f"{bursts} bursts")
    assert win.max() > 1000, f"trunk: the browser's audio is silent ({desc})"
    assert 0.01 < loud.mean() < 0.95 and bursts >= 2, f"trunk: no periodic beep ({desc})"
    return desc


def browser_offers(args, relay, sig: Signalling, plain, cid: str, dtmf: bool,
                   codec: Optional[dict] = None) -> tuple:
    """Chromium's offer -> NG offer (browser->trunk flags) -> the plain peer
    answers PCMU (+ telephone-event/8000 on Chromium's PT with ``dtmf``) ->
    NG answer -> the page. Returns (SDP to the trunk, SDP to the browser)."""
    offer = sig.wait("offer", 20)["sdp"]
    cands = re.findall(r"^a=candidate:.*$", offer, re.M)
    assert any(f" {LOCAL} " in c for c in cands), \
        f"Chromium offered no 127.0.0.1 candidate: {cands}"
    to_trunk = webrtc.ng(relay, {"command": "offer", "call-id": cid, "from-tag": "browser",
                                 "sdp": loopback_candidates(offer), **BROWSER_SIDE,
                                 **({"codec": codec} if codec else {})},
                         args.verbose)["sdp"]
    m = vox.parse_sdp(to_trunk).media[0]
    assert m.proto == "RTP/AVP" and "0" in m.fmts and not m.has("candidate"), \
        f"offer to trunk:\n{to_trunk}"
    codecs = ("PCMU",)
    if dtmf:
        te = webrtc.pt_of(m, "telephone-event/8000")
        assert te, f"offer to trunk: no telephone-event/8000 (Chromium offers it):\n{to_trunk}"
        plain.te_pt, codecs = te[0], ("PCMU", "telephone-event")
    to_browser = webrtc.ng(relay, {"command": "answer", "call-id": cid, "from-tag": "browser",
                                   "to-tag": "trunk", "sdp": plain.sdp(codecs),
                                   **ANSWER_TO_BROWSER}, args.verbose)["sdp"]
    b = vox.parse_sdp(to_browser).media[0]
    if dtmf:
        assert webrtc.pt_of(b, "telephone-event/"), \
            f"answer to the browser: no telephone-event:\n{to_browser}"
    if codec:  # the browser offered Opus only: transcoding
        assert webrtc.pt_of(b, "opus/48000") and not webrtc.pt_of(b, "PCMU/"), \
            f"answer to the browser: expected Opus (it offered no PCMU):\n{to_browser}"
    sig.set_answer(to_browser)
    return to_trunk, to_browser


def browser_answers(args, relay, sig: Signalling, plain, cid: str) -> tuple:
    """The plain peer offers PCMU, PCMA, telephone-event -> NG offer (flags
    toward a browser) -> the page answers -> NG answer (browser->trunk flags).
    Returns (SDP to the trunk, SDP to the browser)."""
    to_browser = webrtc.ng(relay, {"command": "offer", "call-id": cid, "from-tag": "trunk",
                                   "sdp": plain.sdp(("PCMU", "PCMA", "telephone-event")),
                                   **webrtc.WEBRTC_SIDE}, args.verbose)["sdp"]
    m = vox.parse_sdp(to_browser).media[0]
    assert m.proto == "UDP/TLS/RTP/SAVPF", f"offer to the browser: m= proto {m.proto!r}"
    for attr in ("fingerprint", "ice-ufrag", "ice-pwd", "candidate", "mid", "rtcp-mux", "setup"):
        assert m.has(attr), f"offer to the browser lacks a={attr}:\n{to_browser}"
    assert not m.has("crypto"), "offer to the browser has SDES a=crypto despite SDES-off"
    sig.set_remote_offer(to_browser)
    answer = sig.wait("local_answer", 20)["sdp"]
    cands = re.findall(r"^a=candidate:.*$", answer, re.M)
    assert any(f" {LOCAL} " in c for c in cands), \
        f"Chromium answered without a 127.0.0.1 candidate: {cands}"
    to_trunk = webrtc.ng(relay, {"command": "answer", "call-id": cid, "from-tag": "trunk",
                                 "to-tag": "browser", "sdp": loopback_candidates(answer),
                                 **BROWSER_SIDE}, args.verbose)["sdp"]
    t = vox.parse_sdp(to_trunk).media[0]
    assert t.proto == "RTP/AVP" and not t.has("candidate") and t.fmts and t.fmts[0] == "0", \
        f"answer to trunk (expected RTP/AVP, PCMU first):\n{to_trunk}"
    return to_trunk, to_browser


def check_dtmf(res: dict, plain, t0: float) -> str:
    d = res.get("dtmf") or {}
    assert d.get("canInsertDTMF"), f"the page could not insert DTMF: {d}"
    pkts = plain.rtp_since(t0, plain.te_pt)
    events = webrtc.dtmf_events(pkts)
    desc = webrtc.describe_dtmf(events)
    digits = "".join(e["digit"] for e in events)
    assert digits == DTMF_DIGITS, (f"trunk: telephone-event (PT {plain.te_pt}) digits {digits!r}, "
                                   f"expected {DTMF_DIGITS!r} (the page played {d.get('tones')}): "
                                   f"{desc}")
    for e in events:
        assert e["ends"] >= 1 and e["marker"], f"trunk: digit {e['digit']} without end packet " \
                                               f"or marker: {desc}"
        # insertDTMF(.., 100 ms): 800 at 8 kHz; allow for packetisation
        assert 480 <= e["duration"] <= 1600, f"trunk: digit {e['digit']} lasts {e['duration']} " \
                                             f"(100 ms = 800 at 8 kHz): {desc}"
    return desc


def run(args, relay, name: str, role: str = "offer", dtmf: Optional[str] = None,
        codec: Optional[dict] = None, codecs: Optional[str] = None) -> None:
    sig = Signalling()
    profile = tempfile.mkdtemp(prefix="vox-chromium-")
    plain = webrtc.DtmfPlainPeer(TRUNK_HZ)
    browser = None
    query = {"role": role, **({"dtmf": dtmf} if dtmf else {}),
             **({"codecs": codecs} if codecs else {})}
    cid = f"chromium-{re.sub(r'[^a-z]+', '-', name)}-{os.getpid()}"
    try:
        browser = start_chromium(f"{sig.url}?{urllib.parse.urlencode(query)}", profile)
        if role == "answer":
            to_trunk, _ = browser_answers(args, relay, sig, plain, cid)
        else:
            to_trunk, to_browser = browser_offers(args, relay, sig, plain, cid, bool(dtmf), codec)
        plain.start(webrtc.media_target(to_trunk))
        t0 = time.monotonic()
        res = sig.wait("result", 40)
        print(f"      page: {json.dumps(res)}", flush=True)
        assert "error" not in res, f"the page failed: {res['error']}"
        assert res["dtlsState"] == "connected", f"browser DTLS {res['dtlsState']}"
        assert res["packetsReceived"] >= 100, \
            f"browser inbound-rtp packetsReceived {res['packetsReceived']} (expected ~200)"
        a = res["audio"] or {}
        assert a.get("maxRms", 0) > 0.05, f"browser: remote audio silent in WebAudio: {a}"
        top = max(a["peaks"].items(), key=lambda kv: kv[1])[0] if a.get("peaks") else 0
        bin_hz = a.get("sampleRate", 48000) / 4096
        assert abs(float(top) - TRUNK_HZ) <= 2 * bin_hz, \
            f"browser: remote audio peaks at {top} Hz, expected the trunk's {TRUNK_HZ:.0f} Hz"
        desc = check_beep(plain.decoded(t0 + 1.0))
        print(f"      browser heard {top} Hz (max RMS {a['maxRms']:.2f}); trunk heard the "
              f"beep: {desc}", flush=True)
        if dtmf:
            print(f"      trunk got DTMF: {check_dtmf(res, plain, t0)}", flush=True)
    finally:
        if browser and browser.poll() is None:
            os.killpg(browser.pid, signal.SIGTERM)
            try:
                browser.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(browser.pid, signal.SIGKILL)
        plain.close()
        sig.close()
        try:
            relay.ng.call({"command": "delete", "call-id": cid, "delete delay": 0})
        except vox.NgTimeout:
            pass
        if not os.environ.get("VOX_KEEP_TMP"):
            shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    args = webrtc.relay_args(__doc__.splitlines()[0])
    webrtc.whole_test_limit(85)
    runner = vox.CaseRunner(f"WebRTC Chromium interop on {args.relay}")
    cases = [("chromium browser->trunk", {}),
             ("chromium browser->trunk dtmf", {"dtmf": DTMF_DIGITS}),
             ("chromium browser->trunk opus dtmf", {"dtmf": DTMF_DIGITS, "codec": OPUS_TO_PCMU,
                                                    "codecs": "opus,telephone-event"}),
             ("chromium trunk->browser", {"role": "answer"})]
    try:
        with webrtc.start_relay(args) as relay:
            for name, kw in cases:
                if args.only and not any(o in name for o in args.only):
                    continue
                runner.run(name, run, args, relay, name, **kw)
    except webrtc.Deadline as e:
        runner.fail("deadline", str(e))
    except vox.RelayError as e:
        runner.fail(f"starting {args.relay}", str(e))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
