#!/usr/bin/env bash
# webrtc_bench.sh: WebRTC (ICE-lite + DTLS-SRTP) side by side, voxrelay
# against Debian's rtpengine, alternating relays over R rounds in one run,
# each relay fresh per measurement, pinned to core 0, voxload --webrtc-calls
# on core 1, 127.0.0.1 only. Builds nothing. Parts (--parts, comma list):
#   hs     relay CPU per DTLS-SRTP handshake, --concurrency in flight
#          (voxload phases: the handshake phase's CPU alone), vs the
#          in-memory OpenSSL bound (dtls_bench InMemory, same core, same round)
#   calls  relay CPU per whole call (offer, answer, ICE, handshake, first
#          SRTP packet relayed, delete), --concurrency in flight
#   tfa    one call at a time: ClientHello -> handshake complete, p50/p99
#   mem    relay RSS per call: handshaking, established, and after --hold
#   media  relay CPU per packet over established calls: DTLS-SRTP leg vs
#          SDES (same suite) vs plain RTP
#
# usage: bench/webrtc_bench.sh [--build-dir DIR] [--rounds 3] [--parts hs,calls,tfa,mem,media]
#          [--hs-calls 1000] [--calls 1000] [--concurrency 20] [--tfa-calls 1000]
#          [--mem-calls 1000] [--hold 12] [--media-calls 200] [--media-s 5] [--media-pps 20000]
#          [--dtls-role passive|default] [--only voxrelay|rtpengine] [--ng-port 22222]
#          [--port-min 30000] [--port-max 40000] [--logs DIR] [--vox-args "..."] [--rtpe-args "..."]
set -euo pipefail

build=./build
rounds=3
parts=hs,calls,tfa,mem,media
hs_calls=1000
calls=1000
concurrency=20
tfa_calls=1000
mem_calls=1000
hold=12
media_calls=200
media_s=5
media_pps=20000
dtls_role=passive
only=""
vox_args=""
rtpe_args=""
ng_port=22222
port_min=30000
port_max=40000
logs=""
relay_core=0
load_core=1

usage() { sed -n '18,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build|--build-dir) build=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --parts) parts=$2; shift 2 ;;
    --hs-calls) hs_calls=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --tfa-calls) tfa_calls=$2; shift 2 ;;
    --mem-calls) mem_calls=$2; shift 2 ;;
    --hold) hold=$2; shift 2 ;;
    --media-calls) media_calls=$2; shift 2 ;;
    --media-s) media_s=$2; shift 2 ;;
    --media-pps) media_pps=$2; shift 2 ;;
    --dtls-role) dtls_role=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --ng-port) ng_port=$2; shift 2 ;;
    --port-min) port_min=$2; shift 2 ;;
    --port-max) port_max=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --vox-args) vox_args=$2; shift 2 ;;
    --rtpe-args) rtpe_args=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "webrtc_bench: unknown argument $1" >&2; usage ;;
  esac
done

prog=webrtc_bench
# shellcheck source=bench/relay_lib.sh
source "$(dirname "$0")/relay_lib.sh"
choose_relays "$only"
check_tools
[[ -x "$build/bench/dtls_bench" ]] || { echo "$prog: $build/bench/dtls_bench not built" >&2; exit 2; }

# Both relays answer a=setup:passive, so each is the DTLS server as in the
# in-memory bound (whose figure is the server's side); both drop a deleted
# call at once (--delete-delay=0), so the whole-call CPU includes teardown.
case "$dtls_role" in
  passive) vox_args="--dtls-passive $vox_args"; rtpe_args="--dtls-passive $rtpe_args" ;;
  default) ;;
  *) echo "$prog: --dtls-role takes passive or default" >&2; exit 2 ;;
esac
vox_args="--delete-delay=0 $vox_args"
rtpe_args="--delete-delay=0 $rtpe_args"

ng="127.0.0.1:$ng_port"
logs=${logs:-$(mktemp -d /tmp/webrtc_bench.XXXXXX)}
mkdir -p "$logs"
results="$logs/results.jsonl"
: > "$results"
echo "webrtc_bench: parts $parts, $rounds rounds, $concurrency in flight, DTLS role $dtls_role; logs in $logs"
echo "webrtc_bench: load average before start: $(cut -d' ' -f1-3 /proc/loadavg)"

has_part() { [[ ",$parts," == *",$1,"* ]]; }

# One voxload run against a fresh relay; appends {"round","relay","part","result"}.
measure() {  # $1 round, $2 relay, $3 part, then voxload's own flags
  local round=$1 relay=$2 part=$3; shift 3
  local log="$logs/$relay.$part.$round"
  start_relay "$relay" "$log.relay.log"
  local out
  if out=$(taskset -c "$load_core" timeout 600 "$build/voxload" --ng="$ng" --json --relay-pid="$relay_pid" "$@" \
             2>"$log.voxload.log"); then :; else
    echo "$prog: voxload $part failed against $relay (round $round): $(tail -n2 "$log.voxload.log" | tr '\n' ' ')" >&2
  fi
  local line
  line=$(tail -n1 <<<"$out")
  [[ "$line" == "{"* ]] || line=null
  echo "{\"round\":$round,\"relay\":\"$relay\",\"part\":\"$part\",\"result\":$line}" >>"$results"
  stop_relay
  sleep 0.5
}

for round in $(seq "$rounds"); do
  if has_part hs; then
    # The in-memory bound, on the relay's core, in this round.
    bound=$(taskset -c "$relay_core" timeout 300 "$build/bench/dtls_bench" --benchmark_filter=InMemory \
              --benchmark_repetitions=3 --benchmark_report_aggregates_only=true --benchmark_format=json 2>/dev/null |
            python3 -c 'import json,sys; b=[x for x in json.load(sys.stdin)["benchmarks"] if x.get("aggregate_name")=="median"]; print(b[0]["real_time"] if b else "null")')
    echo "{\"round\":$round,\"relay\":\"openssl\",\"part\":\"bound\",\"result\":{\"server_us\":$bound}}" >>"$results"
  fi
  order=("${relays[@]}")
  if (( round % 2 == 0 && ${#relays[@]} == 2 )); then order=("${relays[1]}" "${relays[0]}"); fi
  for relay in "${order[@]}"; do
    echo "webrtc_bench: round $round, $relay"
    has_part hs && measure "$round" "$relay" hs --webrtc-calls="$hs_calls" --concurrency="$concurrency" --webrtc-mode=phases
    has_part calls && measure "$round" "$relay" calls --webrtc-calls="$calls" --concurrency="$concurrency" --webrtc-mode=calls
    has_part tfa && measure "$round" "$relay" tfa --webrtc-calls="$tfa_calls" --concurrency=1 --webrtc-mode=calls
    has_part mem && measure "$round" "$relay" mem --webrtc-calls="$mem_calls" --concurrency="$concurrency" \
      --webrtc-mode=phases --split-handshake --hold-s="$hold"
    if has_part media; then
      for leg in dtls sdes plain; do
        measure "$round" "$relay" "media-$leg" --webrtc-calls="$media_calls" --concurrency="$concurrency" \
          --webrtc-mode=phases --webrtc-leg="$leg" --media-s="$media_s" --media-pps="$media_pps"
      done
    fi
  done
done

python3 "$(dirname "$0")/webrtc_bench_report.py" "$results"
