#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, in build-fuzz/) and runs each for SECONDS seconds,
# one after the other, from a scratch copy of its seed corpus and kept regressions (the repository's
# corpus is never written). Prints executions, coverage and findings per target; exits 1 on a finding.
#   bash scripts/fuzz.sh SECONDS [TARGET...]     targets: gguf tokenizer chat_template jsonl press_spec press_run
# Environment: KVPRESS_FUZZ_WORK (scratch folder, default a new /tmp folder), KVPRESS_FUZZ_JOBS (build jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: bash scripts/fuzz.sh SECONDS [TARGET...]" >&2
  exit 2
fi
per_target=$1
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(gguf tokenizer chat_template jsonl press_spec press_run)
work=${KVPRESS_FUZZ_WORK:-$(mktemp -d /tmp/kvpress-fuzz.XXXXXX)}
jobs=${KVPRESS_FUZZ_JOBS:-$(nproc)}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DKVPRESS_FUZZ=ON -DKVPRESS_TESTS=OFF -DKVPRESS_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target "${targets[@]/#/fuzz_}"

found=0
summary=$(printf '%-14s %8s %12s %8s %8s %s' target seconds executions cov ft findings)
for t in "${targets[@]}"; do
  dir=$work/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  for src in tests/fuzz/corpus/$t tests/fuzz/regressions/$t; do
    [[ -d $src ]] && cp -n "$src"/* "$dir/corpus/" 2>/dev/null || true
  done
  echo "== fuzz_$t: ${per_target}s, log $dir/log" >&2
  start=$(date +%s)
  # -timeout: an input taking 10 s is a hang; -rss_limit_mb: an input needing 2 GB is an out-of-memory.
  build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$per_target" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1 || true
  seconds=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  findings=$(find "$dir/artifacts" -type f | wc -l)
  [[ $findings -eq 0 ]] || found=1
  summary+=$'\n'$(printf '%-14s %8s %12s %8s %8s %s' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$findings")
  for f in "$dir"/artifacts/*; do [[ -e $f ]] && summary+=$'\n'"    finding: $f"; done
done
echo "$summary"
exit $found
