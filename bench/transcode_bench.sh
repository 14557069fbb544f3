#!/usr/bin/env bash
# transcode_bench.sh: G.711 <-> Opus transcoding, voxrelay against Debian's
# rtpengine in one run. N calls, both directions transcoded (A sends PCMU,
# B sends Opus, `"codec": {"transcode": ["opus"]}` in the offer), 50 packets/s
# per stream, relay pinned to core 0 and voxload to core 1, relays
# alternating over R rounds: relay CPU from /proc/PID/stat over the window,
# "transcoded calls per core" = N / (relay CPU as a fraction of a core).
# Then memory: a fresh relay with M plain calls and a fresh one with M
# transcoded calls (media flowing at --mem-pps, low enough that rtpengine
# does not saturate and queue), VmRSS at the window's end minus VmRSS before
# the calls, per call; the transcoded minus the plain figure is what
# transcoding adds. Both runs send the same packets, so memory that grows
# with packets rather than calls (voxrelay's io_uring worker touches its
# 8192 x 2 KiB provided receive buffers as packets arrive: up to 16 MiB)
# cancels out; the default load sends > 8192 packets so it is all touched.
#
# usage: bench/transcode_bench.sh [--build DIR] [--calls 20] [--duration 10] [--warmup 3] [--rounds 3]
#          [--mem-calls 200] [--mem-pps 4] [--mem-duration 10] [--mem-rounds 1] [--skip-cpu] [--skip-mem]
#          [--only voxrelay|rtpengine] [--opus-rate 48000|8000] [--ng-port 22222]
#          [--port-min 30000] [--port-max 40000] [--logs DIR] [--vox-args "EXTRA VOXRELAY FLAGS"]
#          [--load-args "EXTRA VOXLOAD FLAGS FOR TRANSCODED RUNS, e.g. --answer-no-fec"]
set -euo pipefail

build=./build
calls=20
duration=10
warmup=3
rounds=3
mem_calls=200
mem_pps=4
mem_rounds=1
mem_duration=10
skip_cpu=0
skip_mem=0
only=""
opus_rate=48000
vox_args=""
load_args=""
ng_port=22222
port_min=30000
port_max=40000
logs=""
relay_core=0
load_core=1

usage() { sed -n '17,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --mem-calls) mem_calls=$2; shift 2 ;;
    --mem-pps) mem_pps=$2; shift 2 ;;
    --mem-rounds) mem_rounds=$2; shift 2 ;;
    --mem-duration) mem_duration=$2; shift 2 ;;
    --skip-cpu) skip_cpu=1; shift ;;
    --skip-mem) skip_mem=1; shift ;;
    --only) only=$2; shift 2 ;;
    --opus-rate) opus_rate=$2; shift 2 ;;
    --ng-port) ng_port=$2; shift 2 ;;
    --port-min) port_min=$2; shift 2 ;;
    --port-max) port_max=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --vox-args) vox_args=$2; shift 2 ;;
    --load-args) load_args=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "transcode_bench: unknown argument $1" >&2; usage ;;
  esac
done

prog=transcode_bench
# shellcheck source=bench/relay_lib.sh
source "$(dirname "$0")/relay_lib.sh"
choose_relays "$only"
check_tools
if ! "$build/voxload" --help | grep -q -- --transcode; then
  echo "transcode_bench: $build/voxload has no --transcode mode; rebuild it" >&2; exit 2
fi

ng="127.0.0.1:$ng_port"
logs=${logs:-$(mktemp -d /tmp/transcode_bench.XXXXXX)}
mkdir -p "$logs"
results="$logs/results.jsonl"
: > "$results"

run_one() {  # $1 = phase, $2 = round, $3 = relay, $4 = mode (transcode|plain), then voxload arguments
  local phase=$1 round=$2 relay=$3 mode=$4
  shift 4
  local tag="$phase.$relay.$mode.$round"
  start_relay "$relay" "$logs/$tag.relay.log"
  local load1 out line
  load1=$(cut -d' ' -f1 /proc/loadavg)
  local extra=()
  [[ "$mode" == transcode ]] && extra=(--transcode --opus-rate="$opus_rate" $load_args)
  if out=$(taskset -c "$load_core" "$build/voxload" --ng="$ng" "${extra[@]}" --json --relay-pid="$relay_pid" \
             "$@" 2>>"$logs/$tag.voxload.log"); then
    line=$(tail -n1 <<<"$out")
  else
    echo "transcode_bench: voxload failed against $relay ($phase $mode round $round); see $logs/$tag.voxload.log" >&2
    line=null
  fi
  echo "{\"phase\":\"$phase\",\"round\":$round,\"relay\":\"$relay\",\"mode\":\"$mode\",\"load1_before\":$load1,\"result\":$line}" >>"$results"
  stop_relay
  sleep 0.5  # let the kernel reap the relay's sockets before the next one binds
}

