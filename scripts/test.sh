#!/usr/bin/env bash
# Builds (Release) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure -j "$JOBS"
# Optional libFuzzer smoke run (needs clang): KVPRESS_FUZZ_SMOKE=SECONDS per target (docs/fuzzing.md).
if [[ -n ${KVPRESS_FUZZ_SMOKE:-} ]]; then
  bash scripts/fuzz.sh "$KVPRESS_FUZZ_SMOKE"
fi
