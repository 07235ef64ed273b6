#!/usr/bin/env bash
# Installs every build and test dependency from Debian bookworm packages (run as root or with sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PACKAGES=(build-essential cmake ninja-build pkg-config git
          libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libpcre2-dev libcli11-dev
          clang libclang-rt-14-dev time python3
          python3-dev pybind11-dev python3-numpy python3-pytest python3-pip python3-setuptools python3-wheel python3-venv
          libcpp-httplib-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all dependencies present"
fi
# The server's test with the official `openai` client (tests/server, ctest server_openai_npm) needs it from
# npm; without npm or network the test is skipped with a notice.
if command -v npm >/dev/null; then
  npm ci --prefix "$(cd "$(dirname "$0")/.." && pwd)/tests/server" --no-audit --no-fund --loglevel=error \
    || echo "setup: npm ci --prefix tests/server failed (offline?): the openai client test will be skipped"
else
  echo "setup: npm not found: the openai client test (tests/server) will be skipped"
fi
