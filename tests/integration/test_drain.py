#!/usr/bin/env python3
"""Drain for maintenance (issue 17), through the real daemon and voxctl:

  - `voxctl drain` on a relay with a call up: the reply says draining and
    1 call; /metrics shows voxrelay_draining 1;
  - a new offer gets "load limit" (the proxy then tries its next relay),
    one without `supports` the error "Draining: no new calls";
  - the call up keeps relaying media both ways, takes a re-offer (a
    re-INVITE) and ends with its delete;
  - `voxctl drain --off`: new calls are taken again;
  - the same over HTTP (--listen-http): POST /drain, DELETE /drain, each
    answered with the state as JSON; with --ng-allow, only from its
    addresses (403 from another).
Exit 0 = pass.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"



def voxctl(build_dir: Path, relay: vox.Relay, *args: str) -> str:
    r = subprocess.run([str(build_dir / "voxctl"), f"--ng={LOCAL}:{relay.ng_port}", *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"voxctl {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r.stdout


def draining_gauge(port: int) -> str:
    with urllib.request.urlopen(f"http://{LOCAL}:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("voxrelay_draining "):
                return line.split()[1]
    return "absent"


def offer(relay: vox.Relay, cid: str, port: int, **extra) -> dict:
    return relay.ng.call({"command": "offer", "call-id": cid, "from-tag": "A",
                          "sdp": vox.make_sdp(LOCAL, [port]), **extra})


def case_drain(build_dir: Path, relay: vox.Relay, http_port: int) -> None:
    a, b = vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL)
    try:
        to_a, to_b = vox.plain_call(relay.ng, "up", a, b)
        out = voxctl(build_dir, relay, "drain")
        assert "draining: yes" in out and "calls: 1" in out, f"voxctl drain said:\n{out}"
        assert draining_gauge(http_port) == "1", f"voxrelay_draining {draining_gauge(http_port)}"

        limited = offer(relay, "new-1", 40000, supports=["load limit"])
        assert limited.get("result") == "load limit", f"a new call while draining: {limited}"
        plain = offer(relay, "new-2", 40002)
        assert plain.get("error-reason") == "Draining: no new calls", f"without supports: {plain}"

        vox.two_way(a, to_a, b, to_b)
        re = offer(relay, "up", a.port)
        assert re.get("result") == "ok", f"a re-offer of the call up: {re}"
        vox.ng_ok(relay.ng, {"command": "delete", "call-id": "up", "delete delay": 0})

        out = voxctl(build_dir, relay, "drain", "--off")
        assert "draining: no" in out, f"voxctl drain --off said:\n{out}"
        assert draining_gauge(http_port) == "0"
        back = offer(relay, "new-3", 40004)
        assert back.get("result") == "ok", f"a new call after drain --off: {back}"
        vox.ng_ok(relay.ng, {"command": "delete", "call-id": "new-3", "delete delay": 0})
    finally:
        a.close()
        b.close()


def http_drain(port: int, method: str) -> dict:
    req = urllib.request.Request(f"http://{LOCAL}:{port}/drain", method=method)
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200 and r.headers.get("Content-Type", "").startswith("application/json")
        return json.loads(r.read())


def case_http_drain(relay: vox.Relay, http_port: int) -> None:
    on = http_drain(http_port, "POST")
    assert on == {"result": "ok", "draining": "yes", "calls": 0}, on
    limited = offer(relay, "http-1", 40006, supports=["load limit"])
    assert limited.get("result") == "load limit", f"a new call after POST /drain: {limited}"
    assert draining_gauge(http_port) == "1"
    off = http_drain(http_port, "DELETE")
    assert off["draining"] == "no", off
    back = offer(relay, "http-2", 40008)
    assert back.get("result") == "ok", f"a new call after DELETE /drain: {back}"
    vox.ng_ok(relay.ng, {"command": "delete", "call-id": "http-2", "delete delay": 0})


def case_http_refused(build_dir: Path) -> None:
    port = vox.free_udp_port()  # free for TCP too
    with vox.Relay(build_dir, extra_args=[f"--listen-http={LOCAL}:{port}", f"--ng-allow={LOCAL}"]) as relay:
        for source, want in (("127.0.0.5", 403), (LOCAL, 200)):
            conn = http.client.HTTPConnection(LOCAL, port, timeout=5, source_address=(source, 0))
            conn.request("POST", "/drain")
            status = conn.getresponse().status
            conn.close()
            assert status == want, f"POST /drain from {source} with --ng-allow={LOCAL}: {status}, not {want}"
        assert relay.alive()


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_drain")
    http_port = vox.free_udp_port()  # free for TCP too
    with vox.Relay(build_dir, extra_args=[f"--listen-http={LOCAL}:{http_port}"]) as relay:
        runner.run("voxctl drain: new calls get load limit, the call up runs to its end; --off",
                   case_drain, build_dir, relay, http_port)
        runner.run("HTTP: POST /drain, DELETE /drain", case_http_drain, relay, http_port)
    runner.run("HTTP /drain only from --ng-allow addresses (403 otherwise)", case_http_refused, build_dir)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
