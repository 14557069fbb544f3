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

    /usr/bin/python3 tests/webrtc/test_chromium.py --relay rtpengine
    /usr/bin/python3 tests/webrtc/test_chromium.py --build-dir build

Needs chromium. Exit 0 = pass; ~10 s.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


class Signalling:
    """GET / -> page.html; POST /offer, GET /answer (204 until set), POST
    /result, POST /log (printed)."""

    def __init__(self):
        self.offer = self.answer = self.result = None
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
                if self.path in ("/", "/page.html"):
                    self._send(200, (HERE / "page.html").read_bytes(), "text/html")
                elif self.path == "/answer":
                    with sig.cond:
                        a = sig.answer
                    self._send(200, a.encode()) if a else self._send(204)
                else:
                    self._send(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.path == "/log":
                    print(f"      [page] {body}", flush=True)
                elif self.path in ("/offer", "/result"):
                    with sig.cond:
                        setattr(sig, self.path[1:], json.loads(body))
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


def run(args) -> None:
    sig = Signalling()
    profile = tempfile.mkdtemp(prefix="vox-chromium-")
    plain = webrtc.PlainPeer(TRUNK_HZ)
    browser = None
    try:
        with webrtc.start_relay(args) as relay:
            browser = start_chromium(sig.url, profile)
            offer = sig.wait("offer", 20)["sdp"]
            cands = re.findall(r"^a=candidate:.*$", offer, re.M)
            assert any(f" {LOCAL} " in c for c in cands), \
                f"Chromium offered no 127.0.0.1 candidate: {cands}"
            cid = f"chromium-{os.getpid()}"
            to_trunk = webrtc.ng(relay, {"command": "offer", "call-id": cid, "from-tag": "browser",
                                         "sdp": loopback_candidates(offer), **BROWSER_SIDE},
                                 args.verbose)["sdp"]
            m = vox.parse_sdp(to_trunk).media[0]
            assert m.proto == "RTP/AVP" and "0" in m.fmts and not m.has("candidate"), \
                f"offer to trunk:\n{to_trunk}"
            to_browser = webrtc.ng(relay, {"command": "answer", "call-id": cid,
                                           "from-tag": "browser", "to-tag": "trunk",
                                           "sdp": plain.sdp(("PCMU",)), **ANSWER_TO_BROWSER},
                                   args.verbose)["sdp"]
            plain.start(webrtc.media_target(to_trunk))
            t0 = time.monotonic()
            sig.set_answer(to_browser)
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
    finally:
        if browser and browser.poll() is None:
            os.killpg(browser.pid, signal.SIGTERM)
            try:
                browser.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(browser.pid, signal.SIGKILL)
        plain.close()
        sig.close()
        if not os.environ.get("VOX_KEEP_TMP"):
            shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    args = webrtc.relay_args(__doc__.splitlines()[0])
    webrtc.whole_test_limit(85)
    runner = vox.CaseRunner(f"WebRTC Chromium interop on {args.relay}")
    try:
        runner.run("chromium browser->trunk", run, args)
    except webrtc.Deadline as e:
        runner.fail("deadline", str(e))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
