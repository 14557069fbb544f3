#!/usr/bin/env python3
"""Call and daemon lifecycle: retransmissions, limits, timeouts, shutdown,
command line and config file.

  - NG retransmission: the same datagram (same cookie) twice gives identical
    replies and executes once (one call, one offer counted; a retransmitted
    `delete` is not answered "Call-ID not found or tags didn't match");
  - port exhaustion: 8 ports (4 pairs, 2 calls); the third call gets
    `Ran out of ports`, the daemon keeps serving, a delete frees ports;
  - --max-sessions=1: `Parallel session limit reached`, or `result: load
    limit` with `supports: ["load limit"]`; re-offers of the admitted call work;
  - --timeout=2: an answered call without media goes away (ports freed),
    a call with media stays;
  - --offer-timeout=2: an unanswered offer goes away, an answered call stays;
  - --delete-delay=2: a delete hides the call from `list` at once, `query`
    works until the delay passed, then the ports are free;
  - SIGTERM: exit code 0 within 2 s, all media ports bindable afterwards;
  - bad flags exit 2 with a single stderr line naming the flag;
  - an INI config file is honoured; a bad value in it exits 2 naming the key.
Exit 0 = pass.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"
SETTLE_S = 0.03


def sdp(port: int) -> str:
    return vox.make_sdp(LOCAL, [port])


def offer_msg(cid: str, port: int = 40000, **extra) -> dict:
    m = {"command": "offer", "call-id": cid, "from-tag": "tagA", "sdp": sdp(port)}
    m.update(extra)
    return m


def answer_msg(cid: str, port: int = 40002) -> dict:
    return {"command": "answer", "call-id": cid, "from-tag": "tagA", "to-tag": "tagB",
            "sdp": sdp(port)}


def delete0(ng, cid) -> dict:
    return ng.call({"command": "delete", "call-id": cid, "delete delay": 0})


def listed(ng) -> list:
    return vox.ng_ok(ng, {"command": "list", "limit": 1000})["calls"]


def expect_error(r: dict, reason: str, what: str) -> None:
    assert r.get("result") == "error" and r.get("error-reason") == reason, \
        f"{what}: got {r}, expected result 'error' with error-reason {reason!r}"


def wait_until(pred, timeout: float, step: float = 0.1):
    """Polls ``pred`` until true; returns seconds waited or None on timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def port_block(n: int) -> list:
    return vox.free_udp_ports(n, step=2)


# ------------------------------------------------------------------ cases


