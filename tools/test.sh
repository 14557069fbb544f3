#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, then builds and runs the
# whole test suite: unit, integration and interop tests (ctest, release
# build with -Werror), unit tests again under ASan+UBSan, and every libFuzzer
# target for a bounded time on its seed corpus. .ci/run calls exactly this.
# Environment: VOX_FUZZ_SECONDS (default 30 per target), VOX_SKIP_ASAN=1.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --test || exit 1
JOBS=$(nproc)
FUZZ_SECONDS=${VOX_FUZZ_SECONDS:-30}
passed=0; failed=0; failures=()
step() {  # step NAME COMMAND...: runs one suite, records its outcome
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}

build_main() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVOX_WERROR=ON >/dev/null &&
    cmake --build build -j"$JOBS"
}
step "build (release, -Werror)" build_main || true
step "ctest: unit, integration, interop" ctest --test-dir build --output-on-failure -j1

if [[ "${VOX_SKIP_ASAN:-0}" != 1 ]]; then
  build_asan() {
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVOX_SANITIZE=ON -DVOX_BUILD_BENCH=OFF -DVOX_DPDK=OFF >/dev/null &&
      cmake --build build-asan -j"$JOBS" --target dataplane_tests control_tests codecs_tests tools_tests
  }
  step "build (ASan+UBSan)" build_asan
  step "ctest under ASan+UBSan (unit)" ctest --test-dir build-asan --output-on-failure -j"$JOBS" -LE "integration|interop"
fi

build_fuzz() {
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DVOX_FUZZ=ON >/dev/null &&
    cmake --build build-fuzz -j"$JOBS"
}
step "build (libFuzzer)" build_fuzz
run_fuzz() {  # run_fuzz TARGET: bounded run on a scratch copy of the seed corpus
  local target=$1 scratch rc
  scratch=$(mktemp -d)
  ./build-fuzz/tests/fuzz/"$target" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
    -artifact_prefix="$scratch/" "$scratch" "tests/fuzz/corpus/$target" >"$scratch/log" 2>&1
  rc=$?
  grep -E "stat::number_of_executed_units|ERROR|SUMMARY" "$scratch/log" | head -5
  [[ $rc -ne 0 ]] && tail -40 "$scratch/log"
  rm -rf "$scratch"
  return "$rc"
}
for f in tests/fuzz/*_fuzz.cc; do
  target=$(basename "$f" .cc)
  step "fuzz $target (${FUZZ_SECONDS}s)" run_fuzz "$target"
done

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "suites: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
