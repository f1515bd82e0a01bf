"""Quality of the rule layer alone and of rules + model on every labelled set we have,
side by side: macro-F1 (95% bootstrap interval), the paired difference of macro-F1 and of
macro-F2 (the recall-weighted objective) with p-values,
the weakest recall and precision among the labels that drive triage, and gold-urgent items
suggested as normal. Prints a table; figures only, never text.

    python benchmarks/bench_quality.py [--model default] [--json figures.json]

The sets, and what each may be used for:
- dev (../shared/eval/dev): hand-written by the project's owners; the rules were developed
  against it, so it flatters them.
- tuning (training/data/tuning): hand-written by a contributor independently of the
  generator and the dev set; rule changes have looked at its errors (general causes only).
- selection_a, selection_b (training/data/selection_*): hand-written independently of
  everything above; used only to choose between model variants (never trained on, never
  looked at for rules), so unlike dev and tuning they do not flatter the rules.
- holdout (training/data/holdout): hand-written independently of everything above;
  measurement only: nobody trains, tunes or writes rules from it.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "dev": ROOT.parent / "shared" / "eval" / "dev",
    "tuning": ROOT / "training" / "data" / "tuning",
    "selection_a": ROOT / "training" / "data" / "selection_a",
    "selection_b": ROOT / "training" / "data" / "selection_b",
    "holdout": ROOT / "training" / "data" / "holdout",
}
KEY_LABELS = ("sexual_exploitation", "parent_exploiter", "sextortion", "forced_crime", "acute_danger")


def figures(analyzer, records, policy) -> tuple:
    from signaal.models.metrics import scores_with_intervals, to_matrix

    results = [analyzer.analyze_record(r) for r in records]
    gold = to_matrix([set(r.get("labels", [])) for r in records])
    pred = to_matrix([set(x.labels) for x in results])
    scores = scores_with_intervals(gold, pred, n_boot=1000)
    key = [scores["labels"][label] for label in KEY_LABELS if scores["labels"][label]["support"]]
    urgent_as_normal = sum(
        1 for r, x in zip(records, results, strict=True)
        if policy.triage(set(r.get("labels", []))).priority == "urgent" and x.priority == "normal")
    return gold, pred, {
        "macro_f1": scores["macro"]["f1"], "macro_f1_ci": scores["macro"]["f1_ci"],
        "min_key_recall": min(s["recall"] for s in key),
        "min_key_precision": min(s["precision"] for s in key),
        "urgent_as_normal": urgent_as_normal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="model name or folder (rules + model)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from signaal.models.metrics import paired_bootstrap
    from signaal.models.registry import load_model
    from signaal.signals.io import LineError, read_jsonl
    from signaal.signals.pipeline import Analyzer

    rules = Analyzer.load(model="rules")
    model = load_model(args.model)
    fused = Analyzer(nlp=rules.nlp, policy=rules.policy, model=model, redactor=rules.redactor,
                     pipeline_info=rules.pipeline_info)
    print(f"rules alone vs rules + {model.name}; key labels: {', '.join(KEY_LABELS)}")
    print(f"{'set':26s} {'n':>4s}  {'rules macro-F1':>22s}  {'+ model macro-F1':>22s}  "
          f"{'diff (p)':>14s}  {'F2 diff (p)':>14s}  {'key R min':>10s}  {'key P min':>10s}  {'urgent->normal':>15s}")
    out = {}
    for name, folder in SETS.items():
        for kind in ("messages", "conversations"):
            path = folder / f"{kind}.jsonl"
            if not path.is_file():
                continue
            records = [r for _, r in read_jsonl(path) if not isinstance(r, LineError)]
            gold, pred_rules, a = figures(rules, records, rules.policy)
            _, pred_fused, b = figures(fused, records, rules.policy)
            diff = paired_bootstrap(gold, pred_rules, pred_fused)
            key = f"{name} {kind}"
            out[key] = {"n": len(records), "rules": a, "fused": b,
                        "difference": diff["macro_f1"], "difference_f2": diff["macro_f2"]}

            def f1(x):
                lo, hi = x["macro_f1_ci"]
                return f"{x['macro_f1']:.3f} [{lo:.2f}-{hi:.2f}]"

            print(f"{key:26s} {len(records):4d}  {f1(a):>22s}  {f1(b):>22s}  "
                  f"{diff['macro_f1']['diff']:+.3f} ({diff['macro_f1']['p']:.3f})  "
                  f"{diff['macro_f2']['diff']:+.3f} ({diff['macro_f2']['p']:.3f})  "
                  f"{a['min_key_recall']:.2f}/{b['min_key_recall']:.2f}  "
                  f"{a['min_key_precision']:.2f}/{b['min_key_precision']:.2f}  "
                  f"{a['urgent_as_normal']:>6d}/{b['urgent_as_normal']:<6d}")
    print("(key R/P min and urgent->normal: rules alone / rules + model)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