def case_retransmission(relay: vox.Relay) -> None:
    ng = relay.ng
    cid = f"retrans-{time.monotonic_ns()}"
    probe = vox.NgClient(LOCAL, relay.ng_port)
    try:
        free0 = vox.free_port_pairs(ng)
        offers0 = vox.ng_statistics(ng)["totalstatistics"].get("offers")
        cookie = b"rtx_%d" % os.getpid()
        dgram = cookie + b" " + vox.bencode(offer_msg(cid))
        r1 = probe.send_raw(dgram, timeout=1.0, cookie=cookie)
        r2 = probe.send_raw(dgram, timeout=1.0, cookie=cookie)
        assert r1 is not None and r2 is not None, f"no reply to the offer or its retransmission " \
                                                  f"({r1!r:.80}, {r2!r:.80})"
        rep = vox.parse_reply(r1, cookie)
        assert rep.get("result") == "ok", f"offer failed: {rep}"
        assert r1 == r2, f"retransmitted offer got a different reply:\n  {r1[:300]!r}\n  " \
                         f"{r2[:300]!r}"
        calls = [c for c in listed(ng) if c == cid]
        assert len(calls) == 1, f"after a retransmitted offer list shows {len(calls)} calls"
        free1 = vox.free_port_pairs(ng)
        assert free1 == free0 - 2, f"free port pairs {free0} -> {free1}, expected -2 (one call)"
        offers1 = vox.ng_statistics(ng)["totalstatistics"].get("offers")
        if offers0 is not None:
            assert offers1 - offers0 == 1, f"statistics offers {offers0} -> {offers1}: the " \
                                           f"retransmission was executed again"

        cookie = b"rtxa_%d" % os.getpid()
        dgram = cookie + b" " + vox.bencode(answer_msg(cid))
        a1 = probe.send_raw(dgram, timeout=1.0, cookie=cookie)
        a2 = probe.send_raw(dgram, timeout=1.0, cookie=cookie)
        assert a1 is not None and a1 == a2, f"retransmitted answer: replies differ or missing:\n" \
                                            f"  {a1!r:.300}\n  {a2!r:.300}"
        assert vox.parse_reply(a1, cookie).get("result") == "ok", f"answer failed: {a1!r:.300}"

        cookie = b"rtxd_%d" % os.getpid()
        dgram = cookie + b" " + vox.bencode({"command": "delete", "call-id": cid,
                                             "delete delay": 0})
        d1 = probe.send_raw(dgram, timeout=1.0, cookie=cookie)
        d2 = probe.send_raw(dgram, timeout=1.0, cookie=cookie)
        rd1, rd2 = vox.parse_reply(d1, cookie), vox.parse_reply(d2, cookie)
        assert rd1 and rd1.get("result") == "ok", f"delete failed: {rd1}"
        assert d1 == d2, f"retransmitted delete was executed again: first reply {rd1}, " \
                         f"second {rd2}"
        assert cid not in listed(ng), "call still listed after delete delay 0"
        # A new cookie is a new request: now the call is really gone
        # (rtpengine: ok with a warning, the error only with [fatal]).
        gone = "Call-ID not found or tags didn't match"
        r = delete0(ng, cid)
        assert r.get("result") == "ok" and r.get("warning") == gone, \
            f"delete with a fresh cookie: got {r}, expected result 'ok' with warning {gone!r}"
        expect_error(ng.call({"command": "delete", "call-id": cid, "flags": ["fatal"]}), gone,
                     "delete [fatal] with a fresh cookie")
    finally:
        probe.close()
        delete0(ng, cid)


def case_port_exhaustion(build_dir: Path) -> None:
    base = port_block(8)[0]
    with vox.Relay(build_dir, port_min=base, port_max=base + 7,
                   extra_args=["--workers=1"]) as relay:
        ng = relay.ng
        free = vox.free_port_pairs(ng)
        assert free == 4, f"--port-min={base} --port-max={base + 7}: free port pairs {free}, " \
                          f"expected 4"
        for i in (1, 2):
            r = vox.ng_ok(ng, offer_msg(f"exh-{i}"), f"offer of call {i} of 2")
            port = vox.parse_sdp(r["sdp"]).media[0].port
            assert base <= port <= base + 7, f"call {i}: port {port} outside {base}-{base + 7}"
        assert vox.free_port_pairs(ng) == 0, "free port pairs not 0 with 2 calls"
        expect_error(ng.call(offer_msg("exh-3")), "Ran out of ports", "third call")
        assert relay.alive() and ng.ping(timeout=1.0, retries=1), \
            "relay stopped serving after port exhaustion"
        cl = sorted(listed(ng))
        assert cl == ["exh-1", "exh-2"], f"list after the failed offer: {cl}"
        vox.ng_ok(ng, {"command": "query", "call-id": "exh-2"}, "query after exhaustion")
        r = delete0(ng, "exh-1")
        assert r.get("result") == "ok", f"delete exh-1: {r}"
        assert vox.free_port_pairs(ng) == 2, "deleting a call did not free its 2 port pairs"
        r = vox.ng_ok(ng, offer_msg("exh-3"), "third call after a delete")
        port = vox.parse_sdp(r["sdp"]).media[0].port
        assert base <= port <= base + 7, f"call 3: port {port} outside the range"
        assert sorted(listed(ng)) == ["exh-2", "exh-3"], f"list: {listed(ng)}"
    assert relay.clean_exit, f"relay did not exit cleanly: {relay.report()}"


