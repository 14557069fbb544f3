#!/usr/bin/env bash
# dpdk_baseline.sh: the DPDK I/O ceiling of TARGETS.md, measured in this run:
# dpdk-testpmd io-forwarding on one core over one looped net_null port.
# The DPDK engine's relay target is a ratio against this figure.
#
# usage: bench/dpdk_baseline.sh [SECONDS]   (default 12; at least 7)
# Prints the per-period throughput samples, then `testpmd_mpps=X` as its last
# line: the median Rx-pps over the stats periods after the first (the first
# period covers start-up). Needs root (or the DPDK capabilities) and the
# Debian package dpdk-dev (it ships dpdk-testpmd); no hugepages needed.
set -euo pipefail

seconds=${1:-12}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 7 )); then
  echo "dpdk_baseline: SECONDS must be an integer >= 7 (stats every 3 s)" >&2
  exit 2
fi
testpmd=$(command -v dpdk-testpmd || true)
if [[ -z "$testpmd" ]]; then
  echo "dpdk_baseline: dpdk-testpmd not found (apt-get install dpdk-dev)" >&2
  exit 2
fi

out=$(mktemp /tmp/dpdk_baseline.XXXXXX)
trap 'rm -f "$out"' EXIT

# The exact command of TARGETS.md. testpmd stays non-interactive (no -i) and
# forwards until signalled; SIGINT makes it stop the port and print its final
# statistics; SIGKILL 5 s later if it hangs. stdin is closed so it never
# waits on a terminal.
rc=0
timeout -s INT -k 5 "$seconds" \
  "$testpmd" --no-huge -m 1024 --no-pci --vdev=net_null0 -l 0-1 -- \
  --total-num-mbufs=16384 --forward-mode=io --port-topology=loop \
  --nb-cores=1 --stats-period 3 </dev/null >"$out" 2>&1 || rc=$?
# 124 = stopped by the timeout, which is the normal end of a run.
if (( rc != 0 && rc != 124 )); then
  echo "dpdk_baseline: dpdk-testpmd failed (exit $rc):" >&2
  tail -20 "$out" >&2
  exit 1
fi

# "Rx-pps:   37979110   Rx-bps: 0" once per stats period; drop the first.
mapfile -t samples < <(grep -a -o 'Rx-pps: *[0-9]*' "$out" | awk '{print $2}' | tail -n +2)
if (( ${#samples[@]} == 0 )); then
  echo "dpdk_baseline: no throughput samples in testpmd output:" >&2
  tail -20 "$out" >&2
  exit 1
fi
echo "testpmd Rx-pps samples (per 3 s period): ${samples[*]}"
printf '%s\n' "${samples[@]}" | sort -n | awk '
  { v[NR] = $1 }
  END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "testpmd_mpps=%.2f\n", m / 1e6
  }'
