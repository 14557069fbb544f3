#!/usr/bin/env bash
# Installs the Debian 12 packages voxrelay builds, tests and benchmarks with.
# Idempotent: installs only what is missing. Used by tools/run.sh and
# tools/test.sh so that both quick-start commands work on a fresh machine.
set -euo pipefail

# Build and runtime libraries (see README "Dependencies" for why each is here).
BUILD_PKGS=(
  cmake g++ make pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev liburing-dev
  libdpdk-dev libsrtp2-dev libopus-dev libspandsp-dev libssl-dev
)
# Test-only tools: fuzzers, interop peers, the reference relay for benchmarks.
TEST_PKGS=(
  clang libclang-rt-14-dev python3 iproute2 procps
  kamailio kamailio-extra-modules sip-tester rtpengine-daemon dpdk-dev
)

want=("${BUILD_PKGS[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${TEST_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
# Never let package scripts start daemons (kamailio, rtpengine) on this host:
# tests start their own instances on loopback.
created_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
