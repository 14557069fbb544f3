#!/usr/bin/env python3
"""voxrelay in rtpengine's place: Debian's rtpengine config and unit start it.

  - Debian's /etc/rtpengine/rtpengine.conf (the file rtpengine-daemon ships;
    a copy of it below when the package is absent) and the ExecStart line
    of its rtpengine-daemon.service, with voxrelay for /usr/bin/rtpengine
    and the pid file in a temporary directory (systemd would create
    /run/rtpengine): voxrelay starts, tells systemd READY=1 on
    $NOTIFY_SOCKET (a socket this test listens on), feeds a watchdog
    (WATCHDOG_USEC), answers NG on localhost:2223 and serves /metrics on
    localhost:2225 as the file says, warns once per option it does not
    implement (table, listen-cli, recording-dir, recording-method) and
    says STOPPING=1 on SIGTERM;
  - --tos=184 (Debian's file has it): relayed RTP arrives marked 184 (DSCP
    EF), read with IP_RECVTOS; without --tos it arrives unmarked (0), as
    from rtpengine;
  - the pid file is written only once the sockets are bound: a second start
    on the same NG port fails naming it and leaves the first one's pid file;
  - an --interface address the host does not have stops the start with an
    error naming it (it used to start, then fail every offer);
  - an option voxrelay refuses (--active-switchover) exits 2 naming it and saying why;
    --redis naming a server that does not answer stops the start, naming it;
  - --listen-ng given twice: both sockets answer;
  - NG on 0.0.0.0 without --ng-allow: a warning at start;
  - an offer asking to record is answered with a warning that it is not.
Exit 0 = pass. Needs NG port 2223 free on 127.0.0.1 (Debian's file says so).
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

DEBIAN_CONF = Path("/etc/rtpengine/rtpengine.conf")
DEBIAN_UNIT = Path("/lib/systemd/system/rtpengine-daemon.service")
# rtpengine-daemon 10.5.3.5's files, used when the package is not installed.
CONF_COPY = """[rtpengine]
table = 0
interface = any
listen-ng = localhost:2223
listen-http = localhost:2225
listen-cli = localhost:2224
timeout = 60
silent-timeout = 3600
tos = 184
port-min = 30000
port-max = 40000
recording-dir = /var/spool/rtpengine
recording-method = proc

