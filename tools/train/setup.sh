#!/usr/bin/env bash
# Installs what the training recipe needs (Debian packages only); the main setup does not run this.
# Usage: sudo tools/train/setup.sh   (or as root). The scripts then run with Debian's /usr/bin/python3.
set -euo pipefail

packages=(python3 python3-torch python3-numpy python3-sentencepiece libopenblas0-pthread)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's torch is built for /usr/bin/python3 (a pyenv python3 earlier on PATH does not see it).
/usr/bin/python3 - <<'PY'
import torch, numpy, sentencepiece
print(f"tools/train: torch {torch.__version__}, numpy {numpy.__version__}, sentencepiece {sentencepiece.__version__}, "
      f"threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}")
PY
