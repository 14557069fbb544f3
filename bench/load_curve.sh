#!/usr/bin/env bash
# load_curve.sh: relay_bench.sh swept over offered loads, drawn. At each rate
# it runs bench/relay_bench.sh (voxrelay and rtpengine alternating, relay on
# core 0, voxload on core 1, 127.0.0.1), collects the medians per rate and
# relay into OUT/load_curve.dat (every round in OUT/load_curve_rounds.jsonl)
# and draws OUT/cpu_per_packet.svg, loss.svg and p99_latency.svg with
# gnuplot (bench/plot_load_curve.gp). --plot-only redraws from an existing
# OUT/load_curve.dat without measuring. Every relay_bench.sh run is under
# `timeout`; the whole sweep refuses to start if its estimate exceeds
# --max-seconds.
#
# usage: bench/load_curve.sh [--build DIR] [--rates 10000,20000,40000,60000,80000]
#          [--calls 500] [--duration 5] [--warmup 2] [--rounds 1] [--out bench/plots]
#          [--only voxrelay|rtpengine] [--ng-port 22250] [--port-min 50000] [--port-max 60000]
#          [--vox-args "EXTRA VOXRELAY FLAGS"] [--commit LABEL] [--max-seconds 900] [--logs DIR]
#        bench/load_curve.sh --plot-only [--out bench/plots]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=./build
rates=10000,20000,40000,60000,80000
calls=500
duration=5
warmup=2
rounds=1
out=bench/plots
only=""
ng_port=22250
port_min=50000
port_max=60000
vox_args=""
commit=""
max_seconds=900
logs=""
relay_core=0  # as in relay_bench.sh (for the table's header)
load_core=1
plot_only=0
argv=("$@")

usage() { sed -n '13,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --ng-port) ng_port=$2; shift 2 ;;
    --port-min) port_min=$2; shift 2 ;;
    --port-max) port_max=$2; shift 2 ;;
    --vox-args) vox_args=$2; shift 2 ;;
    --commit) commit=$2; shift 2 ;;
    --max-seconds) max_seconds=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --plot-only) plot_only=1; shift ;;
    -h|--help) usage ;;
    *) echo "load_curve: unknown argument $1" >&2; usage ;;
  esac
done

dat="$out/load_curve.dat"

# The value of header line '# KEY: value' of the table, quotes removed (they
# would end gnuplot's string).
dat_meta() { sed -n "s/^# $1: //p" "$dat" | head -n1 | tr -d "'\""; }

plot() {
  if ! command -v gnuplot >/dev/null; then
    echo "load_curve: gnuplot not installed (Debian package gnuplot-nox; tools/setup.sh --test)" >&2
    exit 2
  fi
  [[ -s "$dat" ]] || { echo "load_curve: no table $dat (run the sweep first)" >&2; exit 2; }
  local sub
  sub="$(dat_meta date), commit $(dat_meta commit), $(dat_meta calls) calls, median of $(dat_meta rounds) round(s) per point, bars min-max"
  gnuplot -e "dat='$dat'; outdir='$out'; sub='$sub'" "$here/plot_load_curve.gp"
  echo "load_curve: wrote $out/cpu_per_packet.svg, $out/loss.svg, $out/p99_latency.svg from $dat"
}

if (( plot_only )); then
  plot
  exit 0
fi

# Check everything before the first measurement (relay_bench.sh checks again).
prog=load_curve
# shellcheck source=bench/relay_lib.sh
source "$here/relay_lib.sh"
choose_relays "$only"
check_tools
command -v gnuplot >/dev/null || { echo "load_curve: gnuplot not installed (Debian package gnuplot-nox)" >&2; exit 2; }
IFS=, read -r -a rate_list <<<"$rates"
for r in "${rate_list[@]}"; do
  [[ "$r" =~ ^[0-9]+$ && "$r" -gt 0 ]] || { echo "load_curve: --rates takes positive integers, comma-separated (got '$r')" >&2; exit 2; }
done
for v in "$duration" "$warmup"; do
  [[ "$v" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "load_curve: --duration and --warmup take seconds (got '$v')" >&2; exit 2; }
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "load_curve: --rounds takes a positive integer" >&2; exit 2; }

