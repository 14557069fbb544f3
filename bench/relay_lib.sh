# relay_lib.sh: what relay_bench.sh and transcode_bench.sh share: argument
# checks, and starting, pinging and stopping one relay (voxrelay or
# rtpengine) on one pinned core. Sourced; the caller sets prog (its name
# for messages), build, ng, port_min, port_max, relay_core and vox_args
# (and optionally rtpe_args), then calls choose_relays and check_tools.

relay_pid=""

# relays=(...) from --only: both (empty) or the one named; exits 2 otherwise.
choose_relays() {
  case "$1" in
    "") relays=(voxrelay rtpengine) ;;
    voxrelay|rtpengine) relays=("$1") ;;
    *) echo "$prog: --only takes voxrelay or rtpengine" >&2; exit 2 ;;
  esac
}

# Tools present for the chosen relays; exits 2 with the reason otherwise.
check_tools() {
  for tool in voxload voxctl; do
    [[ -x "$build/$tool" ]] || { echo "$prog: $build/$tool not built" >&2; exit 2; }
  done
  if [[ " ${relays[*]} " == *" voxrelay "* && ! -x "$build/voxrelay" ]]; then
    echo "$prog: $build/voxrelay not built (use --only rtpengine)" >&2; exit 2
  fi
  if [[ " ${relays[*]} " == *" rtpengine "* ]] && ! command -v rtpengine >/dev/null; then
    echo "$prog: rtpengine not installed (package rtpengine-daemon)" >&2; exit 2
  fi
}

stop_relay() {
  [[ -n "$relay_pid" ]] || return 0
  kill -TERM "$relay_pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$relay_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$relay_pid" 2>/dev/null || true
  wait "$relay_pid" 2>/dev/null || true
  relay_pid=""
}
trap stop_relay EXIT
trap 'stop_relay; exit 130' INT TERM

ping_relay() { "$build/voxctl" --ng="$ng" --timeout-ms=200 --retries=0 ping >/dev/null 2>&1; }

start_relay() {  # $1 = relay, $2 = log file
  if ping_relay; then
    echo "$prog: something already answers NG on $ng; pick another --ng-port" >&2; exit 1
  fi
  case "$1" in
    rtpengine)
      # --config-file=none: the packaged /etc/rtpengine/rtpengine.conf would
      # add CLI/HTTP listeners (and kernel table 0) that clash between runs;
      # --table=-1: userspace only. Its transcoding defaults: ffmpeg's
      # libopus encoder (complexity 10, application audio), 48 kHz stereo,
      # 32 kbit/s.
      taskset -c "$relay_core" rtpengine --config-file=none --foreground --table=-1 \
        --interface=127.0.0.1 --listen-ng="$ng" --port-min="$port_min" --port-max="$port_max" \
        --num-threads=1 --log-stderr --log-level=3 ${rtpe_args:-} >"$2" 2>&1 &
      ;;
    voxrelay)
      # Transcoding defaults: --opus-complexity=5, --opus-bitrate=24000,
      # Opus coded at 8 kHz.
      taskset -c "$relay_core" "$build/voxrelay" --foreground --interface=127.0.0.1 --listen-ng="$ng" \
        --port-min="$port_min" --port-max="$port_max" --workers=1 $vox_args >"$2" 2>&1 &
      ;;
  esac
  relay_pid=$!  # taskset execs the relay: same pid
  for _ in $(seq 100); do
    if ping_relay; then return 0; fi
    kill -0 "$relay_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$prog: $1 did not answer ping on $ng; log $2:" >&2
  tail -5 "$2" >&2
  exit 1
}
