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
import re
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import common
import spm_vocab

# Default mix (shares of the records at each length). Tasks that do not fit a length (vt/cwe need ~900
# tokens with our tokenizer) hand their share to the other tasks of that length.
# The five tasks the shipped model must solve (niah_single_1/2, multikey_1, multivalue, multiquery) get more.
DEFAULT_MIX = ("niah_single_1:0.10,niah_single_2:0.12,niah_single_3:0.06,niah_multikey_1:0.14,niah_multikey_2:0.08,"
               "niah_multikey_3:0.05,niah_multivalue:0.13,niah_multiquery:0.13,vt:0.05,cwe:0.03,fwe:0.04,text:0.07,repeat:0.25")
CLS_NONE, CLS_PROMPT, CLS_ANSWER, CLS_TEXT = 0, 1, 2, 3
SYNTHETIC = ("text", "repeat", "recall")  # mix entries made here, not by `kvpress ruler-gen`
FIRST_PIECE_ID = 3 + 256  # after <unk>, <s>, </s> and the 256 byte-fallback tokens


def parse_mix(text):
    mix = {}
    for item in text.split(","):
        name, share = item.split(":")
        if name not in SYNTHETIC and name not in common.ALL_TASKS:
            sys.exit(f"unknown task '{name}' in --mix (tasks: {', '.join(common.ALL_TASKS + list(SYNTHETIC))})")
        mix[name] = float(share)
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


def in_context_order(r):
    """niah_multivalue's references come in generation order, but its needles are shuffled into the
    context: teach the model to list them in the order it reads them (the metric ignores order)."""
    if r["task"] != "niah_multivalue":
        return r
    return dict(r, answers=sorted(r["answers"], key=lambda a: r["context"].find(a)))


def extra_questions(r, n, rng):
    """Up to n more (question, answer prefix, answers) on the same context for the multi-key tasks: their
    other needles (distractors) are valid key/value pairs too. More retrieval targets per sequence: the
    answer is the only hard part of a record, and a long context is costly to train on."""
    if n <= 0 or not r["task"].startswith("niah_multikey"):
        return []
    needles = common.NEEDLE.findall(r["context"])
    asked = next((k for k, v in needles if v == r["answers"][0]), None)
    pairs = [(k, v) for k, v in needles if k != asked]
    if asked is None or not pairs:
        return []
    out = []
    for i in rng.permutation(len(pairs))[:n]:
        k, v = pairs[i]
        out.append((r["question"].replace(asked, k), r["answer_prefix"].replace(asked, k), [v]))
    return out


def encode_qa(sp, question, answer_prefix, answers):
    """ids of question + "\n" + answer prefix, and of the answer after it."""
    q_text = question + "\n" + answer_prefix
    q = sp.encode(q_text)
    answer = " " + ", ".join(answers)
    full = sp.encode(q_text + answer)
    # BPE pieces do not cross the space before the answer, so the answer normally extends q's ids.
    ans = full[len(q):] if full[:len(q)] == q else sp.encode(answer.lstrip())
    return q, ans


def encode_with_questions(sp, ctx, qas, max_len=None, keep_first=False):
    """(ids, classes): [BOS] ctx, then each (question, answer prefix, answers) as prompt + answer + EOS,
    stopping at the first that would pass max_len (the first one always stays if keep_first)."""
    ids = [common.BOS_ID] + ctx
    cls = [CLS_NONE] + [CLS_PROMPT] * len(ctx)
    for i, (question, prefix, answers) in enumerate(qas):
        q, ans = encode_qa(sp, question, prefix, answers)
        if max_len and len(ids) + len(q) + len(ans) + 1 > max_len and not (keep_first and i == 0):
            break
        ids += q + ans + [common.EOS_ID]
        cls += [CLS_PROMPT] * len(q) + [CLS_ANSWER] * (len(ans) + 1)
    return ids, cls


def multiquery_answers(pairs, tag):
    """A multi-key question's answers from its (key, value) pairs: the values, or with --tag-multiquery
    "KEY: VALUE" items."""
    return [f"{k}: {v}" if tag else v for k, v in pairs]


def tagged_multiquery(r):
    """niah_multiquery's references each preceded by its key: the model writes the next asked key (a copy
    from the question) and then that key's value (single-key retrieval), instead of tracking which values
    it already wrote; the metric only checks that every reference appears."""
    if r["task"] != "niah_multiquery":
        return r
    key_of = {v: k for k, v in common.NEEDLE.findall(r["context"])}
    return dict(r, answers=multiquery_answers([(key_of[a], a) for a in r["answers"]], tag=True))


