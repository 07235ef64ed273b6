#!/usr/bin/env bash
# The cost of each press next to the prefill it compresses (docs/presses.md, "Speed"): one context of
# CONTEXT random tokens per press, prefilled with the press at ratio 0.5 by `kvpress bench` (figure mode,
# one decoded token), median of REPS. Prints a markdown table: press, press ms, prefill ms, fraction.
# Usage: scripts/press_speed.sh [MODEL] [CONTEXT] [REPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/kvpress-needle-2m.gguf}
CONTEXT=${2:-4096}
REPS=${3:-3}
THREADS=${4:-2}
BIN=${KVPRESS_BIN:-build/bin/kvpress}
PRESSES=${PRESSES:-"knorm snapkv tova keydiff streaming_llm observed_attention random expected_attention_press expected_attention adakv_snapkv"}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| press | press ms | prefill ms (without the press) | press / prefill |"
echo "| --- | ---: | ---: | ---: |"
for p in $PRESSES; do
  "$BIN" bench -m "$MODEL" --context-lengths "$CONTEXT" --press "$p" --compression-ratio 0.5 --decode-tokens 1 \
    -t "$THREADS" -r 1 --out "$out/$p" >/dev/null 2>"$out/$p.err" || { echo "| $p | failed: $(tail -1 "$out/$p.err") | | |"; continue; }
  for ((i = 1; i < REPS; ++i)); do
    "$BIN" bench -m "$MODEL" --context-lengths "$CONTEXT" --press "$p" --compression-ratio 0.5 --decode-tokens 1 \
      -t "$THREADS" -r 1 --out "$out/$p.$i" >/dev/null 2>&1
  done
  python3 - "$out" "$p" "$REPS" <<'PY'
import json, statistics, sys
out, press, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
dirs = [f"{out}/{press}"] + [f"{out}/{press}.{i}" for i in range(1, reps)]
press_ms, prefill_ms = [], []
for d in dirs:
    row = json.load(open(f"{d}/bench.json"))[0]
    total_ms = row["n_depth"] / row["context_prefill_ts"] * 1000.0
    press_ms.append(row["press_ms"])
    prefill_ms.append(total_ms - row["press_ms"])
pm, fm = statistics.median(press_ms), statistics.median(prefill_ms)
print(f"| `{press}` | {pm:.1f} | {fm:.1f} | {100.0 * pm / fm:.1f}% |")
PY
done
