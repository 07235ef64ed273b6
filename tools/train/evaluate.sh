#!/usr/bin/env bash
# Measures a trained needle model with kvpress itself (not the trainer), on fresh test-split samples
# (keys, numbers and UUIDs disjoint from training; a seed training never used):
#   1. full-cache accuracy on every RULER task at 1k (but cwe, which does not fit) and 2k tokens, and the niah tasks at 4k;
#   2. accuracy versus compression ratio for knorm, snapkv, streaming_llm and expected_attention on
#      niah_multikey_1 at 2k tokens (and at 1k, with niah_single_2 at 1k);
#   3. where the 1k multi-needle answers go wrong (failures.py on niah_multikey_1/multivalue/multiquery).
# Usage: tools/train/evaluate.sh MODEL.gguf OUT_DIR [SAMPLES]   (default 100 samples per task and length;
#        $SAMPLES_4K and $SAMPLES_RATIOS override it for the slower 4k and ratio runs)
# Writes OUT_DIR/{full-1k,full-2k,full-4k,ratios-2k,ratios-mk1-1k,ratios-1k}/ (kvpress eval folders: summary.md,
# metrics.json, ...), OUT_DIR/failures-1k.jsonl (the analysed records) and OUT_DIR/failures-1k.txt.
set -euo pipefail
MODEL=${1:?usage: evaluate.sh MODEL.gguf OUT_DIR [SAMPLES]}
OUT=${2:?usage: evaluate.sh MODEL.gguf OUT_DIR [SAMPLES]}
N=${3:-100}
KVPRESS=${KVPRESS_BIN:-$(ls -t "$(dirname "$0")"/../../build*/bin/kvpress | head -1)}
SEED=90210  # training used seeds 1234xxx and the train split
NIAH=niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,niah_multikey_2,niah_multikey_3,niah_multivalue,niah_multiquery
mkdir -p "$OUT"
DIRS=()
run() { local dir=$1; shift; DIRS+=("$dir")   # run DIR ARGS...: one kvpress eval into OUT/DIR
  "$KVPRESS" eval --model "$MODEL" --split test --seed "$SEED" --no-fidelity --out "$OUT/$dir" "$@"; }
# cwe needs ~907 prompt tokens with this tokenizer plus 120 to generate: it starts at 2k.
run full-1k --dataset "ruler:$NIAH,vt,fwe:1k" --press no_press --samples "$N"
run full-2k --dataset ruler:all:2k --press no_press --samples "$N"
run full-4k --dataset "ruler:$NIAH:4k" --press no_press --samples "${SAMPLES_4K:-$N}"
PRESSES=no_press,knorm,snapkv,streaming_llm,expected_attention
run ratios-2k --dataset ruler:niah_multikey_1:2k --press $PRESSES --compression-ratio 0.25,0.5,0.75,0.9 \
  --samples "${SAMPLES_RATIOS:-$N}"
# The same sweeps at 1k, where the model reads its context: key matching and a single needle.
run ratios-mk1-1k --dataset ruler:niah_multikey_1:1k --press $PRESSES --compression-ratio 0.25,0.5,0.75,0.9 \
  --samples "${SAMPLES_RATIOS:-$N}"
run ratios-1k --dataset ruler:niah_single_2:1k --press $PRESSES --compression-ratio 0.25,0.5,0.75,0.9 \
  --samples "${SAMPLES_RATIOS:-$N}"
# Failure analysis needs the records full-1k answered: the same seed and samples generate them again.
"$KVPRESS" ruler-gen --model "$MODEL" --tasks niah_multikey_1,niah_multivalue,niah_multiquery --length 1k \
  --samples "$N" --seed "$SEED" --split test --out "$OUT/failures-1k.jsonl"
/usr/bin/python3 "$(dirname "$0")/failures.py" "$OUT/failures-1k.jsonl" "$OUT/full-1k/predictions.jsonl" \
  > "$OUT/failures-1k.txt"
for d in "${DIRS[@]}"; do echo "== $d"; cat "$OUT/$d/summary.md"; done
echo "== failures-1k"; cat "$OUT/failures-1k.txt"
