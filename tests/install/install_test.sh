#!/usr/bin/env bash
# The installed package as another project sees it: `cmake --install` to a fresh prefix, examples/ built
# with find_package(kvpress) and, apart, with pkg-config; the example's answer must be the CLI's, and a
# library error must reach it as kvpress::Error with the library's message.
# Usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR KVPRESS_BIN
set -euo pipefail
cmake=$1 build=$2 src=$3 kvpress=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cmake" --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/kvpress/kvpress.h include/kvpress/session.h include/kvpress/version.h; do
  [ -f "$tmp/prefix/$f" ] || fail "$f not installed"
done
# The public headers stand alone: nothing of src/ is installed or included.
! grep -rhE '#include "(core|model|press|pipeline|cache|runtime|tokenizer|gguf|kernels|eval)/' \
  "$tmp/prefix/include/kvpress" || fail "a public header includes an internal one"

"$cmake" -S "$src/examples" -B "$tmp/example" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "find_package(kvpress) project did not configure"; }
"$cmake" --build "$tmp/example" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "example did not build"; }

model="$src/models/kvpress-needle-2m.gguf"
context="$src/data/paul_graham_essays/avg.txt"
question="What is this text about?"
expected=$("$kvpress" answer --model "$model" --context-file "$context" --question "$question" --press snapkv \
  --compression-ratio 0.5 --max-new-tokens 50 --quiet)
got=$("$tmp/example/answer_question" "$model" "$context" snapkv 0.5 "$question" 2>"$tmp/stderr")
[ "$got" == "$expected" ] || fail "example answered '$got', kvpress answer '$expected'"
grep -q "KV cache" "$tmp/stderr" || fail "no stats line: $(cat "$tmp/stderr")"

# kvpress::Error crosses the shared library with the library's message.
if "$tmp/example/answer_question" "$tmp/missing.gguf" "$context" knorm 0.5 q 2>"$tmp/err"; then
  fail "a missing model did not fail"
fi
grep -q "answer_question: .*missing.gguf" "$tmp/err" || fail "unexpected error text: $(cat "$tmp/err")"

# pkg-config, as a Makefile would use it.
pc=$(find "$tmp/prefix" -name kvpress.pc | head -n1)
[ -n "$pc" ] || fail "kvpress.pc not installed"
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs kvpress)
libdir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=libdir kvpress)
g++ "$src/examples/answer_question.cpp" $flags -Wl,-rpath,"$libdir" -o "$tmp/answer_pc"
got_pc=$("$tmp/answer_pc" "$model" "$context" snapkv 0.5 "$question" 2>/dev/null)
[ "$got_pc" == "$expected" ] || fail "pkg-config build answered '$got_pc', kvpress answer '$expected'"
echo "installed package OK: find_package and pkg-config builds answer as kvpress answer: '$expected'"