def case_max_sessions(build_dir: Path) -> None:
    ports = port_block(40)
    with vox.Relay(build_dir, port_min=ports[0], port_max=ports[-1],
                   extra_args=["--max-sessions=1"]) as relay:
        ng = relay.ng
        vox.ng_ok(ng, offer_msg("ms-1"), "first call")
        expect_error(ng.call(offer_msg("ms-2")), "Parallel session limit reached",
                     "second call with --max-sessions=1")
        r = ng.call(offer_msg("ms-2", supports=["load limit"]))
        assert r.get("result") == "load limit", \
            f"second call with supports [load limit]: got {r}, expected result 'load limit'"
        assert listed(ng) == ["ms-1"], f"list: {listed(ng)}, expected only ms-1"
        # Re-offer and answer of the admitted call are not new sessions.
        vox.ng_ok(ng, offer_msg("ms-1"), "re-offer of the admitted call")
        vox.ng_ok(ng, answer_msg("ms-1"), "answer of the admitted call")
        assert delete0(ng, "ms-1").get("result") == "ok"
        vox.ng_ok(ng, offer_msg("ms-2"), "a new call after the first was deleted")
        delete0(ng, "ms-2")


def setup_call(ng, cid: str, a: vox.UdpPeer, b: vox.UdpPeer, answered: bool = True) -> tuple:
    r = vox.ng_ok(ng, offer_msg(cid, a.port))
    pb = vox.parse_sdp(r["sdp"]).media[0].port
    pa = None
    if answered:
        r = vox.ng_ok(ng, answer_msg(cid, b.port))
        pa = vox.parse_sdp(r["sdp"]).media[0].port
        time.sleep(SETTLE_S)
    return pa, pb


def case_timeout(build_dir: Path) -> None:
    ports = port_block(40)
    peers = [vox.UdpPeer(LOCAL) for _ in range(4)]
    try:
        with vox.Relay(build_dir, port_min=ports[0], port_max=ports[-1],
                       extra_args=["--timeout=2"]) as relay:
            ng = relay.ng
            free0 = vox.free_port_pairs(ng)
            setup_call(ng, "to-silent", peers[0], peers[1])
            pa, _ = setup_call(ng, "to-media", peers[2], peers[3])
            t0 = time.monotonic()
            gone_at = None
            seq = 0
            # A of to-media sends every 200 ms; watch list for ~5 s.
            while time.monotonic() - t0 < 5.0:
                seq += 1
                peers[2].sendto(vox.rtp_packet(seq, seq * 160, 77), (LOCAL, pa))
                cl = listed(ng)
                el = time.monotonic() - t0
                if el < 1.0:
                    assert "to-silent" in cl, f"--timeout=2: silent call gone after only " \
                                              f"{el:.1f} s"
                if "to-silent" not in cl and gone_at is None:
                    gone_at = el
                assert "to-media" in cl, f"--timeout=2: a call with media every 200 ms vanished " \
                                         f"after {el:.1f} s"
                if gone_at is not None and el > 4.5:
                    break
                time.sleep(0.2)
            assert gone_at is not None, "--timeout=2: answered call without media still listed " \
                                        "after 5 s"
            assert peers[3].drain() > 0, "the media call's packets were not relayed"
            free = vox.free_port_pairs(ng)
            assert free == free0 - 2, f"after the silent call timed out: free port pairs {free}, " \
                                      f"expected {free0 - 2} (its ports back, the other call's not)"
            q = ng.call({"command": "query", "call-id": "to-silent"})
            expect_error(q, "Unknown call-id", "query of the timed-out call")
            print(f"      silent call removed {gone_at:.1f} s after the answer", flush=True)
            delete0(ng, "to-media")
    finally:
        for p in peers:
            p.close()