# Bounds: one relay's run is warmup + duration plus at most ~10 s to start
# (relay_lib's ping loop), NG setup/teardown and 5 s to stop; the timeout of
# one rate allows 30 s of that per run, the estimate 4 s.
runs=$(( rounds * ${#relays[@]} ))
per_rate_timeout=$(python3 -c "import math; print(math.ceil($runs * ($warmup + $duration + 30) + 10))")
estimate=$(python3 -c "import math; print(math.ceil(${#rate_list[@]} * $runs * ($warmup + $duration + 4)))")
if (( estimate > max_seconds )); then
  echo "load_curve: this sweep would take about $estimate s, over --max-seconds $max_seconds" >&2; exit 2
fi

# The label of the binaries measured: --commit, else the checkout's HEAD (which
# is not the binaries' commit if the tree moved on since they were built).
if [[ -n "$commit" ]]; then
  commit_note="given with --commit"
else
  commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
  commit_note="the checkout's HEAD at the sweep's start, not necessarily the binaries' (pass --commit)"
  echo "load_curve: labelling the figures with HEAD $commit; if $build was built from another commit, pass --commit" >&2
fi
ref=voxrelay
[[ -x "$build/$ref" ]] || ref=voxload
binaries="$build, $ref modified $(date -u -r "$build/$ref" '+%Y-%m-%d %H:%M UTC')"
logs=${logs:-$(mktemp -d /tmp/load_curve.XXXXXX)}
mkdir -p "$logs" "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "load_curve: rates $rates, $calls calls, ${warmup}+${duration} s, $rounds round(s), relays ${relays[*]};" \
     "about $estimate s (each rate stopped after $per_rate_timeout s at most); logs in $logs"
echo "load_curve: load average before start: $load_before"

child=""
# (|| true: under set -e a failing wait in the trap would end it early.)
trap 'if [[ -n "$child" ]]; then kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi; exit 130' INT TERM

inputs=()
for r in "${rate_list[@]}"; do
  dir="$logs/rate_$r"
  mkdir -p "$dir"
  echo "load_curve: $r pps (load average $(cut -d' ' -f1 /proc/loadavg))"
  # timeout signals its whole process group: relay_bench.sh, voxload and the
  # relay. In the background so that a signal to this script is seen at once.
  timeout --kill-after=10 "$per_rate_timeout" bash "$here/relay_bench.sh" --build "$build" \
    --rate "$r" --calls "$calls" --duration "$duration" --warmup "$warmup" --rounds "$rounds" \
    ${only:+--only "$only"} --ng-port "$ng_port" --port-min "$port_min" --port-max "$port_max" \
    --vox-args "$vox_args" --logs "$dir" >"$dir/relay_bench.out" 2>&1 &
  child=$!
  rc=0
  wait "$child" || rc=$?
  child=""
  sed 's/^/    /' "$dir/relay_bench.out"
  if (( rc != 0 )); then
    echo "load_curve: relay_bench.sh at $r pps exited with $rc$( ((rc == 124 || rc == 137)) && echo " (timed out)"); its rows are nan" >&2
  fi
  inputs+=("$r=$dir/results.jsonl")
done

python3 "$here/load_curve_table.py" collect "$dat" "$out/load_curve_rounds.jsonl" "${inputs[@]}" \
  --meta "date=$started" \
  --meta "commit=$commit" \
  --meta "commit_note=$commit_note" \
  --meta "binaries=$binaries" \
  --meta "command=bench/load_curve.sh ${argv[*]}" \
  --meta "load=load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; $(nproc) CPUs" \
  --meta "calls=$calls" \
  --meta "rounds=$rounds" \
  --meta "setup=$calls calls, ${warmup}+${duration} s per run, $rounds round(s) per rate, relay on core $relay_core, voxload on core $load_core" \
  --meta "relays=${relays[*]}"
echo "load_curve: wrote $dat and $out/load_curve_rounds.jsonl"
python3 "$here/load_curve_table.py" markdown "$dat"
plot
