"""Paths, the kvpress binary, and small helpers shared by the training scripts."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO / "data"
ESSAY_DIR = DATA_DIR / "paul_graham_essays"

# Special token ids of our SentencePiece vocab (sentencepiece's defaults, also llama's).
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2

# The RULER tasks `kvpress ruler-gen` knows (src/eval/ruler_generator.h).
NIAH_TASKS = ["niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multikey_2",
              "niah_multikey_3", "niah_multivalue", "niah_multiquery"]
ALL_TASKS = NIAH_TASKS + ["vt", "cwe", "fwe"]

# A needle sentence of the niah tasks (numbers or UUIDs): groups key and value.
NEEDLE = re.compile(r"One of the special magic \w+ for (\S+) is: (\S+?)\.(?=\s|$)")


def find_kvpress(explicit=None):
    """The kvpress CLI: --kvpress, $KVPRESS_BIN, or the newest build*/bin/kvpress of the repo."""
    for cand in [explicit, os.environ.get("KVPRESS_BIN")]:
        if cand:
            if not Path(cand).is_file():
                sys.exit(f"kvpress binary '{cand}' not found")
            return str(cand)
    builds = sorted(REPO.glob("build*/bin/kvpress"), key=lambda p: p.stat().st_mtime, reverse=True)
    if builds:
        return str(builds[0])
    sys.exit("kvpress binary not found: build it (cmake --build build --target kvpress) or pass --kvpress")


def run_kvpress(kvpress, args, check=True):
    """Runs `kvpress ARGS`; returns (returncode, stdout, stderr)."""
    p = subprocess.run([kvpress, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"kvpress {' '.join(args[:1])} failed ({p.returncode}): {p.stderr.strip()}")
    return p.returncode, p.stdout, p.stderr


def read_essays():
    """The essays in file-name order (as the RULER generator concatenates them)."""
    files = sorted(ESSAY_DIR.glob("*.txt"))
    if not files:
        sys.exit(f"no essays in {ESSAY_DIR}")
    return [f.read_text(encoding="utf-8") for f in files]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def answer_text(record):
    """What the model is taught to generate after the answer prefix: every reference, comma-separated
    (RULER's string_match_all only needs each one to appear)."""
    return " " + ", ".join(record["answers"])


def parse_int_list(text):
    return [int(x) for x in str(text).split(",") if x.strip()]
