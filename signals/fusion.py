"""Fusion of the rule layer and the learned model into flags.

A label is flagged when a rule fired (after qualifiers) or the model's probability
reaches its per-label threshold. The score is the larger of the two; `raised_by` says
which layer(s) raised the flag, so counselors and auditors can see the source.
"""

from __future__ import annotations

from typing import Any


def fuse(rule_scores: dict[str, float], model_scores: dict[str, float],
         model: Any = None) -> dict[str, tuple[float, str]]:
    thresholds = getattr(model, "thresholds", {}) if model is not None else {}
    out: dict[str, tuple[float, str]] = {}
    for label in set(rule_scores) | set(model_scores):
        rule = rule_scores.get(label)
        prob = model_scores.get(label)
        by_model = prob is not None and prob >= thresholds.get(label, 0.5)
        if rule is not None and by_model:
            out[label] = (max(rule, prob), "both")
        elif rule is not None:
            out[label] = (rule, "rules")
        elif by_model:
            out[label] = (prob, "model")
    if "under_16" in out and "minor" not in out:  # under_16 always comes with minor
        out["minor"] = (out["under_16"][0], out["under_16"][1])
    return out
