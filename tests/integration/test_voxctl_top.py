#!/usr/bin/env python3
"""`voxctl top`, the live view, against the real daemon:

  - three plain calls with RTP flowing both ways (one of them losing every
    fourth packet), then `voxctl top --interval 0.5` in a detached tmux
    session of 120x40 (a private tmux socket): the screen shows the relay's
    address, the call count the relay's `statistics` gives, a nonzero
    packet rate while media flows (and 0 once it stops), every call's
    call-id in the table with its packets, the worst MOS first when the
    relay reports quality ("-" rows last); q ends it with exit status 0;
  - `--iterations 2` ends by itself;
  - `--once`, and stdout not a terminal: one plain frame (no escape
    sequences) with the same figures; no relay: exit 1 and the error shown.
Exit 0 = pass.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"
COLS, ROWS = 120, 40


class Media:
    """RTP both ways on every call, 50 packets/s per direction, from a
    thread; a lossy call skips every fourth sequence number."""

    def __init__(self, calls: list):
        self.calls = calls  # (a, to_a, b, to_b, lossy)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        seq = 0
        while not self.stopped.is_set():
            for a, to_a, b, to_b, lossy in self.calls:
                if not (lossy and seq % 4 == 3):
                    a.sendto(vox.rtp_packet(seq, seq * 160, 0xA100 + a.port), (LOCAL, to_a))
                    b.sendto(vox.rtp_packet(seq, seq * 160, 0xB100 + b.port), (LOCAL, to_b))
                a.drain()
                b.drain()
            seq += 1
            time.sleep(0.02)

    def __enter__(self) -> "Media":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)

    def __exit__(self, *exc):
        self.stop()


class Tmux:
    """A detached tmux session on a private socket, running one command."""

    def __init__(self, command: list, workdir: Path):
        self.socket = f"voxtop-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.rc_path = workdir / "rc"
        self.err_path = workdir / "stderr"
        shell = f"{shlex.join(command)} 2>{shlex.quote(str(self.err_path))}; echo $? >{shlex.quote(str(self.rc_path))}"
        self.tmux("new-session", "-d", "-s", "top", "-x", str(COLS), "-y", str(ROWS), shell)

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}  # not nested in the caller's tmux
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=10, check=check, env=env)

    def screen(self) -> str:
        r = self.tmux("capture-pane", "-p", "-t", "top", check=False)
        return r.stdout if r.returncode == 0 else ""

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "top", *keys)

    def exit_status(self, within: float) -> str | None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.rc_path.exists() and self.rc_path.read_text().strip():
                return self.rc_path.read_text().strip()
            time.sleep(0.05)
        return None

    def stderr(self) -> str:
        return self.err_path.read_text() if self.err_path.exists() else ""

    def kill(self) -> None:
        self.tmux("kill-server", check=False)
        # tmux leaves its socket behind: /tmp/tmux-UID/NAME (or under $TMUX_TMPDIR).
        tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
        Path(tmpdir, f"tmux-{os.getuid()}", self.socket).unlink(missing_ok=True)


def rate(text: str) -> float | None:
    """A rate as voxctl top writes it: 0, 12.5, 1234, 12.3k, 4.50M, or - (None)."""
    if text == "-":
        return None
    scale = {"k": 1e3, "M": 1e6}.get(text[-1], 1)
    return float(text.rstrip("kM")) * scale


def parse_frame(screen: str) -> dict:
    """The figures of one frame: calls (own, total), received and relayed
    rates, and the table rows (call-id, age, MOS, loss, jitter, packets)."""
    lines = screen.splitlines()
    out: dict = {"rows": [], "screen": screen}
    for line in lines:
        if m := re.match(r"calls: (\d+) own, (\d+) total", line):
            out["own"], out["total"] = int(m[1]), int(m[2])
        if m := re.match(r"packets/s: received (\S+), relayed (\S+)", line):
            out["received"], out["relayed"] = rate(m[1]), rate(m[2])
    titles = [i for i, line in enumerate(lines) if line.startswith("CALL-ID")]
    if titles:
        for line in lines[titles[0] + 1:]:
            if re.match(r"\d+ calls? listed", line) or not line.strip():
                break
            out["rows"].append(line.split())
    return out


def screen_report(frame: dict) -> str:
    return "screen was:\n" + frame["screen"]


def check_frame(frame: dict, relay: vox.Relay, call_ids: list, lossy_id: str, moving: bool) -> None:
    stats = vox.ng_statistics(relay.ng)["currentstatistics"]
    assert f"{LOCAL}:{relay.ng_port}" in frame["screen"], f"no relay address; {screen_report(frame)}"
    assert frame.get("own") == int(stats["sessionsown"]) == len(call_ids), (
        f"calls: {frame.get('own')} on screen, {stats['sessionsown']} in statistics, "
        f"{len(call_ids)} set up; {screen_report(frame)}")
    if moving:
        assert frame.get("received") and frame.get("relayed"), f"no packet rate while media flows; {screen_report(frame)}"
        # 3 calls x 2 directions x 50/s, less the lossy call's quarter: about 275/s.
        assert 50 < frame["received"] < 3000, f"received {frame['received']}/s; {screen_report(frame)}"
    shown = [row[0] for row in frame["rows"]]
    assert sorted(shown) == sorted(call_ids), f"table has {shown}, calls are {call_ids}; {screen_report(frame)}"
    for row in frame["rows"]:
        assert len(row) == 6 and int(row[5]) > 0, f"row {row}: want 6 columns, packets > 0; {screen_report(frame)}"
    mos = [row[2] for row in frame["rows"]]
    rated = [float(m) for m in mos if m != "-"]
    assert mos[:len(rated)] == [m for m in mos if m != "-"], f"'-' rows not last: {mos}"
    assert rated == sorted(rated), f"MOS not worst first: {mos}"
    if rated:  # the relay reports quality: the lossy call is the worst
        assert shown[0] == lossy_id, f"worst call {shown[0]}, expected the lossy {lossy_id}; {screen_report(frame)}"


def wait_frame(tmux: Tmux, ready, within: float = 15.0) -> dict:
    deadline = time.monotonic() + within
    frame = parse_frame("")
    while time.monotonic() < deadline:
        frame = parse_frame(tmux.screen())
        if ready(frame):
            return frame
        time.sleep(0.25)
    raise AssertionError(f"no such frame within {within:g} s (voxctl stderr: {tmux.stderr()!r}); "
                         f"{screen_report(frame)}")


def voxctl(build_dir: Path, relay_port: int, *args: str) -> list:
    return [str(build_dir / "voxctl"), f"--ng={LOCAL}:{relay_port}", *args]


def case_screen(build_dir: Path, relay: vox.Relay, calls: list, media: Media, lossy_id: str) -> None:
    call_ids = [c for c, *_ in calls]
    workdir = Path(tempfile.mkdtemp(prefix="vox-top-"))
    tmux = Tmux(voxctl(build_dir, relay.ng_port, "top", "--interval", "0.5"), workdir)
    try:
        frame = wait_frame(tmux, lambda f: f.get("received") and len(f["rows"]) == len(call_ids))
        check_frame(frame, relay, call_ids, lossy_id, moving=True)
        print(f"[top] screen while media flows:\n{frame['screen'].rstrip()}", flush=True)

        media.stop()
        frame = wait_frame(tmux, lambda f: f.get("received") == 0.0, within=5.0)
        check_frame(frame, relay, call_ids, lossy_id, moving=False)

        tmux.keys("q")
        rc = tmux.exit_status(5.0)
        assert rc == "0", f"after q: exit status {rc!r} (None: still running); stderr {tmux.stderr()!r}"
    finally:
        tmux.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def case_iterations(build_dir: Path, relay: vox.Relay) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="vox-top-"))
    tmux = Tmux(voxctl(build_dir, relay.ng_port, "top", "--interval", "0.2", "--iterations", "2"), workdir)
    try:
        rc = tmux.exit_status(10.0)
        assert rc == "0", f"--iterations 2: exit status {rc!r} (None: still running); stderr {tmux.stderr()!r}"
    finally:
        tmux.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def case_plain(build_dir: Path, relay: vox.Relay, calls: list, lossy_id: str) -> None:
    call_ids = [c for c, *_ in calls]
    for args in (["top", "--once", "--interval", "0.5"], ["top", "--interval", "0.5"]):
        r = subprocess.run(voxctl(build_dir, relay.ng_port, *args), capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, f"voxctl {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        assert "\x1b" not in r.stdout, f"voxctl {' '.join(args)} wrote escape sequences: {r.stdout!r}"
        assert "q quits" not in r.stdout, f"a plain frame offers q:\n{r.stdout}"
        check_frame(parse_frame(r.stdout), relay, call_ids, lossy_id, moving=True)


def case_no_relay(build_dir: Path) -> None:
    port = vox.free_udp_port()
    r = subprocess.run(voxctl(build_dir, port, "--timeout-ms", "200", "--retries", "0", "top", "--once"),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, f"no relay: exit {r.returncode}, expected 1\n{r.stdout}{r.stderr}"
    assert "error: statistics:" in r.stdout, f"no relay: no error line\n{r.stdout}"


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_voxctl_top")
    if not shutil.which("tmux"):
        runner.fail("tmux", "tmux is not installed (apt-get install tmux)")
    with vox.Relay(build_dir) as relay:
        peers, calls = [], []
        try:
            for i in range(3):
                a, b = vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL)
                peers += [a, b]
                call_id = f"top-{i}-{uuid.uuid4().hex[:8]}"
                to_a, to_b = vox.plain_call(relay.ng, call_id, a, b)
                vox.two_way(a, to_a, b, to_b)
                calls.append((call_id, a, to_a, b, to_b, i == 1))
            lossy_id = calls[1][0]
            with Media([c[1:] for c in calls]) as media:
                time.sleep(1.0)  # a second of media before the first look
                runner.run("--once and a pipe: one plain frame", case_plain, build_dir, relay, calls, lossy_id)
                if shutil.which("tmux"):
                    runner.run("--iterations 2 ends by itself", case_iterations, build_dir, relay)
                    runner.run("tmux 120x40: calls, rates, the calls worst first; q quits",
                               case_screen, build_dir, relay, calls, media, lossy_id)
        finally:
            for p in peers:
                p.close()
    runner.run("no relay: exit 1 and the error on screen", case_no_relay, build_dir)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
