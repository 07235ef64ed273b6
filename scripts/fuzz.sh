#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, in build-fuzz/) and runs each for SECONDS seconds,
# one after the other, from a scratch copy of its seed corpus and kept regressions (the repository's
# corpus is never written). A finding is kept and the run goes on for the time left. Prints executions,
# coverage and findings per target; exits 1 on a finding.
#   bash scripts/fuzz.sh SECONDS [TARGET...]     targets: gguf tokenizer chat_template jsonl press_spec press_run
#                                                kv_cache_file server_request
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
[[ ${#targets[@]} -gt 0 ]] || targets=(gguf tokenizer chat_template jsonl press_spec press_run kv_cache_file server_request)
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
  deadline=$((start + per_target))
  execs=0 run=0 last=""
  : >"$dir/log"
  # After a finding libFuzzer stops: keep its file and go on with the time left (the corpus persists).
  while [[ $(date +%s) -lt $deadline ]]; do
    run=$((run + 1))
    # -timeout: an input taking 10 s is a hang; -rss_limit_mb: an input needing 2 GB is an out-of-memory.
    if build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time=$((deadline - $(date +%s))) -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log.$run" 2>&1; then ok=1; else ok=0; fi
    cat "$dir/log.$run" >>"$dir/log"
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log.$run" | tail -1)
    [[ -n $n ]] || n=$(grep -aoE '^#[0-9]+' "$dir/log.$run" | tail -1 | tr -d '#')
    execs=$((execs + ${n:-0}))
    last=$(grep -aE '^#[0-9]+.* cov: ' "$dir/log.$run" | tail -1 || true)
    rm -f "$dir/log.$run"
    [[ $ok -eq 1 ]] && break
  done
  seconds=$(($(date +%s) - start))
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  # slow-unit-* files are kept but not counted: wall-clock slowness on a shared machine is no proof.
  findings=$(find "$dir/artifacts" -type f ! -name 'slow-unit-*' | wc -l)
  [[ $findings -eq 0 ]] || found=1
  row=$(printf '%-14s %8s %12s %8s %8s %s' "$t" "$seconds" "$execs" "${cov:-?}" "${ft:-?}" "$findings")
  echo "   $row" >&2
  summary+=$'\n'$row
  for f in "$dir"/artifacts/*; do
    [[ -e $f ]] || continue
    case $(basename "$f") in slow-unit-*) kind="slow (replay it to check)" ;; *) kind=finding ;; esac
    summary+=$'\n'"    $kind: $f"
  done
done
echo "$summary"
exit $found
