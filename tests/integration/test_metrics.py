#!/usr/bin/env python3
"""Prometheus metrics (issue 17): the daemon with --listen-http serves
GET /metrics in the text format, over loopback.

  - the exposition parses: every sample has its family's HELP and TYPE,
    counters end in _total, names are valid;
  - a call with media moves the figures by what was done: calls active,
    NG commands by command and the NG request duration histogram's counts,
    packets received and sent by the workers (50
    RTP packets each way), port pairs free; its delete ends it;
  - 16 scrapes at once all answer 200 with the same families;
  - other paths answer 404; a port already taken stops the start with an
    error naming it; the daemon exits 0 on SIGTERM.
Exit 0 = pass.
"""

from __future__ import annotations

import concurrent.futures
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"
NPKT = 50
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")



def scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://{LOCAL}:{port}{path}", timeout=5) as r:
        assert r.status == 200, f"GET {path}: HTTP {r.status}"
        ctype = r.headers.get("Content-Type", "")
        assert ctype.startswith("text/plain; version=0.0.4"), f"Content-Type {ctype!r}"
        return r.read().decode()


def parse(text: str) -> dict:
    """{'name{labels}': value}, checking the format as it goes."""
    typed, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert NAME.match(name), f"bad metric name {name!r}"
            assert kind in ("counter", "gauge", "histogram"), line
            assert (kind == "counter") == name.endswith("_total"), f"counter naming: {line}"
            assert name not in typed, f"family {name} twice"
            typed[name] = kind
            if kind == "histogram":
                for suffix in ("_bucket", "_sum", "_count"):
                    typed[name + suffix] = kind
        elif line.startswith("# HELP ") or not line:
            continue
        else:
            key, value = line.rsplit(" ", 1)
            family = key.split("{", 1)[0]
            assert family in typed, f"sample before its TYPE: {line}"
            samples[key] = float(value)
    return samples


def total(samples: dict, family: str) -> int:
    return sum(v for k, v in samples.items() if k.split("{", 1)[0] == family)


def case_format(port: int) -> None:
    s = parse(scrape(port))
    for family in ("voxrelay_calls", "voxrelay_ng_commands_total", "voxrelay_port_pairs_free",
                   "voxrelay_worker_rx_packets_total", "voxrelay_worker_drops_total",
                   "voxrelay_ng_requests_total", "voxrelay_transcode_streams",
                   "voxrelay_ng_request_duration_seconds_bucket",
                   "voxrelay_dtls_handshakes_completed_total"):
        assert any(k.split("{")[0] == family for k in s), f"no {family} in /metrics"
    print(f"      {len(s)} samples", flush=True)


def case_call(relay: vox.Relay, port: int) -> None:
    before = parse(scrape(port))
    a, b = vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL)
    try:
        to_a, to_b = vox.plain_call(relay.ng, "metrics-1", a, b)
        vox.two_way(a, to_a, b, to_b, NPKT)
        during = parse(scrape(port))
        delta = {f: total(during, f) - total(before, f) for f in (
            "voxrelay_worker_rx_packets_total", "voxrelay_worker_tx_packets_total")}
        assert delta["voxrelay_worker_rx_packets_total"] == 2 * NPKT, f"rx moved {delta}"
        assert delta["voxrelay_worker_tx_packets_total"] == 2 * NPKT, f"tx moved {delta}"
        assert during['voxrelay_calls{state="active"}'] == 1, during['voxrelay_calls{state="active"}']
        for cmd in ("offer", "answer"):
            k = f'voxrelay_ng_commands_total{{command="{cmd}"}}'
            assert during[k] - before[k] == 1, f"{k}: {before[k]} -> {during[k]}"
            k = f'voxrelay_ng_request_duration_seconds_count{{command="{cmd}"}}'
            assert during[k] - before[k] == 1, f"{k}: {before[k]} -> {during[k]}"
            inf = f'voxrelay_ng_request_duration_seconds_bucket{{command="{cmd}",le="+Inf"}}'
            assert during[inf] == during[k], f"{inf} {during[inf]} != count {during[k]}"
        pairs = total(before, "voxrelay_port_pairs_free") - total(during, "voxrelay_port_pairs_free")
        assert pairs == 2, f"port pairs free went down by {pairs}, not 2"
        print(f"      moved by the call: {delta}, port pairs -{pairs}", flush=True)
    finally:
        vox.ng_ok(relay.ng, {"command": "delete", "call-id": "metrics-1", "delete delay": 0})
        a.close()
        b.close()
    after = parse(scrape(port))
    assert after['voxrelay_calls{state="active"}'] == 0
    assert after["voxrelay_calls_ended_total"] - before["voxrelay_calls_ended_total"] == 1
    assert total(after, "voxrelay_port_pairs_free") == total(before, "voxrelay_port_pairs_free")


def case_concurrent(port: int) -> None:
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        texts = list(pool.map(lambda _: scrape(port), range(16)))
    families = {frozenset(k.split("{")[0] for k in parse(t)) for t in texts}
    assert len(families) == 1, "concurrent scrapes disagree on the families"


def case_not_found(port: int) -> None:
    try:
        scrape(port, "/nothing")
    except urllib.error.HTTPError as e:
        assert e.code == 404, f"GET /nothing: HTTP {e.code}"
        return
    raise AssertionError("GET /nothing answered 200")


def case_port_taken(build_dir: Path) -> None:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        s.listen()
        taken = s.getsockname()[1]
        r = subprocess.run([str(build_dir / "voxrelay"), "--foreground", f"--interface={LOCAL}",
                            f"--listen-ng={LOCAL}:{vox.free_udp_port()}", f"--listen-http={LOCAL}:{taken}"],
                           capture_output=True, text=True, timeout=10)
    assert r.returncode != 0, "started with its HTTP port taken"
    assert f"--listen-http={LOCAL}:{taken}: cannot bind" in r.stderr, r.stderr[-400:]


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_metrics")
    port = vox.free_udp_port()  # free for TCP too
    with vox.Relay(build_dir, extra_args=[f"--listen-http={LOCAL}:{port}"]) as relay:
        runner.run("GET /metrics: the text format, the families NG statistics has", case_format, port)
        runner.run("a call with 50 RTP packets each way moves calls, commands, packets, ports",
                   case_call, relay, port)
        runner.run("16 scrapes at once", case_concurrent, port)
        runner.run("another path: 404", case_not_found, port)
        runner.run("exit 0 on SIGTERM", lambda: relay.sigterm_within(5.0))
    runner.run("--listen-http on a taken port: a start-up error naming it", case_port_taken, build_dir)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
