#!/usr/bin/env bash
# The main job: build kvpress, then run `kvpress demo` on the embedded default model
# (models/kvpress-needle-2m.gguf, a small Llama-architecture model trained by tools/train/ to read long
# contexts): fresh RULER-style samples answered with the full cache and with four presses at ratio 0.5.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${KVPRESS_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
echo "== building kvpress (first time: a few minutes)"
cmake --build "$BUILD" -j "$(nproc)" --target kvpress >/dev/null
MODEL=models/kvpress-needle-2m.gguf
echo "== default model: $MODEL"
"$BUILD"/bin/kvpress info --model "$MODEL"
echo
echo "== kvpress demo (about a minute)"
"$BUILD"/bin/kvpress demo --model "$MODEL" "$@"