def case_offer_timeout(build_dir: Path) -> None:
    ports = port_block(40)
    peers = [vox.UdpPeer(LOCAL) for _ in range(3)]
    try:
        with vox.Relay(build_dir, port_min=ports[0], port_max=ports[-1],
                       extra_args=["--offer-timeout=2", "--timeout=60"]) as relay:
            ng = relay.ng
            free0 = vox.free_port_pairs(ng)
            setup_call(ng, "ot-unanswered", peers[0], None, answered=False)
            setup_call(ng, "ot-answered", peers[1], peers[2])
            t0 = time.monotonic()
            assert "ot-unanswered" in listed(ng), "unanswered offer not listed"
            gone = wait_until(lambda: "ot-unanswered" not in listed(ng), 5.0, 0.2)
            assert gone is not None, "--offer-timeout=2: unanswered offer still listed after 5 s"
            assert gone >= 1.0, f"--offer-timeout=2: unanswered offer gone after only {gone:.1f} s"
            assert "ot-answered" in listed(ng), "--offer-timeout removed an answered call"
            free = vox.free_port_pairs(ng)
            assert free == free0 - 2, f"after the offer timed out: free port pairs {free}, " \
                                      f"expected {free0 - 2}"
            time.sleep(max(0.0, t0 + 4.0 - time.monotonic()))
            assert "ot-answered" in listed(ng), "answered call gone after 4 s with --timeout=60"
            print(f"      unanswered offer removed after {gone:.1f} s", flush=True)
            delete0(ng, "ot-answered")
    finally:
        for p in peers:
            p.close()


def case_delete_delay(build_dir: Path) -> None:
    ports = port_block(40)
    with vox.Relay(build_dir, port_min=ports[0], port_max=ports[-1],
                   extra_args=["--delete-delay=2"]) as relay:
        ng = relay.ng
        free0 = vox.free_port_pairs(ng)
        vox.ng_ok(ng, offer_msg("dd-1"))
        vox.ng_ok(ng, answer_msg("dd-1"))
        vox.ng_ok(ng, {"command": "delete", "call-id": "dd-1"}, "delete with the default delay")
        t0 = time.monotonic()
        assert "dd-1" not in listed(ng), "deleted call (delay pending) is still in list"
        q = ng.call({"command": "query", "call-id": "dd-1"})
        assert q.get("result") == "ok" and "tags" in q, \
            f"query during the delete delay: {q}, expected the call's data"
        time.sleep(max(0.0, t0 + 1.0 - time.monotonic()))
        q = ng.call({"command": "query", "call-id": "dd-1"})
        assert q.get("result") == "ok", f"query 1 s into a 2 s delete delay: {q}"
        gone = wait_until(lambda: ng.call({"command": "query", "call-id": "dd-1"}).get(
            "result") == "error", 5.0, 0.2)
        assert gone is not None, "--delete-delay=2: query still finds the call after 6 s"
        expect_error(ng.call({"command": "query", "call-id": "dd-1"}), "Unknown call-id",
                     "query after the delete delay")
        free = vox.free_port_pairs(ng)
        assert free == free0, f"after the delete delay: free port pairs {free}, expected {free0}"
        # Contrast: delete delay 0 frees at once.
        vox.ng_ok(ng, offer_msg("dd-2"))
        vox.ng_ok(ng, {"command": "delete", "call-id": "dd-2", "delete delay": 0})
        expect_error(ng.call({"command": "query", "call-id": "dd-2"}), "Unknown call-id",
                     "query right after delete delay 0")
        assert vox.free_port_pairs(ng) == free0, "delete delay 0 did not free the ports at once"


