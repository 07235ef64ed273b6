#!/usr/bin/env bash
# Measures a trained needle model with kvpress itself (not the trainer), on fresh test-split samples
# (keys, numbers and UUIDs disjoint from training; a seed training never used):
#   1. full-cache accuracy on every RULER task at 1k (but cwe, which does not fit) and 2k tokens, and the niah tasks at 4k;
#   2. accuracy versus compression ratio for knorm, snapkv, streaming_llm and expected_attention on
#      niah_multikey_1 at 2k tokens.
# Usage: tools/train/evaluate.sh MODEL.gguf OUT_DIR [SAMPLES]   (default 100 samples per task and length;
#        $SAMPLES_4K and $SAMPLES_RATIOS override it for the slower 4k and ratio runs)
# Writes OUT_DIR/{full-1k,full-2k,full-4k,ratios-2k,ratios-mk1-1k,ratios-1k}/ (kvpress eval folders: summary.md, metrics.json, ...).
set -euo pipefail
MODEL=${1:?usage: evaluate.sh MODEL.gguf OUT_DIR [SAMPLES]}
OUT=${2:?usage: evaluate.sh MODEL.gguf OUT_DIR [SAMPLES]}
N=${3:-100}
KVPRESS=${KVPRESS_BIN:-$(ls -t "$(dirname "$0")"/../../build*/bin/kvpress | head -1)}
SEED=90210  # training used seeds 1234xxx and the train split
NIAH=niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,niah_multikey_2,niah_multikey_3,niah_multivalue,niah_multiquery
mkdir -p "$OUT"
run() { "$KVPRESS" eval --model "$MODEL" --split test --seed "$SEED" --no-fidelity "$@"; }
# cwe needs ~907 prompt tokens with this tokenizer plus 120 to generate: it starts at 2k.
run --dataset "ruler:$NIAH,vt,fwe:1k" --press no_press --out "$OUT/full-1k" --samples "$N"
run --dataset ruler:all:2k --press no_press --out "$OUT/full-2k" --samples "$N"
run --dataset "ruler:$NIAH:4k" --press no_press --out "$OUT/full-4k" --samples "${SAMPLES_4K:-$N}"
PRESSES=no_press,knorm,snapkv,streaming_llm,expected_attention
run --dataset ruler:niah_multikey_1:2k --press $PRESSES --compression-ratio 0.25,0.5,0.75,0.9 --out "$OUT/ratios-2k" \
  --samples "${SAMPLES_RATIOS:-$N}"
# The same sweeps at 1k, where the model reads its context: key matching and a single needle.
run --dataset ruler:niah_multikey_1:1k --press $PRESSES --compression-ratio 0.25,0.5,0.75,0.9 --out "$OUT/ratios-mk1-1k" \
  --samples "${SAMPLES_RATIOS:-$N}"
run --dataset ruler:niah_single_2:1k --press $PRESSES --compression-ratio 0.25,0.5,0.75,0.9 --out "$OUT/ratios-1k" \
  --samples "${SAMPLES_RATIOS:-$N}"
for d in full-1k full-2k full-4k ratios-2k ratios-mk1-1k ratios-1k; do echo "== $d"; cat "$OUT/$d/summary.md"; done
