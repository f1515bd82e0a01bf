"""Signaal's redactor and the `deduce` package side by side on the same PII messages.

Prints, for each: leak rate (identifiers whose exact text survives), over-redaction (messages
without identifiers that changed; characters masked outside gold identifier spans) and
messages/second (median of several timed repeats, one process, one core).

    python benchmarks/bench_redact.py [--data ../shared/eval/dev/pii.jsonl] [--repeats 5]

Only figures are printed, never message text.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev" / "pii.jsonl"


def gold_char_mask(text: str, pii: list[dict]) -> list[bool]:
    mask = [False] * len(text)
    for p in pii:
        start = 0
        while (i := text.find(p["text"], start)) >= 0:
            for k in range(i, i + len(p["text"])):
                mask[k] = True
            start = i + 1
    return mask


def masked_outside_gold(text: str, out: str, pii: list[dict]) -> int:
    """Characters of the original outside gold spans that do not survive in the output.

    Aligns original and output with difflib (works for any redactor's placeholders)."""
    import difflib

    gold = gold_char_mask(text, pii)
    sm = difflib.SequenceMatcher(None, text, out, autojunk=False)
    kept = [False] * len(text)
    for a, _b, size in sm.get_matching_blocks():
        for k in range(a, a + size):
            kept[k] = True
    return sum(1 for k in range(len(text)) if not kept[k] and not gold[k] and not text[k].isspace())


def evaluate(name: str, redact: Callable[[str], str], rows: list[dict], repeats: int) -> dict:
    outs = [redact(r["text"]) for r in rows]  # warm-up and outputs
    total = leaked = clean = clean_changed = outside = 0
    by_type: dict[str, list[int]] = {}
    for r, out in zip(rows, outs, strict=True):
        for p in r["pii"]:
            total += 1
            leak = p["text"] in out
            leaked += leak
            by_type.setdefault(p["type"], [0, 0])
            by_type[p["type"]][0] += leak
            by_type[p["type"]][1] += 1
        if not r["pii"]:
            clean += 1
            clean_changed += out != r["text"]
        outside += masked_outside_gold(r["text"], out, r["pii"])
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for r in rows:
            redact(r["text"])
        rates.append(len(rows) / (time.perf_counter() - t0))
    return {"name": name, "identifiers": total, "leaked": leaked,
            "leak_rate": leaked / max(total, 1), "clean_messages": clean,
            "clean_changed": clean_changed, "chars_masked_outside_gold": outside,
            "msgs_per_s": statistics.median(rates), "leaks_by_type": by_type}


def signaal_redactor() -> Callable[[str], str]:
    from signaal.signals.redact import get_redactor

    r = get_redactor()
    return lambda text: r.redact(text).text


def deduce_redactor() -> Callable[[str], str]:
    from deduce import Deduce

    d = Deduce()
    return lambda text: d.deidentify(text).deidentified_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-deduce", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore")
    rows = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()]
    systems = [("signaal", signaal_redactor)]
    if not args.skip_deduce:
        systems.append(("deduce", deduce_redactor))
    results = []
    for name, factory in systems:
        t0 = time.perf_counter()
        fn = factory()
        load = time.perf_counter() - t0
        res = evaluate(name, fn, rows, args.repeats)
        res["load_s"] = load
        results.append(res)
    print(f"data: {args.data.name}, {len(rows)} messages, repeats {args.repeats} (median)")
    header = f"{'system':<9} {'leaked':>9} {'leak %':>7} {'clean chg':>10} {'chars out':>10} " \
             f"{'msgs/s':>9} {'load s':>7}"
    print(header)
    for r in results:
        print(f"{r['name']:<9} {r['leaked']:>4}/{r['identifiers']:<4} {r['leak_rate']:>7.1%} "
              f"{r['clean_changed']:>4}/{r['clean_messages']:<5} "
              f"{r['chars_masked_outside_gold']:>10} {r['msgs_per_s']:>9.0f} {r['load_s']:>7.1f}")
    for r in results:
        worst = {t: f"{a}/{b}" for t, (a, b) in sorted(r["leaks_by_type"].items()) if a}
        print(f"{r['name']} leaks by type: {worst or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
