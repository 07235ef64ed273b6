#!/usr/bin/env bash
# ctest server_curl: kvpress serve as curl sees it: every endpoint, a streamed answer, an error body.
# Exits 77 (ctest: skipped) without curl.
set -euo pipefail
bin=$1 model=$2
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
source "$here/start_server.sh"
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # expect NAME TEXT PATTERN
  grep -q -- "$3" <<<"$2" || fail "$1: '$3' not in: ${2:0:400}"
  echo "ok - $1"
}
expect health "$(curl -sf "$base/health")" '"status":"ok"'
expect models "$(curl -sf "$base/v1/models")" '"id":"kvpress-needle-2m"'
expect metrics "$(curl -sf "$base/metrics")" '^kvpress_kv_bytes_held 0$'
chat='{"max_tokens": 8, "messages": [{"role": "system", "content": "The special magic number for apple is 4512."},
       {"role": "user", "content": "What is the special magic number for apple?"}],
       "kvpress": {"press": "knorm", "compression_ratio": 0.5}}'
expect chat "$(curl -sf "$base/v1/chat/completions" -H 'Content-Type: application/json' -d "$chat")" \
  '"prefix_cache_hit":false'
stream=$(curl -sfN "$base/v1/chat/completions" -d "${chat%\}}, \"stream\": true}")
expect stream-chunks "$stream" '^data: {.*"object":"chat.completion.chunk"'
expect stream-hit "$stream" '"prefix_cache_hit":true'
expect stream-done "$(tail -n 2 <<<"$stream")" '^data: \[DONE\]$'
expect completions "$(curl -sf "$base/v1/completions" -d '{"prompt": "Once upon a time", "max_tokens": 4}')" \
  '"object":"text_completion"'
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/chat/completions" -d '{oops')
[ "$code" = 400 ] || fail "malformed JSON answered $code"
expect error-body "$(curl -s "$base/v1/chat/completions" -d '{oops')" '"code":"invalid_json"'
expect still-up "$(curl -sf "$base/health")" '"status":"ok"'
