#!/usr/bin/env bash
# The leaderboard of docs/leaderboard.md (kvpress's figure 4 on our default model): `kvpress eval` over every
# press at ratios 0.25/0.5/0.75/0.9 on RULER's niah tasks and vt at 1k tokens, then the merged report
# (leaderboard table, score-vs-ratio SVG). Resumable: rerun with the same OUT to continue.
# Usage: scripts/leaderboard.sh [OUT] [SAMPLES] [THREADS]    (env PRESSES to choose presses)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-leaderboard}
SAMPLES=${2:-50}
THREADS=${3:-2}
BIN=${KVPRESS_BIN:-build/bin/kvpress}
MODEL=${MODEL:-models/kvpress-needle-2m.gguf}
TASKS=niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,niah_multikey_2,niah_multikey_3,niah_multivalue,niah_multiquery,vt
PRESSES=${PRESSES:-"no_press random knorm snapkv streaming_llm tova observed_attention expected_attention_press expected_attention adakv_snapkv pyramidkv keydiff lagkv cur cap leverage non_causal_attention compactor adakv_compactor critical_snapkv critical_expected_attention critical_adakv_snapkv critical_adakv_expected_attention chunkkv block_keydiff merging_knorm kvzip kvzip_plus kvcompose simlayerkv"}
mkdir -p "$OUT"
dirs=()
for p in $PRESSES; do
  dirs+=("$OUT/$p")
  "$BIN" eval --model "$MODEL" --dataset "ruler:$TASKS:1024" --samples "$SAMPLES" --press "$p" \
    --compression-ratio 0.25,0.5,0.75,0.9 --no-fidelity --threads "$THREADS" --quiet --resume --out "$OUT/$p" >/dev/null
  echo "leaderboard: $p done" >&2
done
"$BIN" eval --report "${dirs[@]}" --out "$OUT/report"
echo "leaderboard: report in $OUT/report" >&2