echo "transcode_bench: cpu: $calls transcoded calls x 2 streams x 50 pps, ${warmup}+${duration} s, $rounds rounds;" \
     "memory: $mem_calls calls at $mem_pps pps per stream, $mem_rounds rounds; B's Opus at $opus_rate Hz;" \
     "voxload extras: '${load_args}'; voxrelay extras: '${vox_args}'; logs in $logs"
echo "transcode_bench: load average before start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on these cores skews every figure; see other%)"

if (( ! skip_cpu )); then
  for round in $(seq "$rounds"); do
    # Alternate the order so drift (thermal, neighbours) hits both relays alike.
    order=("${relays[@]}")
    if (( round % 2 == 0 && ${#relays[@]} == 2 )); then order=("${relays[1]}" "${relays[0]}"); fi
    for relay in "${order[@]}"; do
      run_one cpu "$round" "$relay" transcode --calls="$calls" --pps-per-stream=50 \
        --duration="$duration" --warmup="$warmup"
    done
  done
fi
if (( ! skip_mem )); then
  for round in $(seq "$mem_rounds"); do
    for relay in "${relays[@]}"; do
      for mode in plain transcode; do
        run_one mem "$round" "$relay" "$mode" --calls="$mem_calls" --pps-per-stream="$mem_pps" \
          --duration="$mem_duration" --warmup=2
      done
    done
  done
fi

python3 - "$results" <<'EOF'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cpu = [r for r in rows if r["phase"] == "cpu"]
mem = [r for r in rows if r["phase"] == "mem"]

def us_per_frame(r):
    return r["relay_cpu_s"] * 1e6 / r["delivered"] if r["delivered"] else float("nan")

if cpu:
    hdr = (f"{'round':>5} {'relay':<10} {'calls':>5} {'deliv pps':>9} {'loss%':>7} {'drops':>5} {'inval':>5} "
           f"{'relay%':>7} {'calls/core':>10} {'us/frame':>8} {'A>B p50':>8} {'A>B p99':>8} {'B>A p50':>8} "
           f"{'B>A p99':>8} {'seq p50':>8} {'seq p99':>8} {'gen%':>5} {'other%':>6}")
    print(hdr)
    print("-" * len(hdr))
    by_relay = {}
    for row in cpu:
        r = row["result"]
        if r is None:
            print(f"{row['round']:>5} {row['relay']:<10} failed")
            continue
        t = r["transcode"]
        frac = r["relay_cpu_pct"] / 100
        r["calls_per_core"] = r["calls"] / frac if frac > 0 else float("nan")
        r["us_per_frame"] = us_per_frame(r)
        by_relay.setdefault(row["relay"], []).append(r)
        # A relay that numbers its own packets matches an input's sequence
        # number by chance on about 8 in 65536 streams: only a relay that keeps
        # them on (nearly) every output counts.
        has_seq = sum(t["seq_lag_counts"]) >= 0.9 * r["delivered"] > 0
        seq50 = f"{t['seq_latency_p50_us']:.0f}" if has_seq else "-"
        seq99 = f"{t['seq_latency_p99_us']:.0f}" if has_seq else "-"
        print(f"{row['round']:>5} {row['relay']:<10} {r['calls']:>5} {r['delivered_pps']:>9.0f} {r['loss_pct']:>7.3f} "
              f"{r['relay_socket_drops']:>5} {r['invalid']:>5} {r['relay_cpu_pct']:>7.1f} {r['calls_per_core']:>10.1f} "
              f"{r['us_per_frame']:>8.1f} {t['a_to_b_p50_us']:>8.0f} {t['a_to_b_p99_us']:>8.0f} "
              f"{t['b_to_a_p50_us']:>8.0f} {t['b_to_a_p99_us']:>8.0f} {seq50:>8} {seq99:>8} "
              f"{r['self_cpu_pct']:>5.1f} "
              f"{r.get('other_cpu_pct', -1):>6.1f}")
    print("(latency columns in µs: arrival minus the send time of the newest input the output can have been made"
          " from (RTP timestamp mapping); seq: from the input whose RTP sequence number the output carries, for a"
          " relay that keeps them (rtpengine), codec hold-back included; drops = kernel drops at the relay's media"
          " sockets)")
    for row in cpu:
        r = row["result"]
        if r and sum(r["transcode"]["seq_lag_counts"]) >= 0.9 * r["delivered"] > 0:
            print(f"  round {row['round']} {row['relay']}: outputs by packets between the input named by their"
                  f" sequence number and the newest possible one: {r['transcode']['seq_lag_counts']}")
    print()
    med = {}
    for relay, rs in by_relay.items():
        m = {k: statistics.median(x[k] for x in rs)
             for k in ("calls_per_core", "relay_cpu_pct", "us_per_frame", "loss_pct")}
        med[relay] = m
        print(f"median {relay:<10} {m['calls_per_core']:.1f} transcoded calls per core "
              f"({2 * m['calls_per_core']:.0f} call-directions) at {m['relay_cpu_pct']:.1f} % CPU, "
              f"{m['us_per_frame']:.1f} us CPU per transcoded frame, loss {m['loss_pct']:.3f} % ({len(rs)} rounds)")
    if "voxrelay" in med and "rtpengine" in med and med["rtpengine"]["calls_per_core"] > 0:
        ratio = med["voxrelay"]["calls_per_core"] / med["rtpengine"]["calls_per_core"]
        print(f"ratio voxrelay/rtpengine transcoded calls per core: {ratio:.2f} (target >= 3)")
    hot = [(rel, r["relay_cpu_pct"]) for rel, rs in by_relay.items() for r in rs if r["relay_cpu_pct"] > 80]
    if hot:
        print(f"warning: a relay ran above 80 % of its core in some rounds {hot}: near saturation, "
              "calls per core is no longer linear in N")
    lossy = [(rel, r["loss_pct"], r["relay_socket_drops"]) for rel, rs in by_relay.items() for r in rs
             if r["loss_pct"] > 0 or r["relay_socket_drops"] > 0]
    if lossy:
        print(f"warning: loss or relay socket drops in some rounds (relay, loss %, drops): {lossy}")
    gen = [r["self_cpu_pct"] for rs in by_relay.values() for r in rs]
    if gen and max(gen) > 80:
        print(f"warning: voxload used up to {max(gen):.0f} % of its core: the figures may measure the generator")
    other = [r.get("other_cpu_pct", 0) for rs in by_relay.values() for r in rs]
    if other and max(other) > 10:
        print(f"warning: other work used up to {max(other):.0f} % of a core during a window (other%): "
              "those rounds are skewed; rerun on a quiet machine")

if mem:
    print()
    print(f"{'round':>5} {'relay':<10} {'mode':<9} {'calls':>5} {'loss%':>7} {'rss before':>10} {'rss after':>10} "
          f"{'KiB/call':>8}")
    per = {}
    for row in mem:
        r = row["result"]
        if r is None:
            print(f"{row['round']:>5} {row['relay']:<10} {row['mode']:<9} failed")
            continue
        kib = (r["relay_rss_kb"] - r["relay_rss_before_kb"]) / r["calls"] if r["calls"] else float("nan")
        per.setdefault((row["relay"], row["mode"]), []).append(kib)
        print(f"{row['round']:>5} {row['relay']:<10} {row['mode']:<9} {r['calls']:>5} {r['loss_pct']:>7.3f} "
              f"{r['relay_rss_before_kb']:>10} {r['relay_rss_kb']:>10} {kib:>8.1f}")
    print("(VmRSS in KiB: before = fresh relay before any call; after = at the window's end, calls up, media flowing)")
    for relay in sorted({k[0] for k in per}):
        p = per.get((relay, "plain"))
        t = per.get((relay, "transcode"))
        if p and t:
            pm, tm = statistics.median(p), statistics.median(t)
            print(f"memory {relay:<10} {tm:.1f} KiB per transcoded call (vs 0 calls), {pm:.1f} KiB per plain call; "
                  f"transcoding adds {tm - pm:.1f} KiB = {(tm - pm) * 1.024:.1f} kB per call (target <= 80 KB)")
EOF