[rtpengine-testing]
table = -1
interface = 10.15.20.121
listen-ng = 2223
foreground = true
log-stderr = true
log-level = 7
"""
EXEC_START_COPY = ("/usr/bin/rtpengine -f -E --no-log-timestamps --pidfile "
                   "/run/rtpengine/rtpengine-daemon.pid --config-file /etc/rtpengine/rtpengine.conf")
EXPECTED_WARNINGS = ["--table=0", "--listen-cli=localhost:2224",
                     "--recording-dir=/var/spool/rtpengine", "--recording-method=proc"]

failures: list = []


def check(cond: bool, what: str, detail: str = "") -> bool:
    print(("ok    " if cond else "FAIL  ") + what + (f": {detail}" if detail and not cond else ""),
          flush=True)
    if not cond:
        failures.append(what)
    return cond


def exec_start() -> list:
    line = EXEC_START_COPY
    if DEBIAN_UNIT.exists():
        for raw in DEBIAN_UNIT.read_text().splitlines():
            if raw.startswith("ExecStart="):
                line = raw.split("=", 1)[1]
    return shlex.split(line)


def log_lines(path: Path) -> list:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def wait_for(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def debian_unit_case(build: Path, work: Path) -> None:
    conf = DEBIAN_CONF if DEBIAN_CONF.exists() else work / "rtpengine.conf"
    if not DEBIAN_CONF.exists():
        conf.write_text(CONF_COPY)
    argv = exec_start()
    pidfile = work / "rtpengine-daemon.pid"
    argv = [str(build / "voxrelay") if a.endswith("/rtpengine") else a for a in argv]
    argv = [str(pidfile) if a.endswith("rtpengine-daemon.pid") else a for a in argv]
    argv = [str(conf) if a == str(DEBIAN_CONF) else a for a in argv]
    print("      " + " ".join(argv), flush=True)
    notify = vox.NotifySocket(work)
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="400000")
    log = work / "debian.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        notify.collect(1.5)
        check(notify.count("READY=1") == 1, "Debian unit line: READY=1 sent to $NOTIFY_SOCKET",
              f"messages {notify.messages}\n{vox.tail(log)}")
        check(notify.count("WATCHDOG=1") >= 3, "watchdog fed (WATCHDOG_USEC=400000, 1.5 s)",
              f"{notify.count('WATCHDOG=1')} keep-alives")
        check(pidfile.exists() and pidfile.read_text().strip() == str(proc.pid),
              "pid file written with the daemon's pid")
        with vox.NgClient("127.0.0.1", 2223) as ng:
            check(ng.ping(), "NG answers on localhost:2223 (listen-ng from the file)")
            port = vox.free_udp_port()
            reply = ng.call({"command": "offer", "call-id": "dropin-1", "from-tag": "a",
                             "sdp": vox.make_sdp("127.0.0.1", [port]), "record call": "yes"})
            check(reply.get("result") == "ok", "an offer is answered", str(reply))
            check("not recorded" in str(reply.get("warning", "")),
                  "an offer asking to record is warned it is not", str(reply))
            ng.call({"command": "delete", "call-id": "dropin-1"})
        try:
            with urllib.request.urlopen("http://127.0.0.1:2225/metrics", timeout=5) as r:
                metrics = r.read().decode()
        except OSError as e:
            metrics = f"{type(e).__name__}: {e}"
        check("voxrelay_calls_created_total 1" in metrics,
              "/metrics on localhost:2225 (listen-http from the file) counts the call", metrics[:300])
        lines = log_lines(log)
        warnings = [l for l in lines if "[warning]" in l]
        for w in EXPECTED_WARNINGS:
            check(sum(w in l for l in warnings) == 1, f"one warning for {w}", "\n".join(warnings))
        # Apart from those, only `interface = any` may warn (an extra address
        # of a family on this host).
        others = [l for l in warnings if not any(w in l for w in EXPECTED_WARNINGS)
                  and "not used: voxrelay relays on the first address" not in l]
        check(not others, "no other warnings", "\n".join(others))
        check(not any(l[:1] == "[" and l[1:5].isdigit() for l in lines),
              "--no-log-timestamps: log lines carry no time stamp", "\n".join(lines[:3]))
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=5)
        notify.collect(0.2)
        check(rc == 0, "SIGTERM: exit code 0", str(rc))
        check(notify.count("STOPPING=1") == 1, "STOPPING=1 sent", str(notify.messages))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def pidfile_case(build: Path, work: Path) -> None:
    pidfile = work / "vox.pid"
    with vox.Relay(build, extra_args=[f"--pidfile={pidfile}"], verbose=False) as first:
        check(pidfile.read_text().strip() == str(first.proc.pid), "first daemon wrote its pid")
        second = subprocess.run([str(build / "voxrelay"), "--foreground",
                                 f"--listen-ng=127.0.0.1:{first.ng_port}", f"--pidfile={pidfile}"],
                                capture_output=True, text=True, timeout=10)
        check(second.returncode != 0 and f"listen-ng 127.0.0.1:{first.ng_port}" in second.stderr,
              "a second daemon on the same NG port fails naming it", second.stderr)
        check(pidfile.read_text().strip() == str(first.proc.pid),
              "... and leaves the running daemon's pid file alone", pidfile.read_text())


def start_errors_case(build: Path) -> None:
    t0 = time.monotonic()
    r = subprocess.run([str(build / "voxrelay"), "--foreground", "--interface=ext/198.51.100.77",
                        f"--listen-ng=127.0.0.1:{vox.free_udp_port()}"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "--interface ext/198.51.100.77: cannot bind" in r.stderr,
          "an interface address the host lacks stops the start, named",
          f"rc {r.returncode}: {r.stderr}")
    check(time.monotonic() - t0 < 5, "... at once")
    r = subprocess.run([str(build / "voxrelay"), "--active-switchover"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "--active-switchover: no NG-driven switchover" in r.stderr,
          "--active-switchover is refused, saying why", r.stderr)
    dead = vox.free_udp_port()  # nothing listens on it (TCP checked too)
    r = subprocess.run([str(build / "voxrelay"), "--foreground",
                        f"--listen-ng=127.0.0.1:{vox.free_udp_port()}", f"--redis=127.0.0.1:{dead}/1"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and f"Redis 127.0.0.1:{dead}/1: connect" in r.stderr,
          "--redis to a server that does not answer stops the start, named", r.stderr)
    r = subprocess.run([str(build / "voxrelay"), "--codecs"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 0 and "PCMU" in r.stdout and "opus" in r.stdout, "--codecs lists codecs")


def received_tos(build: Path, extra: list, ng_tos=None) -> int:
    """A call A -> relay -> B on 127.0.0.1 (NG "TOS" ng_tos in the offer and
    the answer, if given); the TOS octet B's packet has."""
    IP_RECVTOS = getattr(socket, "IP_RECVTOS", 13)
    with vox.Relay(build, extra_args=extra, verbose=False) as r:
        a, b = vox.UdpPeer("127.0.0.1"), vox.UdpPeer("127.0.0.1")
        b.sock.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)
        tos_key = {} if ng_tos is None else {"TOS": ng_tos}
        vox.ng_ok(r.ng, {"command": "offer", "call-id": "tos", "from-tag": "a",
                         "sdp": vox.make_sdp("127.0.0.1", [a.port]), **tos_key})
        ans = vox.ng_ok(r.ng, {"command": "answer", "call-id": "tos", "from-tag": "a",
                               "to-tag": "b", "sdp": vox.make_sdp("127.0.0.1", [b.port]), **tos_key})
        relay_a = vox.parse_sdp(ans["sdp"]).media[0].port  # the relay port A sends to
        time.sleep(0.05)
        tos = -1
        b.sock.settimeout(1.0)
        for i in range(5):
            a.sendto(vox.rtp_packet(i, i * 160, 0x1234, b"\xff" * 160), ("127.0.0.1", relay_a))
        try:
            _, ancillary, _, _ = b.sock.recvmsg(2048, socket.CMSG_SPACE(4))
            for level, kind, data in ancillary:
                if level == socket.IPPROTO_IP and kind == socket.IP_TOS:
                    tos = data[0]
        except socket.timeout:
            pass
        a.close()
        b.close()
    return tos


