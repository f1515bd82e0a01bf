"""Evaluation: per-label precision/recall/F1, micro and macro averages, and the triage
confusion matrix (gold priority derived from gold labels with the same policy)."""

from __future__ import annotations

from dataclasses import dataclass

from signaal.signals.labels import LABEL_IDS
from signaal.signals.policy import PRIORITIES, Policy


@dataclass
class LabelScore:
    label: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn


def label_scores(gold: list[set[str]], predicted: list[set[str]]) -> list[LabelScore]:
    scores = []
    for label in LABEL_IDS:
        tp = sum(label in g and label in p for g, p in zip(gold, predicted))
        fp = sum(label not in g and label in p for g, p in zip(gold, predicted))
        fn = sum(label in g and label not in p for g, p in zip(gold, predicted))
        scores.append(LabelScore(label, tp, fp, fn))
    return scores


def evaluate(gold: list[set[str]], predicted: list[set[str]], policy: Policy,
             predicted_priorities: list[str] | None = None) -> dict:
    """All figures as one JSON-ready dict."""
    per_label = label_scores(gold, predicted)
    with_support = [s for s in per_label if s.support]
    tp = sum(s.tp for s in per_label)
    fp = sum(s.fp for s in per_label)
    fn = sum(s.fn for s in per_label)
    micro_p = tp / (tp + fp) if tp + fp else 0.0
    micro_r = tp / (tp + fn) if tp + fn else 0.0
    micro_f1 = 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0
    gold_prio = [policy.triage(g).priority for g in gold]
    pred_prio = predicted_priorities or [policy.triage(p).priority for p in predicted]
    matrix = {g: {p: 0 for p in PRIORITIES} for g in PRIORITIES}
    for g, p in zip(gold_prio, pred_prio):
        matrix[g][p] += 1
    return {
        "n": len(gold),
        "labels": {s.label: {"precision": s.precision, "recall": s.recall, "f1": s.f1,
                             "support": s.support, "tp": s.tp, "fp": s.fp, "fn": s.fn}
                   for s in per_label},
        "micro": {"precision": micro_p, "recall": micro_r, "f1": micro_f1},
        "macro": {
            "precision": sum(s.precision for s in with_support) / max(len(with_support), 1),
            "recall": sum(s.recall for s in with_support) / max(len(with_support), 1),
            "f1": sum(s.f1 for s in with_support) / max(len(with_support), 1),
        },
        "triage": {"matrix": matrix,
                   "accuracy": sum(g == p for g, p in zip(gold_prio, pred_prio)) / max(len(gold), 1),
                   "urgent_as_normal": matrix["urgent"]["normal"]},
        "policy": policy.version,
    }