def encode_record(sp, r, n_extra=0, rng=None, max_len=None, tag_multiquery=False):
    """(ids, classes) of one task record, plus up to n_extra further questions (multi-key tasks) after its
    EOS, as many as fit in max_len tokens."""
    r = in_context_order(r)
    if tag_multiquery:
        r = tagged_multiquery(r)
    qas = [(r["question"], r["answer_prefix"], r["answers"])] + extra_questions(r, n_extra, rng)
    return encode_with_questions(sp, sp.encode(r["context"]), qas, max_len, keep_first=True)


def generate(kvpress, vocab_gguf, task, length, n, seed, split, tmp):
    """Up to n records of task at length (samples too long for it are skipped); [] when none fits."""
    out = Path(tmp) / f"{task}_{length}_{split}.jsonl"
    rc, _, err = common.run_kvpress(kvpress, [
        "ruler-gen", "--model", str(vocab_gguf), "--tasks", task, "--length", str(length), "--samples", str(n),
        "--seed", str(seed), "--split", split, "--skip-unfit", "--out", str(out)], check=False)
    if rc != 0:
        if "raise the target length" in err or "must exceed max_new_tokens" in err:  # too short for the task
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


def repeat_windows(essay_ids, length, n, rng, sp):
    """n sequences "A B A" of essay tokens whose second A is the target (class answer): every token of it
    is predictable only by finding its first occurrence, a dense signal for the copying (induction)
    circuits that the needle tasks need but reward only a few answer tokens per sequence. Half the A's are
    random digit/hex-character strings (what the needles' values are made of), a quarter random tokens (not
    byte tokens): nothing but copying predicts them."""
    chars = [sp.piece_to_id(c) for c in "0123456789abcdef-"]
    sizes = np.array([len(e) for e in essay_ids], dtype=np.float64)
    out = []
    for _ in range(n):
        total = length - 1
        a_len = int(rng.integers(8, total // 3 + 1))
        parts = []
        for want in (a_len, total - 2 * a_len):
            e = essay_ids[rng.choice(len(essay_ids), p=sizes / sizes.sum())]
            s = int(rng.integers(0, max(1, len(e) - want)))
            parts.append(list(e[s:s + want]))
        a, b = parts
        kind = rng.random()
        if kind < 0.5:
            a = [chars[int(i)] for i in rng.integers(0, len(chars), size=len(a))]
        elif kind < 0.75:
            a = [int(t) for t in rng.integers(FIRST_PIECE_ID, sp.get_piece_size(), size=len(a))]
        ids = [common.BOS_ID] + a + b + a
        out.append((ids, [CLS_NONE] + [CLS_TEXT] * (len(a) + len(b)) + [CLS_ANSWER] * len(a)))
    return out


RECALL_HEADER = ("Some special magic numbers are hidden within the following text. Make sure to memorize it. "
                 "I will quiz you about the numbers afterwards.\n")


def harvest_pools(records):
    """Train-split keys ("word-word") and 7-digit values seen in the generated records' needles: the
    recall drill draws only from these, so it never shows a test-split key or value."""
    keys, values = set(), set()
    for r in records:
        for k, v in common.NEEDLE.findall(r["context"]):
            if re.fullmatch(r"[a-z]+-[a-z]+", k):
                keys.add(k)
            if re.fullmatch(r"\d{7}", v):
                values.add(v)
    return sorted(keys), sorted(values)


def needle_question(keys_text, n_values):
    """RULER's (question, answer prefix) about the needles of keys_text, asking for one value or several."""
    if n_values == 1:
        return (f"What is the special magic number for {keys_text} mentioned in the provided text? ",
                f"The special magic number for {keys_text} mentioned in the provided text is")
    return (f"What are all the special magic numbers for {keys_text} mentioned in the provided text? ",
            f"The special magic numbers for {keys_text} mentioned in the provided text are")


def join_keys(keys):
    """RULER's list of queried keys: "a, b, and c"."""
    return ", ".join(keys[:-1]) + ", and " + keys[-1]


def essay_snippet(essays, n_chars, rng):
    """About n_chars of essay text starting and ending at a space (a stretch of haystack)."""
    if n_chars <= 0:
        return ""
    e = essays[int(rng.integers(0, len(essays)))]
    a = int(rng.integers(0, max(1, len(e) - n_chars)))
    text = e[a:a + n_chars]
    first, last = text.find(" "), text.rfind(" ")
    return text[first + 1:last] if 0 <= first < last else ""


def share_words(ks, words, rng, share):
    """With chance share per key after the first, rebuild it to share one word with an earlier key
    ("warm-fence" next to "warm-lamp"): the model must then match the whole key, not one of its words."""
    ks = list(ks)
    for j in range(1, len(ks)):
        if rng.random() >= share:
            continue
        kept = ks[int(rng.integers(0, j))].split("-")[int(rng.integers(0, 2))]
        other = words[int(rng.integers(0, len(words)))]
        cand = f"{kept}-{other}" if rng.random() < 0.5 else f"{other}-{kept}"
        if cand not in ks and other != kept:
            ks[j] = cand
    return ks


@dataclass(frozen=True)
class DrillOptions:
    """The recall drill's knobs (data.py's --drill-* and --tag-multiquery flags)."""
    multivalue_share: float = 0.3   # chance that each of the first multivalued_keys keys holds several values
    multivalued_keys: int = 1
    max_values: int = 4             # a multi-valued key holds 2..max_values values
    multiquery_share: float = 0.25  # chance that a question about a single-valued key asks 3-4 keys at once
    shared_word_share: float = 0.0  # chance that a key shares one word with an earlier key
    tag_multiquery: bool = False


def recall_windows(essays, keys, values, length, n, rng, sp, opts=DrillOptions()):
    """n associative-recall drills in the multi-key needles' exact phrasing: 2-10 needles with distinct
    keys (the first opts.multivalued_keys may hold 2..opts.max_values values) between short stretches of
    essay text, then questions about as many of them as fit: single keys (the niah_multikey question), 3-4
    keys at once (niah_multiquery's) and the multi-valued key (niah_multivalue's). Every answer is decided
    by matching a key against the needles, the skill the RULER records reward only once per long sequence."""
    out = []
    key_words = sorted({w for k in keys for w in k.split("-")})
    for _ in range(n):
        n_keys = int(rng.integers(2, max(3, min(11, length // 64 + 1))))
        ks = [keys[int(i)] for i in rng.choice(len(keys), n_keys, replace=False)]
        if opts.shared_word_share > 0:
            ks = share_words(ks, key_words, rng, opts.shared_word_share)
        n_vals = [1] * n_keys
        for j in range(min(opts.multivalued_keys, n_keys - 1)):
            if rng.random() < opts.multivalue_share:
                n_vals[j] = int(rng.integers(2, opts.max_values + 1))
        vs = [values[int(i)] for i in rng.choice(len(values), sum(n_vals), replace=False)]
        needles, it = [], iter(vs)
        for k, m in zip(ks, n_vals):
            needles += [(k, next(it)) for _ in range(m)]
        needles = [needles[int(i)] for i in rng.permutation(len(needles))]
        # Haystack between the needles: up to ~60 % of the length in all (about 4 characters a token).
        budget_chars = int(rng.uniform(0.0, 0.6) * length * 4) - 100 * len(needles)
        cuts = np.sort(rng.uniform(0, max(0, budget_chars), size=len(needles)))
        gaps = np.diff(np.concatenate([[0], cuts, [max(0, budget_chars)]]))
        while True:
            parts = [RECALL_HEADER]
            for (k, v), g in zip(needles, gaps):
                parts.append(essay_snippet(essays, int(g), rng) + f" One of the special magic numbers for {k} is: {v}.")
            context = "".join(parts) + " " + essay_snippet(essays, int(gaps[-1]), rng) + "\n"
            ctx = sp.encode(context)
            if len(ctx) <= int(0.7 * length) or gaps.sum() < 50:
                break
            gaps = gaps / 2
        if len(ctx) > int(0.7 * length):
            continue
        values_of = {k: [v for kk, v in needles if kk == k] for k in ks}
        singles = [k for k in ks if len(values_of[k]) == 1]
        questions = []
        for k in [ks[int(i)] for i in rng.permutation(n_keys)]:
            if len(values_of[k]) == 1 and rng.random() < opts.multiquery_share and len(singles) >= 3:
                q = [singles[int(i)] for i in rng.choice(len(singles), min(len(singles), int(rng.integers(3, 5))), replace=False)]
                answers = multiquery_answers([(x, values_of[x][0]) for x in q], opts.tag_multiquery)
                questions.append((*needle_question(join_keys(q), len(q)), answers))
            else:
                questions.append((*needle_question(k, len(values_of[k])), values_of[k]))
        ids, cls = encode_with_questions(sp, ctx, questions, length)
        if CLS_ANSWER in cls:
            out.append((ids, cls))
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
    ap.add_argument("--extra-questions", type=int, default=0,
                    help="multi-key records: ask up to this many other keys after the first answer")
    ap.add_argument("--tag-multiquery", action="store_true",
                    help="write niah_multiquery answers (and the drill's) as 'KEY: VALUE, ...' (phase 3)")
    ap.add_argument("--drill-multivalue", type=float, default=0.3,
                    help="chance that each of the drill's first --drill-multivalued-keys keys holds several values")
    ap.add_argument("--drill-multivalued-keys", type=int, default=1, help="see --drill-multivalue")
    ap.add_argument("--drill-max-values", type=int, default=4,
                    help="a multi-valued drill key holds 2 to this many values (RULER's niah_multivalue: 4)")
    ap.add_argument("--drill-multiquery", type=float, default=0.25,
                    help="chance that a drill question about a single-valued key asks 3-4 keys at once")
    ap.add_argument("--drill-shared-word", type=float, default=0.0,
                    help="chance that a drill key shares one of its two words with an earlier key of the drill")
    ap.add_argument("--kvpress", help="kvpress binary (default: the repo's build*/bin/kvpress)")
    args = ap.parse_args()
    if args.drill_max_values < 2:
        sys.exit("--drill-max-values must be at least 2")
    drill = DrillOptions(multivalue_share=args.drill_multivalue, multivalued_keys=args.drill_multivalued_keys,
                         max_values=args.drill_max_values, multiquery_share=args.drill_multiquery,
                         shared_word_share=args.drill_shared_word, tag_multiquery=args.tag_multiquery)

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
    task_names = common.ALL_TASKS + list(SYNTHETIC)
    essays = common.read_essays()
    essay_ids = [sp.encode(e) for e in essays]

    manifest = {"lengths": {}, "mix": mix, "seed": args.seed, "tokenizer": str(tok_dir.resolve()),
                "vocab_size": sp.get_piece_size()}
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        pools = None
        if "recall" in mix:  # train-split keys and values for the recall drill
            harvested = []
            for t in ("niah_multikey_1", "niah_multikey_2", "niah_multiquery"):
                harvested += generate(kvpress, vocab_gguf, t, 2048, 300, args.seed * 1000 + 99, "train", tmp)
            pools = harvest_pools(harvested)
            print(f"recall drill: {len(pools[0])} train-split keys, {len(pools[1])} values", file=sys.stderr)
        for li, (length, n_total) in enumerate(zip(lengths, records)):
            rng = np.random.default_rng([args.seed, length])
            seed = args.seed * 1000 + length  # distinct records per length
            fits = {t for t in mix if t in SYNTHETIC or generate(kvpress, vocab_gguf, t, length, 8, seed, "train", tmp)}
            share = {t: mix[t] for t in mix if t in fits}  # mix order, not set order: same seed, same data
            norm = sum(share.values())
            counts = {t: int(round(n_total * s / norm)) for t, s in share.items()}
            items = []
            for t, n in counts.items():
                if t in SYNTHETIC:
                    made = text_windows(essay_ids, length, n, rng) if t == "text" else \
                        repeat_windows(essay_ids, length, n, rng, sp) if t == "repeat" else \
                        recall_windows(essays, *pools, length, n, rng, sp, drill)
                    items += [(ids, cls, task_names.index(t)) for ids, cls in made]
                    continue
                for r in generate(kvpress, vocab_gguf, t, length, n, seed, "train", tmp):
                    ids, cls = encode_record(sp, r, args.extra_questions, rng, length, args.tag_multiquery)
                    items.append((ids, cls, task_names.index(t)))
            rng.shuffle(items)
            lens = save(out_dir / f"train_{length}.npz", items, task_names)
            val = []
            for t in common.ALL_TASKS:
                for r in generate(kvpress, vocab_gguf, t, length, args.val_records, seed + 7, "test", tmp):
                    ids, cls = encode_record(sp, r, tag_multiquery=args.tag_multiquery)
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
