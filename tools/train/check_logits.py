#!/usr/bin/python3
"""Checks that the trainer and the engine agree: the checkpoint's own torch forward pass (f32) and
`kvpress logits` on the exported GGUF give the same logits (max |diff| <= --tol, default 1e-3) for the
first and last position of several sequences and prefixes, and the same argmax wherever torch's top two
logits are further apart than the tolerance. Sequences: fresh test-split RULER records tokenized as
data.py does, plus random token ids. Exit status 1 on any disagreement.

  /usr/bin/python3 tools/train/check_logits.py --ckpt RUN/ckpt.pt --gguf models/kvpress-needle-5m.gguf \
      --tokenizer-dir /work/train-runs/tok
"""
import argparse
import json
import sys
import tempfile

import numpy as np
import torch

import common
import data
import spm_vocab
from model import LlamaModel, ModelConfig


def load_model(ckpt_path):
    state = torch.load(ckpt_path, map_location="cpu")
    model = LlamaModel(ModelConfig(**state["config"]))
    model.load_state_dict(state["model"])
    return model.eval()


def sequences(kvpress, tokenizer_dir, max_len, vocab_size, seed):
    """(name, ids) pairs: task records of a few tasks and lengths, and random ids."""
    sp = spm_vocab.load(f"{tokenizer_dir}/spm.model")
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, length in [("niah_single_1", 256), ("niah_multikey_2", 512), ("niah_single_2", 1024),
                             ("niah_multiquery", 1024)]:
            if length > max_len:
                continue
            recs = data.generate(kvpress, f"{tokenizer_dir}/vocab.gguf", task, length, 1, seed, "test", tmp)
            if recs:
                ids, _ = data.encode_record(sp, recs[0])
                out.append((f"{task}@{length}", ids[:max_len]))
    rng = np.random.default_rng(seed)
    out.append(("random@64", [common.BOS_ID] + rng.integers(3, vocab_size, size=63).tolist()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--tokenizer-dir", required=True)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kvpress", help="kvpress binary (default: the repo's build*/bin/kvpress)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kvpress = common.find_kvpress(args.kvpress)
    model = load_model(args.ckpt)
    c = model.config

    worst, failures, n_checks = 0.0, 0, 0
    for name, ids in sequences(kvpress, args.tokenizer_dir, c.max_len, c.vocab_size, args.seed):
        with torch.no_grad():
            ref = model(torch.tensor([ids]))[0].numpy()        # [T, V]
        T = len(ids)
        for n in sorted({1, 17, T // 2, T} - {0}):
            _, out, _ = common.run_kvpress(kvpress, ["logits", "--model", args.gguf, "--threads", str(args.threads), "--kv-type", "f32",
                                                     "--tokens", ",".join(map(str, ids[:n]))])
            got = json.loads(out)
            d_first = float(np.max(np.abs(np.asarray(got["logits_first"]) - ref[0])))
            d_last = float(np.max(np.abs(np.asarray(got["logits_last"]) - ref[n - 1])))
            top2 = np.sort(ref[:n], axis=-1)[:, -2:]
            clear = (top2[:, 1] - top2[:, 0]) > args.tol
            am_bad = int(np.sum((np.asarray(got["argmax"]) != ref[:n].argmax(-1)) & clear))
            ok = max(d_first, d_last) <= args.tol and am_bad == 0
            worst = max(worst, d_first, d_last)
            failures += not ok
            n_checks += 1
            print(f"{'ok  ' if ok else 'FAIL'} {name:24s} prefix {n:5d}: max|diff| first {d_first:.2e} last {d_last:.2e}, "
                  f"argmax mismatches {am_bad}/{int(clear.sum())}")
    print(f"{n_checks - failures}/{n_checks} checks pass; worst max|diff| {worst:.2e} (tolerance {args.tol})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
