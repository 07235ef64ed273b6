#!/usr/bin/python3
"""Where the needle answers go wrong: reads task records (kvpress ruler-gen output) and the
predictions.jsonl of a `kvpress eval` run that answered them with no press, and reports per task, with each
needle numbered by its place in the context (0 = first):
  niah_multikey_*   accuracy by the asked needle's place; how often the answer is another needle's value
  niah_multivalue   how often the values come out in context order, which places are skipped, repeats
  niah_multiquery   accuracy by the asked key's place in the question and by its needle's place in the
                    context; answers that repeat a value
Records and predictions are paired per task, in order (the k-th record of a task with the k-th prediction
of that task), and every pair must have the same gold answers; so the predictions may come from a
`--dataset ruler:...` run with the same seed and samples (evaluate.sh reuses its full-1k run):

  kvpress ruler-gen --model M --tasks niah_multikey_1,niah_multivalue,niah_multiquery --length 1k \
      --samples 100 --seed 4242 --split test --out F.jsonl
  kvpress eval --model M --dataset jsonl:F.jsonl --press no_press --no-fidelity --out DIR
  tools/train/failures.py F.jsonl DIR/predictions.jsonl
"""
import argparse
import collections
import re

from common import NEEDLE, read_jsonl

VALUE = re.compile(r"\d{7}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def pct(a, b):
    return f"{100.0 * a / b:.0f} % ({a}/{b})" if b else "-"


def paired(records, predictions):
    """(record, prediction) pairs, matched per task in order; exits if the two files do not correspond."""
    queues = collections.defaultdict(collections.deque)
    for p in predictions:
        if p["press"] == "no_press":
            queues[p["task"]].append(p)
    pairs = []
    for r in records:
        if not queues[r["task"]]:
            raise SystemExit(f"no no_press prediction left for a {r['task']} record: not the same run?")
        p = queues[r["task"]].popleft()
        if p["gold"] != r["answers"]:
            raise SystemExit(f"{r['task']} sample {p['sample']}: gold {p['gold']} is not the record's "
                             f"{r['answers']}: not the same records (seed, samples)?")
        pairs.append((r, p))
    return pairs


def print_by_place(title, counts):
    """counts: place -> Counter(right, total)."""
    print(title)
    for place in sorted(counts):
        print(f"  {place:>2}: {pct(counts[place]['right'], counts[place]['total'])}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", help="task records (JSONL, kvpress ruler-gen output)")
    ap.add_argument("predictions", help="predictions.jsonl of a kvpress eval run that answered them (no_press rows)")
    args = ap.parse_args()
    pairs = paired(read_jsonl(args.records), read_jsonl(args.predictions))

    def counters():
        return collections.defaultdict(collections.Counter)
    multikey = collections.defaultdict(counters)      # task -> asked needle's place -> right/total
    multikey_other = collections.Counter()            # task -> answers naming another needle's value
    by_question, by_context = counters(), counters()  # niah_multiquery: place -> right/total
    mq = collections.Counter()
    mv = collections.Counter()
    for r, p in pairs:
        task = r["task"]
        values = [v for _, v in NEEDLE.findall(r["context"])]
        place_of = {v: values.index(v) if v in values else -1 for v in r["answers"]}
        said = VALUE.findall(p["prediction"])
        if task.startswith("niah_multikey"):
            gold = r["answers"][0]
            ok = gold in said
            multikey[task][place_of[gold]].update(total=1, right=int(ok))
            multikey_other[task] += int(not ok and bool(said) and said[0] in values)
        elif task == "niah_multiquery":
            for q, gold in enumerate(r["answers"]):
                by_question[q].update(total=1, right=int(gold in said))
                by_context[place_of[gold]].update(total=1, right=int(gold in said))
            mq["total"] += 1
            mq["repeats"] += len(said) - len(set(said))
        elif task == "niah_multivalue":
            places = [values.index(s) if s in values else -1 for s in said]
            mv["total"] += 1
            mv["all right"] += int(set(r["answers"]) <= set(said))
            mv["in context order"] += int(places == sorted(places))
            mv["repeats"] += len(places) - len(set(places))
            for k in range(len(values)):
                mv[f"place {k} missing"] += int(k not in places)

    for task in sorted(multikey):
        print_by_place(f"{task}: accuracy by the asked needle's place in the context", multikey[task])
        total = sum(c["total"] for c in multikey[task].values())
        print(f"  answered another needle's value: {pct(multikey_other[task], total)}")
    if mq["total"]:
        print_by_place("niah_multiquery: accuracy by the asked key's place in the question", by_question)
        print_by_place("niah_multiquery: accuracy by its needle's place in the context", by_context)
        print(f"  repeated values: {mq['repeats']} in {mq['total']} answers")
    if mv["total"]:
        print("niah_multivalue:")
        print(f"  every value: {pct(mv['all right'], mv['total'])}; in context order: "
              f"{pct(mv['in context order'], mv['total'])}; repeated values: {mv['repeats']}")
        for k in sorted(x for x in mv if x.startswith("place")):
            print(f"  {k}: {mv[k]}")


if __name__ == "__main__":
    main()