def tos_case(build: Path) -> None:
    marked = received_tos(build, ["--tos=184"])
    check(marked == 184, "--tos=184: relayed RTP leaves marked 184 (DSCP EF)", f"TOS {marked}")
    plain = received_tos(build, [])
    check(plain == 0, "without --tos: unmarked, as rtpengine", f"TOS {plain}")
    call = received_tos(build, [], ng_tos=104)
    check(call == 104, "NG TOS=104 marks the call's RTP 104 (AF31)", f"TOS {call}")
    over = received_tos(build, ["--tos=184"], ng_tos=0)
    check(over == 0, "NG TOS=0 leaves the call unmarked despite --tos=184", f"TOS {over}")
    back = received_tos(build, ["--tos=184"], ng_tos=256)
    check(back == 184, "NG TOS=256 is --tos (rtpengine's rule)", f"TOS {back}")


def listen_case(build: Path, work: Path) -> None:
    second = vox.free_udp_port(31000, 32000)
    with vox.Relay(build, extra_args=[f"--listen-ng=127.0.0.1:{second}"], verbose=False) as r:
        with vox.NgClient("127.0.0.1", second) as ng2:
            check(r.ng.ping() and ng2.ping(), "two --listen-ng sockets both answer")
    any_port = vox.free_udp_port(32000, 33000)
    relay = vox.Relay(build, extra_args=[f"--listen-ng=0.0.0.0:{any_port}"], verbose=False,
                      workdir=work)
    with relay:
        pass
    lines = log_lines(relay.stderr_path)
    check(any("NG is open to any address and --ng-allow is not set" in l for l in lines),
          "NG on 0.0.0.0 without --ng-allow: a start-up warning", "\n".join(lines[-5:]))


def main() -> int:
    build = vox.build_dir_from_argv()
    with tempfile.TemporaryDirectory(prefix="vox-dropin-") as tmp:
        work = Path(tmp)
        debian_unit_case(build, work)
        pidfile_case(build, work)
        start_errors_case(build)
        listen_case(build, work)
        tos_case(build)
    print(f"\nrtpengine drop-in: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