def case_sigterm(build_dir: Path) -> None:
    ports = port_block(40)
    lo, hi = ports[0], ports[-1]
    peers = [vox.UdpPeer(LOCAL) for _ in range(6)]
    relay = vox.Relay(build_dir, port_min=lo, port_max=hi)
    try:
        with relay:
            ng = relay.ng
            for i in range(3):
                a, b = peers[2 * i], peers[2 * i + 1]
                pa, pb = setup_call(ng, f"term-{i}", a, b)
                for s in range(5):
                    a.sendto(vox.rtp_packet(s, s * 160, 5), (LOCAL, pa))
                    b.sendto(vox.rtp_packet(s, s * 160, 6), (LOCAL, pb))
            for i in range(3):
                assert peers[2 * i + 1].recv_for(1.0, until=1), f"call {i}: no media relayed"
            took = relay.sigterm_within(2.0)
            print(f"      exited 0 after {took:.2f} s", flush=True)
        busy = []
        for p in range(lo, hi + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((LOCAL, p))
            except OSError as e:
                busy.append(f"{p} ({e.strerror})")
            finally:
                s.close()
        assert not busy, f"after SIGTERM media ports are still bound: {busy}"
    finally:
        for p in peers:
            p.close()


def run_daemon(build_dir: Path, args: list, timeout: float = 5.0) -> tuple:
    """Runs voxrelay expecting it to exit; (returncode or None if it kept
    running, stdout, stderr)."""
    proc = subprocess.Popen([str(build_dir / "voxrelay"), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    except subprocess.TimeoutExpired:
        vox.stop_process(proc, 2.0)
        out, err = proc.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace")


def check_bad_exit(build_dir, args, names, what) -> None:
    rc, out, err = run_daemon(build_dir, args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    cmd = "voxrelay " + " ".join(args)
    assert rc is not None, f"{what}: `{cmd}` kept running (stderr: {err.strip()[:200]!r})"
    assert rc == 2, f"{what}: `{cmd}` exited {rc}, expected 2 (stderr: {err.strip()[:300]!r})"
    assert len(lines) == 1, f"{what}: `{cmd}` wrote {len(lines)} stderr lines, expected one:\n" \
                            f"{err}"
    assert any(n in lines[0] for n in names), \
        f"{what}: `{cmd}` stderr {lines[0]!r} does not name {' or '.join(names)}"


def case_bad_flags(build_dir: Path) -> None:
    ng = vox.free_udp_port()
    common = ["--foreground", "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{ng}"]
    rng = ["--port-min=30000", "--port-max=30099"]
    cases = [
        (["--foreground", "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{ng}",
          "--port-min=abc", "--port-max=30099"], ["port-min"], "--port-min=abc"),
        ([*common, "--port-min=5000", "--port-max=4000"], ["port-min", "port-max"],
         "--port-min=5000 --port-max=4000"),
        (["--foreground", "--interface=notanip", f"--listen-ng=127.0.0.1:{ng}", *rng],
         ["interface"], "--interface=notanip"),
        ([*common, *rng, "--backend=bogus"], ["backend"], "--backend=bogus"),
        (["--foreground", "--interface=127.0.0.1", "--listen-ng=nonsense", *rng],
         ["listen-ng"], "--listen-ng=nonsense"),
    ]
    errors = []
    for args, names, what in cases:
        try:
            check_bad_exit(build_dir, args, names, what)
            print(f"      ok {what}", flush=True)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n    ".join(errors)


def case_config_file(build_dir: Path) -> None:
    ng_port = vox.free_udp_port()
    ports = port_block(20)
    lo, hi = ports[0], ports[-1]
    tmp = Path(tempfile.mkdtemp(prefix="vox-cfg-"))
    try:
        cfg = tmp / "voxrelay.conf"
        cfg.write_text("# voxrelay test config\n[voxrelay]\n"
                       f"listen-ng = 127.0.0.1:{ng_port}\nport-min = {lo}\nport-max = {hi}\n"
                       "interface = 127.0.0.1\n")
        log = open(tmp / "log", "wb")
        proc = subprocess.Popen([str(build_dir / "voxrelay"), "--foreground", f"--config={cfg}"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        ng = vox.NgClient(LOCAL, ng_port, timeout=0.5, retries=0)
        try:
            up = wait_until(lambda: proc.poll() is not None or ng.ping(timeout=0.2), 5.0, 0.05)
            assert proc.poll() is None, f"voxrelay --config exited {proc.returncode}:\n" \
                                        f"{vox.tail(tmp / 'log')}"
            assert up is not None, f"voxrelay --config: no pong on listen-ng 127.0.0.1:{ng_port} " \
                                   f"from the config file"
            free = vox.free_port_pairs(ng)
            assert free == (hi - lo + 1) // 2, f"config port-min={lo} port-max={hi}: free port " \
                                               f"pairs {free}, expected {(hi - lo + 1) // 2}"
            r = vox.ng_ok(ng, offer_msg("cfg-1"))
            m = vox.parse_sdp(r["sdp"]).media[0]
            assert lo <= m.port <= hi, f"config file range {lo}-{hi} not honoured: port {m.port}"
            assert m.conn == LOCAL, f"config interface not honoured: c={m.conn}"
        finally:
            ng.close()
            rc, killed = vox.stop_process(proc, 3.0)
            log.close()
        assert rc == 0 and not killed, f"voxrelay --config: SIGTERM gave exit {rc} " \
                                       f"(killed={killed})"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def case_config_bad_value(build_dir: Path) -> None:
    ng_port = vox.free_udp_port()
    tmp = Path(tempfile.mkdtemp(prefix="vox-cfg-"))
    errors = []
    try:
        files = {
            "port-min = abc as the only key": "[voxrelay]\nport-min = abc\n",
            "port-min = abc after other keys":
                f"[voxrelay]\nlisten-ng = 127.0.0.1:{ng_port}\ninterface = 127.0.0.1\n"
                "port-min = abc\nport-max = 30099\n",
        }
        for i, (what, text) in enumerate(files.items()):
            cfg = tmp / f"bad{i}.conf"
            cfg.write_text(text)
            args = ["--foreground", f"--config={cfg}"]
            if "listen-ng" not in text:
                args.append(f"--listen-ng=127.0.0.1:{ng_port}")
            try:
                check_bad_exit(build_dir, args, ["port-min"], f"config file, {what}")
                print(f"      ok {what}", flush=True)
            except AssertionError as e:
                errors.append(str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert not errors, "\n    ".join(errors)


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_lifecycle")
    ports = port_block(40)
    try:
        with vox.Relay(build_dir, port_min=ports[0], port_max=ports[-1]) as relay:
            runner.run("NG retransmission: cached reply, executed once", case_retransmission,
                       relay)
        if not relay.clean_exit:
            runner.fail("relay SIGTERM", relay.report())
    except (vox.RelayError, vox.NgTimeout) as e:
        runner.fail("NG retransmission", f"{type(e).__name__}: {e}")
    runner.run("port exhaustion: 'Ran out of ports', recovery after delete",
               case_port_exhaustion, build_dir)
    runner.run("--max-sessions=1: limit reached / load limit", case_max_sessions, build_dir)
    runner.run("--timeout=2 removes an answered call without media", case_timeout, build_dir)
    runner.run("--offer-timeout=2 removes an unanswered offer", case_offer_timeout, build_dir)
    runner.run("--delete-delay=2: hidden from list, query works until the delay",
               case_delete_delay, build_dir)
    runner.run("SIGTERM: exit 0 within 2 s, ports released", case_sigterm, build_dir)
    runner.run("bad flags: exit 2, one stderr line naming the flag", case_bad_flags, build_dir)
    runner.run("config file (listen-ng, port-min, port-max, interface) honoured",
               case_config_file, build_dir)
    runner.run("config file with a bad value exits 2 naming the key", case_config_bad_value,
               build_dir)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
