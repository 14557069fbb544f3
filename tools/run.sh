#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds, and runs voxrelay
# in the foreground on the embedded default (socket backend, media on
# 127.0.0.1 ports 30000-40000, NG control on 127.0.0.1:22222).
# Extra arguments go to voxrelay, e.g. tools/run.sh --interface=203.0.113.5
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVOX_BUILD_TESTS=OFF -DVOX_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target voxrelay voxctl
exec ./build/voxrelay --foreground "$@"
