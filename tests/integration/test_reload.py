#!/usr/bin/env python3
"""SIGHUP reloads (issue 17): the daemon reads its command line and config
file again and takes what can change without dropping a call.

  - the file is changed (max-sessions 0 -> 1, log-level 6 -> 7) and SIGHUP
    sent: the log says "SIGHUP: reloaded log-level 6 -> 7, max-sessions
    0 -> 1"; a second call is now refused (Parallel session limit reached)
    while the call up keeps relaying media both ways;
  - SIGHUP with nothing changed says so; with a file that no longer parses,
    a warning and nothing reloaded, the relay keeps running and answering.
Exit 0 = pass.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"


def wait_log(relay: vox.Relay, text: str, timeout: float = 3.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in relay.stderr_tail(200).splitlines():
            if text in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no log line with {text!r} within {timeout:g} s:\n{relay.stderr_tail(15)}")


def case_reload(relay: vox.Relay, conf: Path) -> None:
    a, b = vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL)
    try:
        to_a, to_b = vox.plain_call(relay.ng, "up", a, b)
        conf.write_text("[voxrelay]\nmax-sessions = 1\nlog-level = 7\n")
        relay.proc.send_signal(signal.SIGHUP)
        line = wait_log(relay, "SIGHUP: reloaded")
        assert "log-level 6 -> 7" in line and "max-sessions 0 -> 1" in line, line
        second = relay.ng.call({"command": "offer", "call-id": "second", "from-tag": "A",
                                "sdp": vox.make_sdp(LOCAL, [40000])})
        assert second.get("error-reason") == "Parallel session limit reached", f"second call: {second}"
        vox.two_way(a, to_a, b, to_b)
        vox.ng_ok(relay.ng, {"command": "delete", "call-id": "up", "delete delay": 0})
    finally:
        a.close()
        b.close()


def case_nothing_and_broken(relay: vox.Relay, conf: Path) -> None:
    relay.proc.send_signal(signal.SIGHUP)
    wait_log(relay, "SIGHUP: nothing changed of what reloads")
    conf.write_text("[voxrelay]\nmax-sessions = many\n")
    relay.proc.send_signal(signal.SIGHUP)
    wait_log(relay, "SIGHUP: the configuration does not parse, nothing reloaded")
    assert relay.alive() and relay.ng.ping(), "the relay stopped answering after a bad reload"


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_reload")
    with tempfile.TemporaryDirectory(prefix="vox-reload-") as tmp:
        conf = Path(tmp) / "voxrelay.conf"
        conf.write_text("[voxrelay]\nmax-sessions = 0\nlog-level = 6\n")
        with vox.Relay(build_dir, extra_args=[f"--config-file={conf}"]) as relay:
            runner.run("SIGHUP: max-sessions and log-level reloaded, the call up untouched",
                       case_reload, relay, conf)
            runner.run("SIGHUP with nothing changed, then with a file that does not parse",
                       case_nothing_and_broken, relay, conf)
            runner.run("exit 0 on SIGTERM", lambda: relay.sigterm_within(5.0))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
