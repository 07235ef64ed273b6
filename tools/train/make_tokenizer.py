#!/usr/bin/python3
"""Trains the SentencePiece BPE tokenizer (byte fallback) on the essays plus generated task text and
writes it as spm.model and a vocab-only GGUF (vocab.gguf); then checks that kvpress's own tokenizer
reads vocab.gguf to the same ids as SentencePiece on sample texts.

  /usr/bin/python3 tools/train/make_tokenizer.py --out-dir /work/train-runs/tok [--vocab-size 3072]
"""
import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import sentencepiece as spm

import common
import gguf_io
import spm_vocab


def task_text(kvpress, byte_vocab, tmp, samples, seed):
    """Train-split task records of every task, as text lines. The byte vocab counts a byte per token, so the
    lengths are in bytes; vt needs a long budget to fit at all."""
    lines = []
    for length in ["4k", "16k"]:
        for task in common.ALL_TASKS:
            out = Path(tmp) / f"{task}_{length}.jsonl"
            rc, _, err = common.run_kvpress(kvpress, [
                "ruler-gen", "--model", str(byte_vocab), "--tasks", task, "--length", length,
                "--samples", str(samples), "--seed", str(seed), "--split", "train", "--out", str(out)], check=False)
            if rc != 0:
                print(f"  skip {task} at {length}: {err.strip()}", file=sys.stderr)
                continue
            for r in common.read_jsonl(out):
                text = r["context"] + r["question"] + "\n" + r["answer_prefix"] + common.answer_text(r)
                lines += text.split("\n")
    return lines


def check_parity(kvpress, vocab_gguf, sp, texts, tmp):
    """Every text must get the same ids from `kvpress tokenize` (no BOS) and from SentencePiece."""
    bad = 0
    for i, text in enumerate(texts):
        f = Path(tmp) / f"parity_{i}.txt"
        f.write_text(text, encoding="utf-8")
        _, out, _ = common.run_kvpress(kvpress, ["tokenize", "--model", str(vocab_gguf), "--text-file", str(f)])
        ours = [int(x) for x in out.split()]
        ref = sp.encode(text)
        if ours != ref:
            bad += 1
            if bad <= 3:
                k = next((j for j, (a, b) in enumerate(zip(ours, ref)) if a != b), min(len(ours), len(ref)))
                print(f"  parity mismatch on text {i} at token {k}: kvpress {ours[k:k + 5]} vs spm {ref[k:k + 5]}",
                      file=sys.stderr)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", required=True, help="where spm.model, spm.vocab and vocab.gguf go")
    ap.add_argument("--vocab-size", type=int, default=3072)
    ap.add_argument("--task-samples", type=int, default=12, help="records per task and length in the training text")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--parity-texts", type=int, default=40, help="sample texts checked against kvpress tokenize")
    ap.add_argument("--kvpress", help="kvpress binary (default: the repo's build*/bin/kvpress)")
    args = ap.parse_args()

    kvpress = common.find_kvpress(args.kvpress)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        byte_vocab = Path(tmp) / "bytes.gguf"
        spm_vocab.byte_vocab_gguf(byte_vocab)
        essays = common.read_essays()
        lines = [l for e in essays for l in e.split("\n")]
        lines += task_text(kvpress, byte_vocab, tmp, args.task_samples, args.seed)
        lines = [l for l in lines if l.strip()]
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"tokenizer corpus: {len(lines)} lines, {corpus.stat().st_size} bytes", file=sys.stderr)

        # Llama-2-like settings: BPE, byte fallback, digits split (so unseen numbers tokenize like seen
        # ones), no normalisation and no whitespace collapsing (kvpress's SPM tokenizer does neither).
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(out_dir / "spm"), model_type="bpe",
            vocab_size=args.vocab_size, byte_fallback=True, split_digits=True, character_coverage=1.0,
            normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
            unk_id=common.UNK_ID, bos_id=common.BOS_ID, eos_id=common.EOS_ID, pad_id=-1,
            max_sentence_length=1 << 16, num_threads=2, minloglevel=2)
        sp = spm_vocab.load(out_dir / "spm.model")

        w = gguf_io.GgufWriter()
        w.add_string("general.architecture", "llama")
        w.add_string("general.name", f"kvpress-needle tokenizer ({sp.get_piece_size()} tokens)")
        spm_vocab.add_tokenizer_metadata(w, sp)
        w.write(out_dir / "vocab.gguf")

        rng = random.Random(args.seed)
        texts = rng.sample([l for l in lines if len(l) > 20], min(args.parity_texts, len(lines)))
        texts += ["\n".join(essays[0].split("\n")[:40]), "Hello  world\n\tdouble  spaces — dash 12345 ünïcödé 😀"]
        bad = check_parity(kvpress, out_dir / "vocab.gguf", sp, texts, tmp)
    n_tok = sum(len(sp.encode(e)) for e in essays)
    print(f"wrote {out_dir}/spm.model and vocab.gguf: {sp.get_piece_size()} tokens; essays = {n_tok} tokens "
          f"({sum(len(e) for e in essays) / n_tok:.2f} bytes/token); parity {len(texts) - bad}/{len(texts)} texts; "
          f"{time.time() - t0:.0f} s")
    if bad:
        sys.exit("kvpress tokenize and SentencePiece disagree: the trainer would see other ids than the engine")


if __name__ == "__main__":
    main()
