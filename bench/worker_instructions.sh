#!/usr/bin/env bash
# Instructions per relayed packet in the DPDK worker, counted by callgrind:
# repeatable whatever else the machine does (see bench/RESULTS.md). Runs
# voxbench-dataplane --same-core (the worker polled after each 32-frame
# burst the generator sends, on one core) under valgrind and divides the
# inclusive cost of the worker's per-burst functions by the frames they saw:
#   since the burst loop (issue 14): DpdkIo::classify + BurstLoop::burst
#   before it:                       WorkerLoop::process
# Usage: bench/worker_instructions.sh [BUILD_DIR] (default: build)
set -euo pipefail
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
  "$build/bench/voxbench-dataplane" --same-core --calls 500 --seconds 2 --warmup 0.5 >"$out/log" 2>&1 ||
  { tail -20 "$out/log"; exit 1; }
grep -q "drops: none" "$out/log" || { echo "worker_instructions: the run dropped frames:"; grep drops "$out/log"; exit 1; }
callgrind_annotate --inclusive=yes "$out/cg" 2>/dev/null | python3 -c '
import re, sys
cost = bursts = 0
for line in sys.stdin:
    m = re.match(r"\s*([0-9,]+) .*=> .*(DpdkIo::classify|BurstLoop<.*DpdkIo>::burst|WorkerLoop::process)\(.*\(([0-9,]+)x\)$", line)
    if m:
        cost += int(m.group(1).replace(",", ""))
        bursts = max(bursts, int(m.group(3).replace(",", "")))
if not bursts:
    sys.exit("worker_instructions: no per-burst function found")
print(f"bursts={bursts} frames={bursts * 32} instructions={cost} per_packet={cost / (bursts * 32):.1f}")
'
