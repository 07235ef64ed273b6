#!/usr/bin/python3
"""Where the needle answers go wrong: reads the records a `kvpress eval --dataset jsonl:F` run answered
(the same F, in order) and its predictions.jsonl, and reports per task, with each needle numbered by its
place in the context (0 = first):
  niah_multikey_*   accuracy by the asked needle's place; how often the answer is another needle's value
  niah_multivalue   how often the values come out in context order, which places are skipped, repeats
  niah_multiquery   accuracy by the asked key's place in the question and by its needle's place in the
                    context; answers that repeat a value

  kvpress ruler-gen --model M --tasks niah_multikey_1,niah_multivalue,niah_multiquery --length 1k \
      --samples 100 --seed 4242 --split test --out F.jsonl
  kvpress eval --model M --dataset jsonl:F.jsonl --press no_press --no-fidelity --out DIR
  tools/train/failures.py F.jsonl DIR/predictions.jsonl
"""
import argparse
import collections
import json
import re

NEEDLE = re.compile(r"special magic numbers? for (\S+?) is: (\S+?)\.?(?=\s|$)")
VALUE = re.compile(r"\d{7}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def pct(a, b):
    return f"{100.0 * a / b:.0f} % ({a}/{b})" if b else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", help="the JSONL the evaluation read (kvpress ruler-gen output)")
    ap.add_argument("predictions", help="the evaluation's predictions.jsonl (no_press rows are used)")
    args = ap.parse_args()
    records = [json.loads(line) for line in open(args.records)]
    preds = [p for p in map(json.loads, open(args.predictions)) if p["press"] == "no_press"]
    if len(records) != len(preds):
        raise SystemExit(f"{len(records)} records but {len(preds)} no_press predictions: not the same run?")

    by_place = collections.defaultdict(lambda: collections.Counter())  # (task, place) -> right/total
    other = collections.Counter()
    mv = collections.Counter()
    for r, p in zip(records, preds):
        task = r["task"]
        needles = NEEDLE.findall(r["context"])
        values = [v for _, v in needles]
        said = VALUE.findall(p["prediction"])
        if task.startswith("niah_multikey"):
            gold = r["answers"][0]
            place = values.index(gold) if gold in values else -1
            ok = gold in said
            by_place[(task, place)].update(total=1, right=int(ok))
            other[task, "total"] += 1
            other[task, "another needle"] += int(not ok and any(s in values and s != gold for s in said[:1]))
        elif task == "niah_multivalue":
            places = [values.index(s) if s in values else -1 for s in said]
            mv["total"] += 1
            mv["all right"] += int(set(r["answers"]) <= set(said))
            mv["in context order"] += int(places == sorted(places))
            mv["repeats"] += len(places) - len(set(places))
            for k in range(len(values)):
                mv[f"place {k} missing"] += int(k not in places)
        elif task == "niah_multiquery":
            for q, gold in enumerate(r["answers"]):
                by_place[(task, q)].update(total=1, right=int(gold in said))
                place = values.index(gold) if gold in values else -1
                by_place[(task + " (by context place)", place)].update(total=1, right=int(gold in said))
            other[task, "total"] += 1
            other[task, "repeats"] += len(said) - len(set(said))

    for task in sorted({t for t, _ in by_place}):
        places = sorted(k for t, k in by_place if t == task)
        what = "asked key's place in the question" if task == "niah_multiquery" else "asked needle's place in the context"
        print(f"{task}: accuracy by {what}" if "(" not in task else f"{task.split()[0]}: accuracy by its needle's place in the context")
        for k in places:
            c = by_place[(task, k)]
            print(f"  {k:>2}: {pct(c['right'], c['total'])}")
        if "(" in task:
            continue
        if task.startswith("niah_multikey"):
            print(f"  answered another needle's value: {pct(other[task, 'another needle'], other[task, 'total'])}")
        else:
            print(f"  repeated values: {other[task, 'repeats']} in {other[task, 'total']} answers")
    if mv["total"]:
        print("niah_multivalue:")
        print(f"  every value: {pct(mv['all right'], mv['total'])}; in context order: "
              f"{pct(mv['in context order'], mv['total'])}; repeated values: {mv['repeats']}")
        for k in sorted(x for x in mv if x.startswith("place")):
            print(f"  {k}: {mv[k]}")


if __name__ == "__main__":
    main()
