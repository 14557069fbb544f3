#!/usr/bin/env python3
"""A real Prometheus (Debian's) scrapes voxrelay's /metrics during a load
run, and the rates it computes agree with what the load tool sent.

The test starts voxrelay (--listen-http on loopback) and Prometheus (its
own config and data directory, scraping every second, its web API on
loopback), then voxload: 20 calls, 50 packets/s per stream (2,000
packets/s through the relay), 8 s. Then it asks Prometheus's HTTP API:
  - the scrape target is up;
  - rate(voxrelay_worker_rx_packets_total[4s]) and the tx rate, summed over
    workers, at the middle of the load window: within 10 % of the 2,000
    packets/s voxload sent;
  - max_over_time(voxrelay_calls{state="active"}) over the run is 20;
  - voxrelay_ng_commands_total{command="offer"} reached 20.
Both daemons stop at the end. Fails when Debian's prometheus is not
installed (tools/setup.sh --test installs it). Exit 0 = pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"
CALLS = 20
PPS_PER_STREAM = 50
DURATION_S = 8.0
WARMUP_S = 1.0
SENT_PPS = 2 * CALLS * PPS_PER_STREAM  # both streams of every call
TOLERANCE = 0.10
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"



def api(port: int, query: str, at: float = None) -> list:
    """Prometheus instant query; its result vector."""
    params = {"query": query}
    if at is not None:
        params["time"] = f"{at:.3f}"
    url = f"http://{LOCAL}:{port}/api/v1/query?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    assert doc.get("status") == "success", f"{query}: {doc}"
    return doc["data"]["result"]


def scalar(port: int, query: str, at: float = None) -> float:
    result = api(port, query, at)
    assert len(result) == 1, f"{query}: {len(result)} series: {result}"
    return float(result[0]["value"][1])


class Prometheus:
    def __init__(self, work: Path, target: str):
        self.port = vox.free_udp_port()  # free for TCP too
        config = work / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: voxrelay\n    static_configs:\n"
            f"      - targets: ['{target}']\n")
        self.log = open(work / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
             f"--web.listen-address={LOCAL}:{self.port}", "--web.enable-lifecycle"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.work = work

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited:\n{vox.tail(self.work / 'prometheus.log')}"
            try:
                with urllib.request.urlopen(f"http://{LOCAL}:{self.port}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready in {timeout:g} s")

    def wait_up(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            up = api(self.port, 'up{job="voxrelay"}')
            if up and up[0]["value"][1] == "1":
                return
            time.sleep(0.5)
        raise AssertionError(f"the voxrelay target is not up: {api(self.port, 'up')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    if not Path(PROMETHEUS).exists():
        print("FAIL: prometheus not installed (tools/setup.sh --test installs it)")
        return 1
    runner = vox.CaseRunner("test_prometheus")
    http_port = vox.free_udp_port()  # free for TCP too
    with tempfile.TemporaryDirectory(prefix="vox-prom-") as tmp, \
            vox.Relay(build_dir, extra_args=[f"--listen-http={LOCAL}:{http_port}"]) as relay:
        prom = Prometheus(Path(tmp), f"{LOCAL}:{http_port}")
        try:
            runner.run("Prometheus starts and scrapes voxrelay's /metrics (target up)",
                       lambda: (prom.wait_ready(), prom.wait_up()))
            window = {}

            def load():
                start = time.time()
                r = subprocess.run([str(build_dir / "voxload"), f"--ng={LOCAL}:{relay.ng_port}",
                                    f"--calls={CALLS}", f"--pps-per-stream={PPS_PER_STREAM}",
                                    f"--duration={DURATION_S}", f"--warmup={WARMUP_S}", "--json"],
                                   capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, f"voxload failed ({r.returncode}):\n{r.stderr[-800:]}"
                report = json.loads(r.stdout.strip().splitlines()[-1])
                window["start"], window["end"] = start + WARMUP_S, time.time()
                print(f"      voxload: {json.dumps({k: report[k] for k in report if k in ('sent', 'received', 'lost')})}",
                      flush=True)
            runner.run(f"voxload: {CALLS} calls, {SENT_PPS} packets/s through the relay for {DURATION_S:g} s", load)
            time.sleep(2.5)  # the last scrapes of the window land

            def rates():
                mid = (window["start"] + window["end"]) / 2
                for name in ("rx", "tx"):
                    q = f"sum(rate(voxrelay_worker_{name}_packets_total[4s]))"
                    got = scalar(prom.port, q, at=mid)
                    print(f"      Prometheus {q} at mid-window: {got:.0f}/s (voxload sent {SENT_PPS}/s)", flush=True)
                    assert abs(got - SENT_PPS) <= TOLERANCE * SENT_PPS, \
                        f"{q} = {got:.0f}/s, not within {TOLERANCE:.0%} of {SENT_PPS}/s"
            runner.run(f"rate() of the workers' rx and tx packets within {TOLERANCE:.0%} of what voxload sent",
                       rates)

            def calls():
                span = int(time.time() - window["start"] + 5)
                active = scalar(prom.port, f'max_over_time(voxrelay_calls{{state="active"}}[{span}s])')
                offers = scalar(prom.port, f'max_over_time(voxrelay_ng_commands_total{{command="offer"}}[{span}s])')
                print(f"      active calls at most {active:.0f}, offers {offers:.0f}", flush=True)
                assert active == CALLS, f"max active calls {active}, expected {CALLS}"
                assert offers >= CALLS, f"offers counted {offers}, expected at least {CALLS}"
            runner.run(f"calls active reached {CALLS}, offers counted", calls)
        finally:
            prom.stop()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
