"""Latency of `analyze` per message on one core, next to the bare spaCy pipeline (the
tokenizer in fallback mode: the floor). Prints medians, p99, msgs/s and the ratio.

    python benchmarks/bench_analyze.py [--repeats 5] [--model rules|default]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev" / "messages.jsonl"
SAMPLE = ["hoi ik wil iets vragen", "ik ben 14 en mijn stiefvader laat mannen bij mij komen, hij pakt het geld",
          "mn ex dreigt mn fotos te delen als ik nie betaal", "hoe laat zijn jullie open?"]


def timings(fn, texts, repeats):
    per_message = []
    for _ in range(repeats):
        for text in texts:
            start = time.perf_counter()
            fn(text)
            per_message.append(time.perf_counter() - start)
    return per_message


def summary(values):
    values = sorted(values)
    return statistics.median(values) * 1000, values[int(len(values) * 0.99) - 1] * 1000, len(values) / sum(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="rules")
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in DEV.open()] if DEV.exists() else SAMPLE * 50
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from signaal.cli import _load_model
        from signaal.signals.pipeline import Analyzer

        analyzer = Analyzer(model=_load_model(args.model))
    for text in texts[:20]:  # warm caches
        analyzer.analyze(text)
    bare = analyzer.nlp.make_doc
    rows = {"bare spaCy (tokenizer)": summary(timings(bare, texts, args.repeats)),
            f"signaal analyze ({args.model})": summary(timings(analyzer.analyze, texts, args.repeats))}
    print(f"{len(texts)} messages x {args.repeats} repeats, one core, pipeline {analyzer.pipeline_info.name}")
    print(f"{'':34s} {'p50 ms':>8s} {'p99 ms':>8s} {'msgs/s':>9s}")
    for name, (p50, p99, rate) in rows.items():
        print(f"{name:34s} {p50:8.3f} {p99:8.3f} {rate:9.0f}")
    (b50, _, _), (a50, _, _) = rows.values()
    print(f"ratio analyze / bare spaCy (p50): {a50 / b50:.1f}x")


if __name__ == "__main__":
    main()
