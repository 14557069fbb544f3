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
  libdpdk-dev libsrtp2-dev libopus-dev libspandsp-dev libssl-dev libsystemd-dev
  libcpp-httplib-dev libncurses-dev libhiredis-dev
)
# Test-only tools: fuzzers, interop peers, the reference relay for benchmarks.
TEST_PKGS=(
  clang libclang-rt-14-dev python3 iproute2 procps
  kamailio kamailio-extra-modules sip-tester rtpengine-daemon dpdk-dev
  python3-aiortc chromium prometheus
  dpkg-dev man-db systemd tmux gnuplot-nox redis-server redis-tools openssl
)

want=("${BUILD_PKGS[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${TEST_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# libsrtp2 with the OpenSSL backend, built once from Debian's source package
# and cached where cmake/srtp.cmake finds it (Debian's own build uses NSS:
# ~170x slower per SRTP context, ~4.6x per packet; see tools/build_srtp.sh).
# A cached build costs no apt call. If it cannot be built, the packaged
# libsrtp2 is used and this says so.
build_srtp() {
  bash "$(dirname "$0")/build_srtp.sh" >/dev/null ||
    echo "setup: WARNING: using Debian's packaged libsrtp2 (NSS backend, slow SRTP)" >&2
}
[[ ${#missing[@]} -eq 0 ]] && { build_srtp; exit 0; }

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
build_srtp
