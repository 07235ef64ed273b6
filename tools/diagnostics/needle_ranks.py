#!/usr/bin/env python3
"""Where a press's scores put a RULER needle, per layer and KV head (a diagnostic, not a press).

Usage: needle_ranks.py PRESS RECORDS.jsonl [--question] [--answer] [--kvpress BIN] [--model GGUF]

RECORDS.jsonl comes from `kvpress ruler-gen` (niah tasks). For each record the context is written to
a file (with --question: + "\n" + question + "\n" + answer prefix; with --answer: + " " + the first
gold answer, so that e.g. `snapkv:window_size=8` scores the attention of the answer tokens themselves),
`kvpress inspect --scores` scores it, and for every (layer, KV head) the script prints
- the mean rank percentile of the needle's value tokens (0 % = the highest score; a ratio r keeps the
  top 1 - r),
- the worst value token's percentile,
- the needle sentence's share of the head's score mass over the context tokens.
The gold answer is used only to find the needle in the context (and with --answer to append it).
"""
import argparse, json, os, subprocess, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("press"); ap.add_argument("records")
ap.add_argument("--question", action="store_true"); ap.add_argument("--answer", action="store_true")
here = os.path.dirname(os.path.abspath(__file__))
ap.add_argument("--kvpress", default=os.path.join(here, "../../build/bin/kvpress"))
ap.add_argument("--model", default=os.path.join(here, "../../models/kvpress-needle-2m.gguf"))
args = ap.parse_args()
tmp = tempfile.mkdtemp()

def run(*a):
    return subprocess.run([args.kvpress, *a], capture_output=True, text=True, check=True).stdout

def n_tokens(text):
    p = os.path.join(tmp, "t.txt"); open(p, "w").write(text)
    return len(run("tokenize", "--model", args.model, "--text-file", p, "--add-special").split())

agg = {}
for line in open(args.records):
    r = json.loads(line); ctx = r["context"]; val = r["answers"][0]
    j = ctx.index(val); s = ctx.rfind("One of the special magic", 0, j)
    a = n_tokens(ctx[:s]); b = n_tokens(ctx[: j + len(val) + 1]); n_ctx = n_tokens(ctx)
    text = ctx
    if args.question: text += "\n" + r["question"] + "\n" + r["answer_prefix"]
    if args.answer: text += " " + val
    p = os.path.join(tmp, "c.txt"); open(p, "w").write(text)
    d = json.loads(run("inspect", "--model", args.model, "--text-file", p, "--press", args.press,
                       "--compression-ratio", "0.5", "--scores", "--quiet", "--threads", "1"))
    for l, layer in enumerate(d["layers"]):
        for h, sc in enumerate(layer["scores"]):
            order = sorted(range(len(sc)), key=lambda t: -sc[t]); rank = {t: k for k, t in enumerate(order)}
            pct = [rank[t] / len(sc) for t in range(max(a, b - 10), b)]  # the value's tokens
            mass = sum(sc[a:b]) / max(1e-30, sum(sc[:n_ctx]))
            agg.setdefault((l, h), []).append((sum(pct) / len(pct), max(pct), mass, (b - a) / n_ctx))
for (l, h), v in sorted(agg.items()):
    m = lambda i: 100 * sum(x[i] for x in v) / len(v)
    print(f"layer {l} head {h}: value rank {m(0):.0f} % (worst {m(1):.0f} %), "
          f"needle's score share {m(2):.1f} % (token share {m(3):.1f} %)")
