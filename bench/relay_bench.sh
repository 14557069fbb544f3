#!/usr/bin/env bash
# relay_bench.sh: CPU per relayed packet and latency of voxrelay against
# Debian's rtpengine at the same offered load, alternating relays over R
# rounds in one run (relay pinned to core 0, voxload to core 1, 127.0.0.1 only).
#
# usage: bench/relay_bench.sh [--build DIR] [--calls 1000] [--rate 100000]
#          [--duration 10] [--warmup 2] [--rounds 3] [--only voxrelay|rtpengine]
#          [--ng-port 22222] [--port-min 30000] [--port-max 40000] [--logs DIR]
#          [--vox-args "EXTRA VOXRELAY FLAGS"]
set -euo pipefail

build=./build
calls=1000
rate=100000
duration=10
warmup=2
rounds=3
only=""
vox_args=""
ng_port=22222
port_min=30000
port_max=40000
logs=""
relay_core=0
load_core=1

usage() { sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --ng-port) ng_port=$2; shift 2 ;;
    --port-min) port_min=$2; shift 2 ;;
    --port-max) port_max=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --vox-args) vox_args=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "relay_bench: unknown argument $1" >&2; usage ;;
  esac
done

prog=relay_bench
# shellcheck source=bench/relay_lib.sh
source "$(dirname "$0")/relay_lib.sh"
choose_relays "$only"
check_tools

ng="127.0.0.1:$ng_port"
logs=${logs:-$(mktemp -d /tmp/relay_bench.XXXXXX)}
mkdir -p "$logs"
results="$logs/results.jsonl"
: > "$results"

echo "relay_bench: $calls calls, $rate pps offered, ${warmup}+${duration} s, $rounds rounds; logs in $logs"
echo "relay_bench: load average before start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on these cores skews every figure; see other%)"

for round in $(seq "$rounds"); do
  # Alternate the order so drift (thermal, neighbours) hits both relays alike.
  order=("${relays[@]}")
  if (( round % 2 == 0 && ${#relays[@]} == 2 )); then order=("${relays[1]}" "${relays[0]}"); fi
  for relay in "${order[@]}"; do
    log="$logs/$relay.$round.log"
    start_relay "$relay" "$log"
    load1=$(cut -d' ' -f1 /proc/loadavg)
    if out=$(taskset -c "$load_core" "$build/voxload" --ng="$ng" --calls="$calls" --rate="$rate" \
               --duration="$duration" --warmup="$warmup" --json --relay-pid="$relay_pid" \
               2>>"$logs/voxload.$relay.$round.log"); then
      line=$(tail -n1 <<<"$out")
      echo "{\"round\":$round,\"relay\":\"$relay\",\"load1_before\":$load1,\"result\":$line}" >>"$results"
    else
      echo "relay_bench: voxload failed against $relay (round $round); see $logs/voxload.$relay.$round.log" >&2
      echo "{\"round\":$round,\"relay\":\"$relay\",\"load1_before\":$load1,\"result\":null}" >>"$results"
    fi
    stop_relay
    sleep 0.5  # let the kernel reap the relay's sockets before the next one binds
  done
done

python3 - "$results" <<'EOF'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hdr = f"{'round':>5} {'relay':<10} {'offered':>9} {'delivered':>9} {'loss%':>8} {'misrt':>5} {'relay%':>7} {'us/pkt':>7} {'p50us':>8} {'p99us':>9} {'p99.9us':>9} {'gen%':>5} {'other%':>6}"
print(hdr)
print("-" * len(hdr))
by_relay = {}
for row in rows:
    r = row["result"]
    if r is None:
        print(f"{row['round']:>5} {row['relay']:<10} failed")
        continue
    by_relay.setdefault(row["relay"], []).append(r)
    print(f"{row['round']:>5} {row['relay']:<10} {r['offered_pps']:>9.0f} {r['delivered_pps']:>9.0f} "
          f"{r['loss_pct']:>8.4f} {r['misrouted']:>5} {r['relay_cpu_pct']:>7.1f} {r['relay_cpu_us_per_pkt']:>7.2f} "
          f"{r['latency_p50_us']:>8.1f} {r['latency_p99_us']:>9.1f} {r['latency_p999_us']:>9.1f} "
          f"{r['self_cpu_pct']:>5.1f} {r.get('other_cpu_pct', -1):>6.1f}")
print()
med = {}
for relay, rs in by_relay.items():
    m = {k: statistics.median(x[k] for x in rs)
         for k in ("relay_cpu_us_per_pkt", "latency_p99_us", "loss_pct", "delivered_pps", "self_cpu_pct")}
    med[relay] = m
    print(f"median {relay:<10} {m['relay_cpu_us_per_pkt']:.2f} us CPU per relayed packet, p99 {m['latency_p99_us']:.1f} us, "
          f"loss {m['loss_pct']:.4f} %, delivered {m['delivered_pps']:.0f} pps, voxload {m['self_cpu_pct']:.1f} % of its core "
          f"({len(rs)} rounds)")
if "voxrelay" in med and "rtpengine" in med and med["rtpengine"]["relay_cpu_us_per_pkt"] > 0:
    ratio = med["voxrelay"]["relay_cpu_us_per_pkt"] / med["rtpengine"]["relay_cpu_us_per_pkt"]
    print(f"ratio voxrelay/rtpengine CPU per packet: {ratio:.3f} (target <= 0.65); "
          f"p99 {med['voxrelay']['latency_p99_us']:.1f} vs {med['rtpengine']['latency_p99_us']:.1f} us")
gen = [r["self_cpu_pct"] for rs in by_relay.values() for r in rs]
if gen and max(gen) > 80:
    print(f"warning: voxload used up to {max(gen):.0f} % of its core: the figures may measure the generator")
other = [r.get("other_cpu_pct", 0) for rs in by_relay.values() for r in rs]
if other and max(other) > 10:
    print(f"warning: other work used up to {max(other):.0f} % of a core during a window (other%): "
          "those rounds are skewed; rerun on a quiet machine")
EOF
