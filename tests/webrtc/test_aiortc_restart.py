#!/usr/bin/python3
"""High availability with a WebRTC party: a relay killed and started again
with the same Redis carries a browser's call on, ICE and DTLS-SRTP
included, with no NG command and no new handshake.

A Redis server of the test's own (loopback) and voxrelay with --redis. One
call per case, aiortc (ICE, DTLS-SRTP) <-> the relay <-> a plain G.711 peer,
set up with the flags Kamailio's rtpengine module sends (tests/lib/
webrtc_calls.py), audio decoded both ways. Then SIGKILL and a new voxrelay
with the same options; aiortc and the plain peer keep sending. Checked
after the restart: aiortc's ICE and DTLS are still connected (no new
handshake: the relay installed the DTLS-derived keys it had saved), the
plain peer decodes aiortc's 440 Hz tone and aiortc the plain peer's 1000 Hz,
the relay logs the call restored, and the restored relay answers aiortc's
consent checks (`statistics` counts STUN checks answered over the next 7 s)
without running a DTLS handshake, and the audio still flows then.
  pcmu   browser -> trunk, PCMU both sides (the relay re-encrypts);
  opus   browser -> trunk, Opus <-> PCMU transcoded (a new transcoder, with
         a new SSRC toward aiortc, after the restart).

    /usr/bin/python3 tests/webrtc/test_aiortc_restart.py --build-dir build

Needs Debian's python3-aiortc and redis-server. Exit 0 = pass.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import ha  # noqa: E402
import vox  # noqa: E402
import webrtc  # noqa: E402
import webrtc_calls as wc  # noqa: E402

CONSENT_WAIT_S = 7.0  # aiortc checks consent every 4-6 s


async def case(build: Path, work: Path, redis: ha.RedisServer, codec: str, transcode: bool) -> None:
    # Media ports below the kernel's ephemeral range: a socket opened after
    # the kill (the new relay's NG client) cannot take a port the restored
    # call needs.
    ports = vox.free_udp_ports(100, step=2)
    args = [f"--redis={redis.target(1)}"]
    relay = vox.Relay(build, port_min=ports[0], port_max=ports[-1], extra_args=args, workdir=work).start()
    second = None
    c = wc.Call(relay.ng, prefix=f"restart-{codec}")
    try:
        await wc.browser_to_trunk(c, codec, transcode)
        await c.connected()
        await c.audio_both_ways(f"{codec}: before the restart")
        deadline = time.monotonic() + 3
        while not redis.keys(1) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert ha.KEY_PREFIX + c.cid in redis.keys(1), "the call's state is not in Redis"

        relay.proc.send_signal(signal.SIGKILL)
        relay.proc.wait(5)
        relay.stop()
        second = vox.Relay(build, ng_port=relay.ng_port, port_min=ports[0], port_max=ports[-1],
                           extra_args=args, workdir=work, verbose=False)
        second.start()
        c.ngc = second.ng  # the first relay's client is closed
        await c.audio_both_ways(f"{codec}: after the restart")
        assert c.dtls_state() == "connected" and c.pc.iceConnectionState in ("connected", "completed"), \
            f"aiortc after the restart: ICE {c.pc.iceConnectionState}, DTLS {c.dtls_state()}"
        log = second.stderr_path.read_text(errors="replace")
        assert "1 call(s) found, 1 restored" in log, vox.tail(second.stderr_path)
        before = vox.ng_statistics(second.ng)["totalstatistics"]["webrtc"]
        await asyncio.sleep(CONSENT_WAIT_S)
        after = vox.ng_statistics(second.ng)["totalstatistics"]["webrtc"]
        assert after["STUN checks answered"] > before["STUN checks answered"], \
            f"the restored relay answered no consent check in {CONSENT_WAIT_S} s: {after}"
        assert after["handshakes completed"] == 0, f"a DTLS handshake ran again: {after}"
        await c.audio_both_ways(f"{codec}: {CONSENT_WAIT_S:g} s later")
        print(f"      {codec}: the restored relay answered "
              f"{after['STUN checks answered'] - before['STUN checks answered']} consent checks, "
              f"ran no handshake", flush=True)
    finally:
        try:
            await c.close()
        finally:
            for r in (relay, second):
                if r:
                    r.stop()


def main() -> int:
    args = webrtc.relay_args(__doc__.splitlines()[0])
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    webrtc.whole_test_limit(120)
    build = Path(args.build_dir).resolve()
    work = Path(tempfile.mkdtemp(prefix="vox-webrtc-restart-"))
    redis = ha.RedisServer(work, vox.free_udp_port(16000, 17000)).start()
    runner = vox.CaseRunner("WebRTC call across a relay restart (Redis)")
    try:
        for name, codec, transcode in (("pcmu", "PCMU", False), ("opus", "opus", True)):
            if args.only and not any(o in name for o in args.only):
                continue
            runner.run(name, lambda: asyncio.run(asyncio.wait_for(
                case(build, work, redis, codec, transcode), 60)))
    except webrtc.Deadline as e:
        runner.fail("deadline", str(e))
    finally:
        redis.stop()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
