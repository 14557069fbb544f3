#!/usr/bin/env python3
"""High availability (issue 18): what writing calls' state to Redis costs
per call setup, and how far a standby following the active relay's
database lags behind it.

Part 1, "cpu": the Redis write path's cost, with and without --redis,
side by side. Each round starts two voxrelays at once (socket backend, one
worker, --delete-delay=0, long timeouts, --ng-rate-limit=0, each on its
own half of the port range), both pinned with all their threads to core 0
(`taskset -a`), as in bench/ng_bench.py, whose `Calls` (plain PCMU calls,
sequential client), `cpu_seconds` and `raise_fd_limit` are imported from
it. One has `--redis=127.0.0.1:PORT/0` (a redis-server this script
starts, pinned to core 1 with the client, so that core 0 holds the relays
alone); the other is the same binary and flags without it. The client
gives both the same calls step by step, one relay then the other (which
goes first alternates by round), so that whatever this shared machine
does meanwhile falls on both alike: measured one after the other, the
per-round ratio scattered 0.95-1.27, side by side 1.08-1.13. Per round:
200 calls warm up, then `--calls` calls each get offer, answer and delete
(`delete delay: 0`), `--spread` steps apart (step i: offer of call i,
answer of call i - 20, delete of call i - 40: 20-30 ms at this client's
pace), as a proxy's calls are spread over time: every state encoded is
then also written (2 writes and a delete per call), not coalesced with
the next one in the writer's 10 ms gathering of a batch (calls set up and
deleted back to back would cost Redis a delete and nearly nothing else).
Before and after the measured calls the script waits until the relay's
writer has written everything (NG `statistics`: its `redis` `deletes`
count has grown by every call deleted, the backlog is 0; one `statistics`
request to the relay without Redis too), so the writer's work for the
measured calls, and only for them, falls inside the window. Relay CPU and
redis-server CPU are utime + stime of the whole process from
/proc/PID/stat over that window, divided by the calls; latency is the
client's round trip of each measured offer (p50, p99). The ratio
with/without is taken within a round, then the median (target: <= 1.10).
redis-server's own CPU per call is reported beside it and, to show where
the relay's time goes, its CPU per call by thread (/proc/PID/task: the
control thread, which also encodes the states; the Redis writer; the
worker) and redis-server's commands per call (INFO commandstats, reset
before the window).

Part 2, "follow": the standby's lag. One redis-server, an active voxrelay
writing to database 1 and a standby voxrelay (`--redis=...:PORT/2
--subscribe-keyspace=1`, socket backend, the same --interface as the
active, which is not on this host: it follows the calls and binds
nothing, as a standby whose address lives on the active host). 10,000
calls held up cost the socket backend 4 descriptors each and the hard
descriptor limit here is 20,000, so the active relay runs the DPDK
backend on a net_null device that receives nothing (`--backend=dpdk
--dpdk-args="--no-huge --no-pci -m 512 --no-shconf --no-telemetry
--file-prefix=habenchPID -l 0-1 --vdev=net_null0,no-rx=1"`,
`--interface=10.77.0.1`, `--dpdk-idle-sleep-us=200`): its media ports
are entries in a table, no descriptor each, and no frame is sent since no
media flows. The client sets up `--follow-calls` calls (offer + answer,
kept up, no media) through the active at a steady `--rate` per second
(the schedule is kept: a call delayed by a stall of this machine goes out
as soon as it can) and, every `--sample-ms`, asks the standby for
`statistics`, recording its `followed` figure f and how many calls the
client had answered by then (a). The lag of a sample is the time since
the client had got the answer of the call that brought `followed` to f:
reply time minus the answer time of call min(f, a) (with f >= a the
standby holds every answered call, and the lag is the time since the
last answer). Samples count from the first answer until the first one
showing f = every call. Reported: max and p99 lag (target: < 1 s), the
final catch-up (last answer to the standby showing every call), how many
answered calls the standby lacked at worst and how long the oldest of
them had been answered, the standby's `followed` at the end (must be
every call), the active's writes/errors/dropped, the keys in database 1,
and CPU per call of the standby and of redis-server over the paced run.
`--active-backend=socket` runs the active on the socket backend instead,
with as many calls as the descriptor limit allows (and says so).

Both parts: redis-server (Debian's) on a free loopback port with
`--save '' --appendonly no`, everything started here is stopped at the
end, on failure, Ctrl-C or SIGTERM. Only 127.0.0.0/8 traffic (the DPDK
device is net_null: nothing leaves it). Root is needed for the DPDK
backend. A full run takes about 4 minutes:

    /usr/bin/python3 bench/ha_bench.py --build-dir build --rounds 5 --calls 5000

`--part cpu` or `--part follow` runs one part alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ng_bench  # noqa: E402  (also puts tests/lib on sys.path)
import vox  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
RELAY_CORE, CLIENT_CORE = ng_bench.RELAY_CORE, ng_bench.CLIENT_CORE
CPU_DB, ACTIVE_DB, STANDBY_DB = 0, 1, 2
MEDIA_IP = "10.77.0.1"  # the active's media address in part 2: on no kernel interface
PEER_A, PEER_B = "10.77.0.2", "10.77.0.3"
LONG = ["--timeout=3600", "--silent-timeout=3600", "--offer-timeout=3600"]


class Abort(BaseException):
    """SIGINT / SIGTERM / SIGHUP: unwinds, so everything started is stopped."""


def _abort(signum, _frame):
    raise Abort(f"signal {signum}")


class Redis:
    """redis-server of this run, on a free loopback port, no persistence."""

    def __init__(self, workdir: Path, core: int):
        self.workdir, self.core = workdir, core
        self.port = vox.free_udp_port(31000, 39000)  # free for TCP and UDP
        self.proc = None

    def start(self) -> "Redis":
        cmd = ["taskset", "-c", str(self.core), REDIS_SERVER, "--port", str(self.port),
               "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while self.cli("PING") != "PONG":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {vox.tail(self.workdir / 'redis.log')}")
            time.sleep(0.05)
        return self

    def target(self, db: int) -> str:
        return f"127.0.0.1:{self.port}/{db}"

    def cli(self, *args, db: int = 0) -> str:
        r = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port), "-n", str(db),
                            *map(str, args)], capture_output=True, text=True, timeout=20)
        return r.stdout.strip()

    def dbsize(self, db: int) -> int:
        return int(self.cli("DBSIZE", db=db) or -1)

    def cpu(self) -> float:
        return ng_bench.cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            vox.stop_process(self.proc, 5.0)


def thread_cpu(pid: int) -> dict:
    """CPU seconds per thread role: "control" (the main thread), "workers"
    (vox-worker-*), "writer" (the other threads named voxrelay: the Redis
    writer, and a standby's follower), "other"."""
    out = {"control": 0.0, "workers": 0.0, "writer": 0.0, "other": 0.0}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = ("control" if int(tid) == pid else "workers" if comm.startswith("vox-worker")
                else "writer" if comm == "voxrelay" else "other")
        out[role] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def redis_figures(ng: vox.NgClient) -> dict:
    return vox.ng_statistics(ng)["totalstatistics"].get("redis", {})


def pct(sorted_values: list, q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


# --------------------------------------------------------------------------
# part 1: CPU per call with and without --redis


def start_cpu_relay(build: Path, redis: Redis, with_redis: bool, started: list) -> vox.Relay:
    args = ["--delete-delay=0", *LONG, "--workers=1", "--ng-rate-limit=0"]
    if with_redis:
        args.append(f"--redis={redis.target(CPU_DB)}")
    # The two relays of a round run at once: each its own half of the ports.
    half = (ng_bench.PORT_MIN + ng_bench.PORT_MAX) // 2
    lo, hi = (half + 1, ng_bench.PORT_MAX) if with_redis else (ng_bench.PORT_MIN, half)
    relay = vox.Relay(build, impl="voxrelay", port_min=lo, port_max=hi, extra_args=args, verbose=False)
    started.append(relay)
    relay.start()
    subprocess.run(["taskset", "-a", "-p", "-c", str(RELAY_CORE), str(relay.proc.pid)],
                   check=True, capture_output=True)
    relay.ng.timeout = 5.0
    return relay


def settle(relay: vox.Relay, with_redis: bool, deletes_wanted: int) -> dict:
    """Until the writer has written every delete asked for and nothing
    waits (with Redis); one statistics request in either mode."""
    figs = redis_figures(relay.ng)
    if not with_redis:
        return figs
    deadline = time.monotonic() + 30
    while figs.get("deletes", 0) < deletes_wanted or figs.get("backlog", 1) != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the relay's Redis writer did not catch up within 30 s: {figs}")
        time.sleep(0.002)
        figs = redis_figures(relay.ng)
    return figs


def staggered(runs: list, calls: int, spread: int) -> list:
    """`calls` calls on each relay of `runs`, whose offer, answer and
    delete are `spread` steps apart (step i: offer i, answer i - spread,
    delete i - 2 * spread), as a proxy's calls are (ringing, then talk):
    every state the relay encodes is then written, not coalesced with the
    next in the writer's wait for a fuller batch. Each step goes to every
    relay in turn, so that whatever this machine does meanwhile falls on
    both alike. The offers' round trips, per relay."""
    offered = [[] for _ in runs]
    rtts = [[] for _ in runs]
    for i in range(calls + 2 * spread):
        for k, run in enumerate(runs):
            if i < calls:
                cid, rtt = run.offer()
                offered[k].append(cid)
                rtts[k].append(rtt)
            if spread <= i < calls + spread:
                run.answer(offered[k][i - spread])
            if i >= 2 * spread:
                run.delete(offered[k][i - 2 * spread])
    return rtts


def measure_pair(build: Path, redis: Redis, calls: int, rnd: int, started: list,
                 spread: int) -> list:
    """One round: a relay without and one with --redis, up at once, given
    the same calls step by step (which goes first alternates by round).
    Per relay: its CPU per call and the figures around it."""
    modes = (False, True) if rnd % 2 == 0 else (True, False)
    relays = [start_cpu_relay(build, redis, m, started) for m in modes]
    try:
        first = [redis_figures(r.ng) for r in relays]
        runs = [ng_bench.Calls(r.ng, f"{'on' if m else 'off'}-r{rnd + 1}") for r, m in zip(relays, modes)]
        staggered(runs, 200, spread)
        before = [settle(r, m, 200) for r, m in zip(relays, modes)]
        redis.cli("CONFIG", "RESETSTAT")
        threads0 = [thread_cpu(r.proc.pid) for r in relays]
        cpu0 = [ng_bench.cpu_seconds(r.proc.pid) for r in relays]
        rcpu0, wall0 = redis.cpu(), time.perf_counter()
        rtts = staggered(runs, calls, spread)
        wall1 = time.perf_counter()
        after = [settle(r, m, 200 + calls) for r, m in zip(relays, modes)]
        cpu1 = [ng_bench.cpu_seconds(r.proc.pid) for r in relays]
        rcpu1 = redis.cpu()
        threads1 = [thread_cpu(r.proc.pid) for r in relays]
        commands = {}  # redis-server's count of each command over the window
        for line in redis.cli("INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_"):
                name, rest = line[len("cmdstat_"):].split(":", 1)
                commands[name] = int(rest.split("calls=")[1].split(",")[0])
        out = []
        for k, with_redis in enumerate(modes):
            rt = sorted(rtts[k])
            out.append({
                "redis": with_redis, "calls": calls, "round": rnd + 1, "first": k == 0,
                "cpu_us": (cpu1[k] - cpu0[k]) / calls * 1e6,
                "redis_cpu_us": (rcpu1 - rcpu0) / calls * 1e6 if with_redis else 0.0,
                "calls_per_s": calls / (wall1 - wall0),
                "p50_us": pct(rt, 0.5) * 1e6, "p99_us": pct(rt, 0.99) * 1e6,
                "writes_per_call": (after[k].get("writes", 0) - before[k].get("writes", 0)) / calls,
                "errors": after[k].get("errors", 0), "dropped": after[k].get("dropped", 0),
                "connected_at_start": first[k].get("connected"),
                "keys_left": redis.dbsize(CPU_DB) if with_redis else 0,
                "threads_us": {t: (threads1[k][t] - threads0[k][t]) / calls * 1e6 for t in threads0[k]},
                "commands_per_call": {c: commands.get(c, 0) / calls for c in ("select", "set", "del")}})
        return out
    finally:
        for r in relays:
            r.stop()
            r.cleanup()


def part_cpu(args, build: Path, redis: Redis, started: list) -> None:
    print(f"\n== part 1: relay CPU per call (offer + answer + delete), with and without --redis, "
          f"side by side; {args.rounds} rounds of {args.calls} calls each, load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for rnd in range(args.rounds):
        for r in measure_pair(build, redis, args.calls, rnd, started, args.spread):
            results.append(r)
            with_redis = r["redis"]
            extra = (f", {r['writes_per_call']:.2f} writes/call, errors {r['errors']}, dropped "
                     f"{r['dropped']}, keys left {r['keys_left']}, 'connected' before the first "
                     f"call {r['connected_at_start']}; redis-server commands per call " +
                     " ".join(f"{k.upper()} {v:.2f}" for k, v in r["commands_per_call"].items())
                     if with_redis else "")
            extra += "; relay threads " + ", ".join(f"{k} {v:.0f}" for k, v in r["threads_us"].items()
                                                    if v or k != "other") + " us/call"
            print(f"  round {rnd + 1} {'with' if with_redis else 'without':7} Redis"
                  f"{' (first)' if r['first'] else '        '}: relay "
                  f"{r['cpu_us']:6.1f} us/call, redis-server {r['redis_cpu_us']:5.1f} us/call, "
                  f"offer p50 {r['p50_us']:.0f} us p99 {r['p99_us']:.0f} us, "
                  f"{r['calls_per_s']:.0f} calls/s each{extra}", flush=True)
    on = [r for r in results if r["redis"]]
    off = [r for r in results if not r["redis"]]
    ratios = [a["cpu_us"] / b["cpu_us"] for a, b in zip(on, off)]
    total = [(a["cpu_us"] + a["redis_cpu_us"]) / b["cpu_us"] for a, b in zip(on, off)]

    def med(rows, key):
        return statistics.median(r[key] for r in rows)
    print(f"\n  relay CPU per call: without {med(off, 'cpu_us'):.1f} us, with {med(on, 'cpu_us'):.1f} us "
          f"(medians); ratio with/without per round {', '.join(f'{x:.3f}' for x in ratios)}, "
          f"median {statistics.median(ratios):.3f} (target <= 1.10: "
          f"{'met' if statistics.median(ratios) <= 1.10 else 'NOT met'})")
    print(f"  calls/s on the relay's core (1e6 / CPU per call): without "
          f"{1e6 / med(off, 'cpu_us'):.0f}, with {1e6 / med(on, 'cpu_us'):.0f}")
    print(f"  redis-server CPU per call: {med(on, 'redis_cpu_us'):.1f} us (median); relay + "
          f"redis-server with / relay without: median {statistics.median(total):.3f} "
          f"({', '.join(f'{x:.3f}' for x in total)})")
    for role in ("control", "writer", "workers"):
        print(f"  {role + ' thread' + ('s' if role == 'workers' else ''):15} CPU per call: without "
              f"{statistics.median(r['threads_us'][role] for r in off):6.1f} us, with "
              f"{statistics.median(r['threads_us'][role] for r in on):6.1f} us (medians)")
    print(f"  offer round trip p50 / p99 (medians of the rounds): without {med(off, 'p50_us'):.0f} / "
          f"{med(off, 'p99_us'):.0f} us, with {med(on, 'p50_us'):.0f} / {med(on, 'p99_us'):.0f} us",
          flush=True)


# --------------------------------------------------------------------------
# part 2: the standby's lag


def start_active(args, build: Path, redis: Redis, started: list) -> vox.Relay:
    extra = [f"--redis={redis.target(ACTIVE_DB)}", *LONG, "--workers=1"]
    if args.active_backend == "dpdk":
        eal = (f"--no-huge --no-pci -m 512 --no-shconf --no-telemetry "
               f"--file-prefix=habench{os.getpid()} -l {RELAY_CORE}-{CLIENT_CORE} "
               f"--vdev=net_null0,no-rx=1")
        extra += ["--backend=dpdk", f"--dpdk-args={eal}", "--dpdk-idle-sleep-us=200"]
    relay = vox.Relay(build, impl="voxrelay", port_min=ng_bench.PORT_MIN,
                      port_max=ng_bench.PORT_MAX, extra_args=extra, verbose=False,
                      interfaces=[MEDIA_IP if args.active_backend == "dpdk" else "127.0.0.1"],
                      start_timeout=30)
    started.append(relay)
    relay.start()
    relay.ng.timeout = 5.0
    return relay


def start_standby(build: Path, redis: Redis, interface: str, started: list) -> vox.Relay:
    relay = vox.Relay(build, impl="voxrelay", port_min=ng_bench.PORT_MIN,
                      port_max=ng_bench.PORT_MAX, verbose=False, interfaces=[interface],
                      extra_args=[f"--redis={redis.target(STANDBY_DB)}",
                                  f"--subscribe-keyspace={ACTIVE_DB}", *LONG, "--workers=1"])
    started.append(relay)
    relay.start()
    relay.ng.timeout = 5.0
    return relay


def part_follow(args, build: Path, redis: Redis, started: list, fds: int) -> None:
    n = args.follow_calls
    if args.active_backend == "socket" and n * 4 + 300 > fds:
        fit = (fds - 300) // 4
        print(f"\nNOTE: the socket backend holds 4 descriptors per call; the hard descriptor "
              f"limit here is {fds}, so {fit} calls instead of {n}.")
        n = fit
    redis.cli("FLUSHALL")
    print(f"\n== part 2: a standby following {n} calls set up at {args.rate:g}/s through the "
          f"active ({args.active_backend} backend); load average {os.getloadavg()[0]:.2f}",
          flush=True)
    active = start_active(args, build, redis, started)
    standby = start_standby(build, redis, active.interfaces[0], started)
    deadline = time.monotonic() + 10
    while int(redis.cli("PUBSUB", "NUMPAT") or 0) < 1:  # the standby's PSUBSCRIBE
        if time.monotonic() > deadline:
            raise RuntimeError("the standby did not subscribe to keyspace notifications")
        time.sleep(0.02)
    sb_ng = standby.ng
    sb_ng.timeout = 2.0
    ng = active.ng
    cpu0 = {"standby": ng_bench.cpu_seconds(standby.proc.pid), "redis": redis.cpu()}

    answered: list = []  # perf_counter when each answer's reply came
    samples: list = []   # (sent, received, answered by then, followed)
    period, step = args.sample_ms / 1000.0, 1.0 / args.rate
    t0 = time.perf_counter()
    next_call, next_sample = t0, t0
    i = 0
    late = 0.0
    done_at = None
    while True:
        now = time.perf_counter()
        if now >= next_sample:
            a = len(answered)
            f = int(redis_figures(sb_ng).get("followed", 0))
            samples.append((now, time.perf_counter(), a, f))
            next_sample += period
            if i >= n and f >= n:
                done_at = samples[-1][1]
                break
            if i >= n and now - answered[-1] > args.catchup_timeout:
                break
            continue
        if i < n and now >= next_call:
            late = max(late, now - next_call)
            cid = f"follow-{i}"
            vox.ng_ok(ng, {"command": "offer", "call-id": cid, "from-tag": "a",
                           "sdp": vox.make_sdp(PEER_A, [2000 + (2 * i) % 60000])})
            vox.ng_ok(ng, {"command": "answer", "call-id": cid, "from-tag": "a", "to-tag": "b",
                           "sdp": vox.make_sdp(PEER_B, [2000 + (2 * i + 1) % 60000])})
            answered.append(time.perf_counter())
            i += 1
            next_call = t0 + i * step
            continue
        wake = next_sample if i >= n else min(next_sample, next_call)
        time.sleep(max(0.0, wake - time.perf_counter()))
    setup_s = answered[-1] - answered[0]
    cpu1 = {"standby": ng_bench.cpu_seconds(standby.proc.pid), "redis": redis.cpu()}

    lags, waiting = [], []
    for _sent, got, a, f in samples:
        if a == 0:
            continue
        k = min(f, a)
        lags.append(got - answered[k - 1] if k > 0 else got - answered[0])
        # The standby's own backlog: how long the oldest answered call it
        # did not follow yet had been answered (0 when it had them all).
        waiting.append(got - answered[f] if f < a else 0.0)
        if f >= n:
            break
    lags.sort()
    waiting.sort()
    afigs, sfigs = redis_figures(ng), redis_figures(sb_ng)
    keys = redis.dbsize(ACTIVE_DB)
    behind = max(a - f for _s, _g, a, f in samples)
    rtt = sorted(g - s for s, g, _a, _f in samples)
    print(f"  {n} calls answered in {setup_s:.2f} s ({(n - 1) / setup_s:.1f} calls/s; the pacing "
          f"loop was at most {late * 1e3:.1f} ms late); {len(samples)} samples every "
          f"{args.sample_ms} ms (statistics round trip p50 {pct(rtt, 0.5) * 1e3:.2f} ms, "
          f"max {rtt[-1] * 1e3:.2f} ms)")
    print(f"  lag over {len(lags)} samples: max {lags[-1] * 1e3:.1f} ms, p99 "
          f"{pct(lags, 0.99) * 1e3:.1f} ms, p50 {pct(lags, 0.5) * 1e3:.1f} ms (target < 1 s: "
          f"{'met' if lags[-1] < 1.0 else 'NOT met'}); at most {behind} answered call(s) not yet "
          f"followed at a sample, the oldest of them answered at most {waiting[-1] * 1e3:.1f} ms "
          f"before (p99 {pct(waiting, 0.99) * 1e3:.1f} ms)")
    if done_at is not None:
        print(f"  final catch-up: the standby showed {n} followed {(done_at - answered[-1]) * 1e3:.1f} ms "
              f"after the last answer")
    else:
        print(f"  the standby did NOT reach {n} followed within {args.catchup_timeout} s of the last "
              f"answer")
    print(f"  standby at the end: followed {sfigs.get('followed')} (want {n}: "
          f"{'ok' if sfigs.get('followed') == n else 'NOT ok'}), followed updates "
          f"{sfigs.get('followed updates')}, taken over {sfigs.get('taken over')}, connected "
          f"{sfigs.get('connected')}")
    print(f"  active at the end: connected {afigs.get('connected')}, writes {afigs.get('writes')}, "
          f"errors {afigs.get('errors')}, dropped "
          f"{afigs.get('dropped')}, backlog {afigs.get('backlog')}; database {ACTIVE_DB} holds {keys} keys")
    print(f"  CPU per call set up over the paced run: standby "
          f"{(cpu1['standby'] - cpu0['standby']) / n * 1e6:.1f} us, redis-server "
          f"{(cpu1['redis'] - cpu0['redis']) / n * 1e6:.1f} us", flush=True)
    for relay in (standby, active):
        relay.stop()
        if relay.returncode != 0 or relay.killed:
            print(f"  NOTE: {'standby' if relay is standby else 'active'} exited "
                  f"{relay.returncode}{' after SIGKILL' if relay.killed else ''}:\n"
                  f"{relay.stderr_tail(10)}")
    print(f"  after SIGTERM of both: database {ACTIVE_DB} holds {redis.dbsize(ACTIVE_DB)} keys "
          f"(kept for the next start)", flush=True)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=str(REPO / "build"),
                    help="where voxrelay is (default: the repository's build/)")
    ap.add_argument("--part", choices=("cpu", "follow", "both"), default="both")
    ap.add_argument("--rounds", type=int, default=5, help="part 1: rounds (default %(default)s)")
    ap.add_argument("--calls", type=int, default=5000,
                    help="part 1: measured calls per mode and round (default %(default)s)")
    ap.add_argument("--spread", type=int, default=20,
                    help="part 1: requests between a call's offer, answer and delete (default %(default)s)")
    ap.add_argument("--redis-core", type=int, default=CLIENT_CORE,
                    help="core redis-server is pinned to (default %(default)s, the client's)")
    ap.add_argument("--follow-calls", type=int, default=10000,
                    help="part 2: calls set up and kept (default %(default)s)")
    ap.add_argument("--rate", type=float, default=200, help="part 2: call setups per second")
    ap.add_argument("--sample-ms", type=float, default=50, help="part 2: sampling period")
    ap.add_argument("--catchup-timeout", type=float, default=30,
                    help="part 2: seconds after the last answer to wait for the standby")
    ap.add_argument("--active-backend", choices=("dpdk", "socket"), default="dpdk",
                    help="part 2: the active relay's backend (socket: as many calls as fit)")
    args = ap.parse_args()
    build = Path(args.build_dir).resolve()
    if not (build / "voxrelay").exists():
        sys.exit(f"ha_bench: no {build / 'voxrelay'}")
    if args.calls < 1 or args.rounds < 1 or args.follow_calls < 1:
        sys.exit("ha_bench: --calls, --rounds and --follow-calls must be positive")
    fds = ng_bench.raise_fd_limit()
    os.sched_setaffinity(0, {CLIENT_CORE})
    # SIGINT too: a shell that starts the script in the background leaves
    # it ignored, and Python then raises no KeyboardInterrupt.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _abort)
    workdir = Path(tempfile.mkdtemp(prefix="ha-bench-"))
    started: list = []
    redis = Redis(workdir, args.redis_core)
    rc = 1
    try:
        redis.start()
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime((build / "voxrelay").stat().st_mtime))
        print(f"ha_bench: {build / 'voxrelay'} (built {built}; repository at {rev or '?'}), redis-server "
              f"{redis.cli('INFO', 'server').split('redis_version:')[-1].split()[0]} on "
              f"127.0.0.1:{redis.port} (core {args.redis_core}), relay on core {RELAY_CORE}, "
              f"client on core {CLIENT_CORE}, descriptor limit {fds}", flush=True)
        if args.part in ("cpu", "both"):
            part_cpu(args, build, redis, started)
        if args.part in ("follow", "both"):
            part_follow(args, build, redis, started, fds)
        rc = 0
    except (KeyboardInterrupt, Abort) as e:
        print(f"\nha_bench: interrupted ({e or 'Ctrl-C'}), stopping what was started", flush=True)
        rc = 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for relay in reversed(started):
            if relay.proc is not None and relay.returncode is None:
                relay.stop()
                if rc != 0:
                    print(f"  {relay.impl} (pid {relay.proc.pid}) log tail:\n"
                          f"{relay.stderr_tail(15)}", flush=True)
            relay.cleanup()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(f"/var/run/dpdk/habench{os.getpid()}", ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
