"""Figures for model cards, `evaluate` and `compare`: per-label P/R/F1 with bootstrap 95%
intervals, paired bootstrap and McNemar tests, precision-recall curves.

All functions take 0/1 matrices (n items x n labels) in LABEL_IDS order; none sees text.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np

from signaal.signals.labels import LABEL_IDS

N_BOOT = 1000


def to_matrix(
    label_sets: Sequence[set[str] | list[str]], labels: Sequence[str] = LABEL_IDS
) -> np.ndarray:
    m = np.zeros((len(label_sets), len(labels)), dtype=np.int8)
    index = {label: j for j, label in enumerate(labels)}
    for i, s in enumerate(label_sets):
        for label in s:
            if label in index:
                m[i, index[label]] = 1
    return m


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, beta: float = 1.0):
    """Precision, recall and F-beta (F1 by default; F2 weighs recall twice)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        r = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f = np.where(p + r > 0, (1 + beta**2) * p * r / (beta**2 * p + r), 0.0)
    return p, r, f


def _weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap resamples as multinomial counts (n_boot x n): cheap matrix products."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def scores_with_intervals(
    gold: np.ndarray,
    pred: np.ndarray,
    labels: Sequence[str] = LABEL_IDS,
    n_boot: int = N_BOOT,
    seed: int = 13,
) -> dict:
    """Per-label and macro/micro P/R/F1 with percentile bootstrap 95% intervals.
    Macro averages are over labels with gold support (as signals.evaluate)."""
    gold = np.asarray(gold, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    n = len(gold)
    tp_i, fp_i, fn_i = (gold & pred), (~gold & pred), (gold & ~pred)
    support = gold.sum(axis=0)

    def stats(tp, fp, fn):
        p, r, f = _prf(tp, fp, fn)
        # macro over labels with gold support in this (re)sample, as signals.evaluate does
        has = (tp + fn) > 0
        count = np.maximum(has.sum(axis=-1), 1)
        mp, mr, mf = ((x * has).sum(axis=-1) / count for x in (p, r, f))
        stp, sfp, sfn = tp.sum(-1), fp.sum(-1), fn.sum(-1)
        up, ur, uf = _prf(stp, sfp, sfn)
        return p, r, f, mp, mr, mf, up, ur, uf

    point = stats(tp_i.sum(0).astype(float), fp_i.sum(0).astype(float), fn_i.sum(0).astype(float))
    out: dict = {"n": int(n), "n_boot": n_boot, "labels": {}, "macro": {}, "micro": {}}
    boot = None
    if n > 1 and n_boot:
        chunks, denominators = [], []
        for start in range(0, n_boot, 200):
            w = _weights(n, min(200, n_boot - start), seed + start)
            tp, fp, fn = w @ tp_i, w @ fp_i, w @ fn_i
            chunks.append(stats(tp, fp, fn))
            denominators.append((tp + fp > 0, tp + fn > 0, (tp + fp > 0) | (tp + fn > 0)))
        boot = [np.concatenate([c[k] for c in chunks]) for k in range(9)]
        defined = [np.concatenate([d[k] for d in denominators]) for k in range(3)]

    def ci(k, j=None):
        if boot is None:
            return None
        if j is None:
            x = boot[k]
        else:  # resamples where the figure is defined (a rare label may be absent from one)
            x = boot[k][:, j][defined[k][:, j]]
            if not len(x):
                return None
        return [float(np.percentile(x, 2.5)), float(np.percentile(x, 97.5))]

    for j, label in enumerate(labels):
        out["labels"][label] = {
            "precision": float(point[0][j]),
            "recall": float(point[1][j]),
            "f1": float(point[2][j]),
            "precision_ci": ci(0, j),
            "recall_ci": ci(1, j),
            "f1_ci": ci(2, j),
            "support": int(support[j]),
            "predicted": int(pred[:, j].sum()),
            "tp": int(tp_i[:, j].sum()),
            "fp": int(fp_i[:, j].sum()),
            "fn": int(fn_i[:, j].sum()),
        }
    for name, (kp, kr, kf) in (("macro", (3, 4, 5)), ("micro", (6, 7, 8))):
        out[name] = {
            "precision": float(point[kp]),
            "recall": float(point[kr]),
            "f1": float(point[kf]),
            "precision_ci": ci(kp),
            "recall_ci": ci(kr),
            "f1_ci": ci(kf),
        }
    return out


def paired_bootstrap(
    gold: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n_boot: int = N_BOOT, seed: int = 13
) -> dict:
    """Macro-F1, macro-F2 and per-label F1 differences (b - a) with 95% intervals and a
    two-sided bootstrap p-value (share of resamples on the other side of zero, doubled);
    the macro figures also carry both sides' values ("a", "b").

    Macro-F2 is the recall-weighted objective the model's thresholds are chosen for: a
    model that trades a little precision for recall can be better on it and not on F1."""
    gold = np.asarray(gold, dtype=bool)
    a = np.asarray(pred_a, dtype=bool)
    b = np.asarray(pred_b, dtype=bool)
    n = len(gold)
    present = gold.sum(0) > 0

    def fbeta(w, pred, beta):
        tp = w @ (gold & pred)
        fp = w @ (~gold & pred)
        fn = w @ (gold & ~pred)
        return _prf(tp, fp, fn, beta)[2]

    def macro(x):
        return x[:, present].mean(axis=1) if present.any() else np.zeros(len(x))

    diffs: dict[int, list] = {1: [], 2: []}
    for start in range(0, n_boot, 200):
        w = _weights(n, min(200, n_boot - start), seed + start)
        for beta, chunks in diffs.items():
            chunks.append(fbeta(w, b, beta) - fbeta(w, a, beta))
    d = {beta: np.concatenate(chunks) for beta, chunks in diffs.items()}
    one = np.ones((1, n))
    sides = {beta: (fbeta(one, a, beta)[0], fbeta(one, b, beta)[0]) for beta in d}

    def summary(x, p0):
        pval = 2 * min((x <= 0).mean(), (x >= 0).mean())
        return {
            "diff": float(p0),
            "ci": [float(np.percentile(x, 2.5)), float(np.percentile(x, 97.5))],
            "p": float(min(1.0, pval)),
        }

    def macro_summary(beta):
        a_value, b_value = (float(macro(v[None])[0]) for v in sides[beta])
        return {"a": a_value, "b": b_value, **summary(macro(d[beta]), b_value - a_value)}

    per_label = sides[1][1] - sides[1][0]
    return {
        "macro_f1": macro_summary(1),
        "macro_f2": macro_summary(2),
        "labels": {
            label: summary(d[1][:, j], per_label[j]) for j, label in enumerate(LABEL_IDS)
        },
    }


def mcnemar(gold: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """Exact McNemar test on items (all labels right vs not): b01 = only b right."""
    gold = np.asarray(gold, dtype=bool)
    right_a = (np.asarray(pred_a, dtype=bool) == gold).all(axis=1)
    right_b = (np.asarray(pred_b, dtype=bool) == gold).all(axis=1)
    only_a = int((right_a & ~right_b).sum())
    only_b = int((~right_a & right_b).sum())
    k, m = min(only_a, only_b), only_a + only_b
    p = min(1.0, 2 * sum(comb(m, i) for i in range(k + 1)) / 2**m) if m else 1.0
    return {"only_a_right": only_a, "only_b_right": only_b, "p": float(p)}


def pr_curves(gold: np.ndarray, proba: np.ndarray, labels: Sequence[str] = LABEL_IDS) -> dict:
    """Per-label precision-recall curve points and average precision (labels with support)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    curves = {}
    for j, label in enumerate(labels):
        y = np.asarray(gold)[:, j]
        if y.sum() == 0 or y.sum() == len(y):
            continue
        p, r, t = precision_recall_curve(y, proba[:, j])
        curves[label] = {
            "precision": p,
            "recall": r,
            "thresholds": t,
            "ap": float(average_precision_score(y, proba[:, j])),
        }
    return curves


def plot_pr_curves(curves: dict, out_dir, title: str, thresholds: dict | None = None) -> list:
    """One PNG per label plus an overview; returns the written paths."""
    try:
        import matplotlib
    except ImportError as exc:  # an optional extra: say how to get it
        raise RuntimeError("PR curves need matplotlib: pip install 'signaal[plots]'") from exc

    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    fig_all, ax_all = plt.subplots(figsize=(8, 6))
    for label, c in curves.items():
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(c["recall"], c["precision"], drawstyle="steps-post")
        if thresholds and label in thresholds and len(c["thresholds"]):
            k = int(np.searchsorted(c["thresholds"], thresholds[label]))
            k = min(k, len(c["thresholds"]) - 1)
            ax.plot(
                [c["recall"][k]],
                [c["precision"][k]],
                "o",
                label=f"threshold {thresholds[label]:.2f}",
            )
            ax.legend(loc="lower left")
        ax.set(
            xlabel="recall",
            ylabel="precision",
            xlim=(0, 1.02),
            ylim=(0, 1.02),
            title=f"{label} (AP {c['ap']:.2f})",
        )
        path = out_dir / f"pr_{label}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=80, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
        ax_all.plot(
            c["recall"], c["precision"], drawstyle="steps-post", label=f"{label} ({c['ap']:.2f})"
        )
    ax_all.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    ax_all.legend(fontsize=7, loc="lower left")
    path = out_dir / "pr_all.png"
    fig_all.tight_layout()
    fig_all.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig_all)
    written.append(path)
    return written
