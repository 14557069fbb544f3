#!/usr/bin/env bash
# dataplane_vs_testpmd.sh: the DPDK engine's relay target of TARGETS.md,
# measured in one run: dpdk-testpmd io forwarding on one looped net_null port
# (bench/dpdk_baseline.sh) and voxbench-dataplane (the real worker loop over
# net_ring, >= 100k flows) back to back, alternating over R rounds; each
# figure is the median over the rounds.
#
# usage: bench/dataplane_vs_testpmd.sh [--build DIR] [--rounds 1] [--seconds 5]
#          [--testpmd-seconds 12] [--calls 50000] [--logs DIR]
# Prints every round's figures, then testpmd_mpps, mpps, the same over the
# rounds whose worker was saturated, and, as its last line, `ratio=X`
# (voxbench-dataplane mpps / testpmd io mpps over all rounds; target >= 0.20).
# Needs root (or the DPDK capabilities) and dpdk-testpmd (Debian dpdk-dev).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=./build
rounds=1
seconds=5
testpmd_seconds=12
calls=50000
logs=""

usage() { sed -n '8,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --testpmd-seconds) testpmd_seconds=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "dataplane_vs_testpmd: unknown argument $1" >&2; usage ;;
  esac
done
if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
  echo "dataplane_vs_testpmd: --rounds must be a positive integer" >&2; exit 2
fi
bench="$build/bench/voxbench-dataplane"
if [[ ! -x "$bench" ]]; then
  echo "dataplane_vs_testpmd: $bench not built (cmake --build $build --target voxbench-dataplane)" >&2
  exit 2
fi
if [[ -z "$logs" ]]; then
  logs=$(mktemp -d /tmp/dataplane_vs_testpmd.XXXXXX)
fi
mkdir -p "$logs"

# CPU time of the whole machine (all cores), idle and total, in ticks.
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; ++i) t += $i; print $5 + $6, t }' /proc/stat; }
ncpu=$(nproc)

# The last `key=value` line of a log.
value_of() { grep -a -o "^$1=[0-9.]*" "$2" | tail -1 | cut -d= -f2; }
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load before: $(uptime)"
testpmd=()
vox=()
saturated=()  # mpps of the rounds that measured the worker (see below)
status=0
for ((r = 1; r <= rounds; ++r)); do
  # Alternate which runs first, so a drift in machine load hits both alike.
  if (( r % 2 )); then order=(testpmd vox); else order=(vox testpmd); fi
  for which in "${order[@]}"; do
    if [[ "$which" == testpmd ]]; then
      log="$logs/testpmd.$r.log"
      read -r idle0 total0 < <(cpu_ticks)
      "$here/dpdk_baseline.sh" "$testpmd_seconds" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
      read -r idle1 total1 < <(cpu_ticks)
      # testpmd spins one core (its forwarding lcore); more busy cores than
      # that means other processes shared the machine during the run.
      busy=$(awk -v i=$((idle1 - idle0)) -v t=$((total1 - total0)) -v n="$ncpu" 'BEGIN { printf "%.2f", t ? n * (1 - i / t) : 0 }')
      t=$(value_of testpmd_mpps "$log")
      testpmd+=("$t")
      echo "round $r: testpmd io: $(grep -a 'samples' "$log"), $busy of $ncpu cores busy  -> testpmd_mpps=$t"
      if awk -v b="$busy" 'BEGIN { exit !(b > 1.3) }'; then
        echo "round $r: contention: WARNING: $busy cores busy during testpmd (it uses 1): other processes ran"
      fi
    else
      log="$logs/voxbench.$r.log"
      rc=0
      "$bench" --calls "$calls" --seconds "$seconds" >"$log" 2>"$log.stderr" || rc=$?
      if (( rc != 0 )); then
        echo "round $r: voxbench-dataplane exited $rc (log $log):" >&2
        tail -12 "$log" "$log.stderr" >&2
        status=1
      fi
      m=$(value_of mpps "$log")
      [[ -n "$m" ]] || exit 1
      vox+=("$m")
      # The worker's time in bursts: >= 90 % (the bench's own threshold)
      # means the round measured the worker, not the generator.
      b=$(grep -a -o -E 'busy in bursts [0-9.]+' "$log" | awk '{ print $4 }')
      if awk -v b="${b:-0}" 'BEGIN { exit !(b >= 90) }'; then saturated+=("$m"); fi
      echo "round $r: voxbench-dataplane: $(grep -a -E '^(offered_pps|relayed_pps)=' "$log" | cut -d' ' -f1 | tr '\n' ' ')" \
           "$(grep -a -o -E 'burst_p50_ns<=[0-9]+ burst_p99_ns<=[0-9]+' "$log")" \
           "$(grep -a -o -E '[0-9.]+ frames per burst' "$log" | head -1)," \
           "cpu worker/generator $(sed -n 's/^cpu: the worker thread ran \([0-9.]*\) %.*generator \([0-9.]*\) %.*/\1\/\2 %/p' "$log")," \
           "$(grep -a -o -E 'busy in bursts [0-9.]+ %' "$log")," \
           "$(grep -a -o -E '^cross_core_rtt_ns=[0-9/]+' "$log")" \
           " -> mpps=$m"
      grep -a -E '^(saturation: WARNING|contention: WARNING|drops: UNEXPECTED)' "$log" | sed "s/^/round $r: /" || true
    fi
  done
done
echo "load after: $(uptime)"
echo "logs: $logs"

t_med=$(printf '%s\n' "${testpmd[@]}" | median)
m_med=$(printf '%s\n' "${vox[@]}" | median)
echo "testpmd_mpps=$t_med (median of ${testpmd[*]})"
echo "mpps=$m_med (median of ${vox[*]})"
if (( ${#saturated[@]} )); then
  s_med=$(printf '%s\n' "${saturated[@]}" | median)
  awk -v m="$s_med" -v t="$t_med" -v n="${#saturated[@]}" -v r="$rounds" 'BEGIN {
    printf "saturated rounds: %d of %d, mpps=%s, ratio=%.3f (the rounds whose worker was busy in bursts >= 90 %% of the window; in the others the generator was the limit)\n", n, r, m, (t > 0) ? m / t : 0 }'
else
  echo "saturated rounds: 0 of $rounds (the generator was the limit in every round: the vCPUs do not share a cache)"
fi
awk -v m="$m_med" -v t="$t_med" 'BEGIN { printf "ratio=%.3f\n", (t > 0) ? m / t : 0 }'
exit $status
