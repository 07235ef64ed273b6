#!/usr/bin/env bash
# `pip install .` offline (no index, no build isolation: Debian's setuptools) into a fresh folder, then the
# installed package imports and answers from another directory. Reuses the CMake build's module.
# Usage: pip_install_test.sh PYTHON SOURCE_DIR BUILD_DIR
set -euo pipefail
python=$1 src=$2 build=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
KVPRESS_CPP_CMAKE_BUILD_DIR=$build "$python" -m pip install --no-build-isolation --no-index --no-deps \
  --disable-pip-version-check --quiet --target "$tmp/site" "$src" >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; exit 1; }
ls "$tmp/site/kvpress_cpp/"_core*.so >/dev/null
cd "$tmp"
PYTHONPATH="$tmp/site" PYTHONDONTWRITEBYTECODE=1 "$python" - "$src/models/kvpress-needle-2m.gguf" <<'PY'
import sys
import kvpress_cpp
from kvpress_cpp import pipeline, KnormPress
assert "/site/kvpress_cpp/" in kvpress_cpp.__file__, kvpress_cpp.__file__
pipe = pipeline("kv-press-text-generation", model=sys.argv[1], n_threads=2)
answer = pipe("The grass is green. The sky is blue.", question="What is blue?", press=KnormPress(0.5),
              max_new_tokens=5)["answer"]
print("pip-installed kvpress_cpp", kvpress_cpp.__version__, "from", kvpress_cpp.__file__, "answers", repr(answer))
PY
