#!/usr/bin/env bash
# ctest server_openai_npm: starts `kvpress serve` on a free port and runs openai_client_test.mjs against it.
# Exits 77 (ctest: skipped) when node or the openai package (npm ci --prefix tests/server) is missing.
set -euo pipefail
bin=$1 model=$2
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || [ ! -d "$here/node_modules/openai" ]; then
  echo "SKIPPED: openai npm package not installed (npm ci --prefix tests/server, or scripts/setup.sh)"
  exit 77
fi
out=$(mktemp)
"$bin" serve --model "$model" --port 0 --parallel 2 --threads 2 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$out" && break
  kill -0 $pid 2>/dev/null || { echo "kvpress serve exited early"; exit 1; }
  sleep 0.1
done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -1)
[ -n "$port" ] || { echo "kvpress serve did not print its port: $(cat "$out")"; exit 1; }
KVPRESS_BASE_URL="http://127.0.0.1:$port/v1" node "$here/openai_client_test.mjs"
