#!/usr/bin/python3
"""Builds the training data: RULER-style task records from `kvpress ruler-gen --split train` at each
curriculum length, mixed with windows of plain essay text, tokenized exactly as kvpress prompts them:

  [BOS] enc(context) enc(question + "\n" + answer_prefix) enc(answer) [EOS]

(kvpress without a chat template: the context after the BOS text, then question + "\n" + answer prefix as
a second encode, each with SentencePiece's leading space). The answer is every reference, comma-separated.
Per token a class: 0 = no loss (BOS, padding), 1 = task prompt, 2 = answer (+EOS), 3 = plain text.
Also writes a small validation set from --split test (keys/values the model never trains on).

  /usr/bin/python3 tools/train/data.py --tokenizer-dir /work/train-runs/tok --out-dir /work/train-runs/data \
      --lengths 256,512,1024 --records 2000
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import common
import spm_vocab

# Default mix (shares of the records at each length). Tasks that do not fit a length (vt/cwe need ~900
# tokens with our tokenizer) hand their share to the other tasks of that length.
DEFAULT_MIX = ("niah_single_1:0.08,niah_single_2:0.10,niah_single_3:0.09,niah_multikey_1:0.10,niah_multikey_2:0.09,"
               "niah_multikey_3:0.08,niah_multivalue:0.09,niah_multiquery:0.09,vt:0.06,cwe:0.04,fwe:0.05,text:0.13")
CLS_NONE, CLS_PROMPT, CLS_ANSWER, CLS_TEXT = 0, 1, 2, 3


def parse_mix(text):
    mix = {}
    for item in text.split(","):
        name, share = item.split(":")
        if name != "text" and name not in common.ALL_TASKS:
            sys.exit(f"unknown task '{name}' in --mix (tasks: {', '.join(common.ALL_TASKS)}, text)")
        mix[name] = float(share)
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


def encode_record(sp, r):
    """(ids, classes) of one task record."""
    ctx = sp.encode(r["context"])
    q_text = r["question"] + "\n" + r["answer_prefix"]
    q = sp.encode(q_text)
    full = sp.encode(q_text + common.answer_text(r))
    # BPE pieces do not cross the space before the answer, so the answer normally extends q's ids.
    ans = full[len(q):] if full[:len(q)] == q else sp.encode(common.answer_text(r).lstrip())
    ids = [common.BOS_ID] + ctx + q + ans + [common.EOS_ID]
    cls = [CLS_NONE] + [CLS_PROMPT] * (len(ctx) + len(q)) + [CLS_ANSWER] * (len(ans) + 1)
    return ids, cls


def generate(kvpress, vocab_gguf, task, length, n, seed, split, tmp):
    """Up to n records of task at length (samples too long for it are skipped); [] when none fits."""
    out = Path(tmp) / f"{task}_{length}_{split}.jsonl"
    rc, _, err = common.run_kvpress(kvpress, [
        "ruler-gen", "--model", str(vocab_gguf), "--tasks", task, "--length", str(length), "--samples", str(n),
        "--seed", str(seed), "--split", split, "--skip-unfit", "--out", str(out)], check=False)
    if rc != 0:
        if "raise the target length" in err:
            return []
        raise RuntimeError(err.strip())
    return common.read_jsonl(out)


def text_windows(essay_ids, length, n, rng):
    """n windows of length-1 essay tokens after a BOS, from random essays (weighted by size)."""
    sizes = np.array([len(e) for e in essay_ids], dtype=np.float64)
    out = []
    for _ in range(n):
        e = essay_ids[rng.choice(len(essay_ids), p=sizes / sizes.sum())]
        if len(e) <= length - 1:
            w = e
        else:
            s = int(rng.integers(0, len(e) - (length - 1)))
            w = e[s:s + length - 1]
        out.append(([common.BOS_ID] + list(w), [CLS_NONE] + [CLS_TEXT] * len(w)))
    return out


def save(path, items, task_names):
    """items: list of (ids, cls, task index). Flat arrays + offsets."""
    lens = np.array([len(i[0]) for i in items], dtype=np.int64)
    np.savez(path, tokens=np.concatenate([np.asarray(i[0], dtype=np.int16) for i in items]),
             classes=np.concatenate([np.asarray(i[1], dtype=np.uint8) for i in items]),
             offsets=np.concatenate([[0], np.cumsum(lens)]), task=np.array([i[2] for i in items], dtype=np.int16),
             task_names=np.array(task_names))
    return lens


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer-dir", required=True, help="holds spm.model and vocab.gguf (make_tokenizer.py)")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--lengths", default="256,512,1024", help="target lengths in tokens (the curriculum stages)")
    ap.add_argument("--records", default="2000", help="training records per length (one number or one per length)")
    ap.add_argument("--val-records", type=int, default=8, help="test-split records per task and length")
    ap.add_argument("--mix", default=DEFAULT_MIX, help="task:share,... ('text' = plain essay windows)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--kvpress", help="kvpress binary (default: the repo's build*/bin/kvpress)")
    args = ap.parse_args()

    kvpress = common.find_kvpress(args.kvpress)
    tok_dir, out_dir = Path(args.tokenizer_dir), Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sp = spm_vocab.load(tok_dir / "spm.model")
    vocab_gguf = tok_dir / "vocab.gguf"
    mix = parse_mix(args.mix)
    lengths = common.parse_int_list(args.lengths)
    records = common.parse_int_list(args.records)
    records = records * len(lengths) if len(records) == 1 else records
    if len(records) != len(lengths):
        sys.exit("--records needs one number or one per length")
    task_names = common.ALL_TASKS + ["text"]
    essay_ids = [sp.encode(e) for e in common.read_essays()]
    manifest = {"lengths": {}, "mix": mix, "seed": args.seed, "tokenizer": str(tok_dir.resolve()),
                "vocab_size": sp.get_piece_size()}
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for li, (length, n_total) in enumerate(zip(lengths, records)):
            rng = np.random.default_rng([args.seed, length])
            seed = args.seed * 1000 + length  # distinct records per length
            fits = {t for t in mix if t == "text" or generate(kvpress, vocab_gguf, t, length, 8, seed, "train", tmp)}
            share = {t: mix[t] for t in fits}
            norm = sum(share.values())
            counts = {t: int(round(n_total * s / norm)) for t, s in share.items()}
            items = []
            for t, n in counts.items():
                if t == "text":
                    items += [(ids, cls, task_names.index("text")) for ids, cls in text_windows(essay_ids, length, n, rng)]
                    continue
                for r in generate(kvpress, vocab_gguf, t, length, n, seed, "train", tmp):
                    ids, cls = encode_record(sp, r)
                    items.append((ids, cls, task_names.index(t)))
            rng.shuffle(items)
            lens = save(out_dir / f"train_{length}.npz", items, task_names)
            val = []
            for t in common.ALL_TASKS:
                for r in generate(kvpress, vocab_gguf, t, length, args.val_records, seed + 7, "test", tmp):
                    ids, cls = encode_record(sp, r)
                    val.append((ids, cls, task_names.index(t)))
            save(out_dir / f"val_{length}.npz", val, task_names)
            n_ans = sum(int(np.sum(np.asarray(c) == CLS_ANSWER)) for _, c, _ in items)
            manifest["lengths"][str(length)] = {
                "records": counts, "tokens": int(lens.sum()), "max_tokens": int(lens.max()),
                "answer_tokens": n_ans, "val_records": len(val)}
            print(f"length {length}: {len(items)} records, {int(lens.sum())} tokens (max {int(lens.max())}), "
                  f"{n_ans} answer tokens, {len(val)} val records; skipped: "
                  f"{sorted(set(mix) - fits) or 'none'}; {time.time() - t0:.0f} s", file=sys.stderr)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
