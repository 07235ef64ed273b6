#!/usr/bin/env bash
# The main job: build kvpress, then run it on the embedded default model.
# Until a trained model exists, the default is a RANDOM-WEIGHT reference model (models/README.md):
# the text it writes is gibberish, but every stage runs for real (GGUF loading, Q4_0 kernels,
# tokenizer, generation, a press compressing the KV cache with exact byte accounting).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${KVPRESS_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
echo "== building kvpress (first time: a few minutes)"
cmake --build "$BUILD" -j "$(nproc)" --target kvpress >/dev/null
MODEL=models/reference-llama-gqa-Q4_0.gguf
echo "== default model: $MODEL (random weights — a stand-in until the trained model lands)"
"$BUILD"/bin/kvpress info --model "$MODEL"
echo
echo "== kvpress generate (greedy, 24 tokens)"
"$BUILD"/bin/kvpress generate --model "$MODEL" --prompt "Once upon a time" --max-new-tokens 24
echo
CONTEXT=$(mktemp)
trap 'rm -f "$CONTEXT"' EXIT
for i in $(seq 1 40); do echo "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."; done > "$CONTEXT"
echo "== kvpress answer: one context, compressed once, with each press at ratio 0.5"
printf "%-22s %10s %12s %12s %10s\n" press ctx_tokens kv_bytes_full kv_bytes prefill_ms
for press in none knorm snapkv streaming_llm expected_attention; do
  ratio=0.5; [ "$press" = none ] && ratio=0
  "$BUILD"/bin/kvpress answer --model "$MODEL" --context-file "$CONTEXT" --question "What is the color of the sky?" \
    --press "$press" --compression-ratio "$ratio" --max-new-tokens 8 --json |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print("%-22s %10d %12d %12d %10.1f" % (sys.argv[1], j["context_tokens"], j["kv_bytes_full"], j["kv_bytes"], j["prefill_ms"]))' "$press"
done
