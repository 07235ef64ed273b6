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
source "$here/start_server.sh"
KVPRESS_BASE_URL="$base/v1" node "$here/openai_client_test.mjs"
