"""Training time of the learned layer for growing corpora (one core).

    python benchmarks/bench_train.py                 # 1k, 5k, 20k, 100k messages
    python benchmarks/bench_train.py --sizes 1000 20000 --conversations 0.1

Each size: a generated corpus (seed 13), then what `signaal train` does before writing:
rule features (the rule layer on every text, the dominant cost), TF-IDF features, 3-fold
CV + final fit of 15 one-vs-rest models, calibration and thresholds. The rule-feature
cache is emptied between sizes so every size pays its own rule cost. Prints a table; the
bar is 20,000 messages in under 60 s.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the bar says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def run(n_messages: int, n_conversations: int, seed: int = 13) -> dict:
    from signaal.models import classifier
    from signaal.models.metrics import to_matrix
    from signaal.models.train import client_text, cv_groups
    from signaal.signals.labels import LABEL_IDS
    from signaal.training.generate import CorpusConfig, generate_corpus

    t0 = time.perf_counter()
    msgs, convs = generate_corpus(CorpusConfig(n_messages=n_messages,
                                               n_conversations=n_conversations, seed=seed))
    records = list(msgs) + list(convs)
    texts = [client_text(r) for r in records]
    Y = to_matrix([r["labels"] for r in records])
    t1 = time.perf_counter()
    with classifier.caching_rule_features():  # a fresh cache per size, as in `signaal train`
        classifier.rule_score_matrix(texts, LABEL_IDS)
        t2 = time.perf_counter()
        clf = classifier.SignaalClassifier(labels=LABEL_IDS, random_state=seed)
        clf.fit(texts, Y, groups=cv_groups(records))
        t3 = time.perf_counter()
    return {"messages": len(msgs), "conversations": len(convs), "generate": t1 - t0,
            "rules": t2 - t1, "fit": t3 - t2, "train": t3 - t1,
            "features": sum(len(v) for _, p in clf.features_.transformer_list
                            for v in [getattr(p, "vocabulary_", {})])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000, 100000])
    parser.add_argument("--conversations", type=float, default=0.0,
                        help="conversations as a fraction of messages (default 0)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from signaal.models.classifier import feature_analyzer

    feature_analyzer()  # build the spaCy pipeline once, outside the timings
    print(f"{'messages':>9} {'convs':>6} {'generate s':>11} {'rule feat s':>12} {'fit s':>7} "
          f"{'train s':>8} {'n-grams':>8} {'ms/msg':>7}")
    for n in args.sizes:
        r = run(n, int(n * args.conversations))
        print(f"{r['messages']:>9} {r['conversations']:>6} {r['generate']:>11.1f} {r['rules']:>12.1f} "
              f"{r['fit']:>7.1f} {r['train']:>8.1f} {r['features']:>8} "
              f"{1000 * r['train'] / max(r['messages'] + r['conversations'], 1):>7.2f}", flush=True)


if __name__ == "__main__":
    main()
