"""Fusion of the rule layer and the learned model into flags.

Per label, with ``p`` the model's calibrated probability (conversation: the last
MODEL_WINDOW client messages scored joined and by the last one; older messages count by a
running max; see models/classifier.py and signals/pipeline.py):

* model alone raises the flag when ``p >= max(model.thresholds[label], 0.5)``: with no rule
  behind it the counselor sees no matched words, only the message, so the calibrated model
  must find the label more likely than not, acute_danger included (rules raise it on
  their own). The evidence of such a flag is the (redacted) phrases of the message that weigh
  most for the label in the linear model (signals/pipeline.model_phrases). These fusion
  thresholds are chosen by the trainer on 3-fold cross-validation of the training corpus
  (grouped by template family) for F1 of the *fused* decision (rules OR model), see
  models/train.py. Where the rules already catch a label well, that search pushes the
  threshold up, so the model only adds a flag when it is confident; where rules miss,
  the threshold is lower. (The model's own F2 thresholds, ``manifest.thresholds``, are
  for the model alone, e.g. `signaal evaluate` of its probabilities.)
* a rule flag stands on its own (rules are precise and explain themselves), except
  where the manifest sets ``fusion.rule_floor[label]``: then a rule flag whose model
  probability is below that floor is dropped, the model being nearly sure the rule fired on
  a look-alike. The trainer sets floors (0.1) only for labels outside the triage policy, so
  a veto never lowers a suggested priority (models/train.py).
* score = the larger of rule score and ``p`` for flags raised by both, else the raising
  layer's score; ``raised_by`` is "rules", "model" or "both".
* under_16 always comes with minor.

Without a model this is the rule layer unchanged.
"""

from __future__ import annotations

from typing import Any

DEFAULT_THRESHOLD = 0.5
# A flag with no rule behind it needs the calibrated model to find the label more likely
# present than not: a counselor sees no matched words for it, so it must be worth a look.
MODEL_ONLY_FLOOR = 0.5


def model_threshold(model: Any, label: str, has_rule: bool) -> float:
    """The probability at which the model raises `label` (alone when `has_rule` is False)."""
    threshold = getattr(model, "thresholds", {}).get(label, DEFAULT_THRESHOLD)
    return threshold if has_rule else max(threshold, MODEL_ONLY_FLOOR)


def vetoed(model: Any, label: str, prob: float) -> bool:
    """Whether the model drops a rule flag on `label` at probability `prob`: nearly sure the
    rule fired on a look-alike (below the manifest's rule floor, and not raising it itself)."""
    floors = getattr(model, "rule_floor", {}) if model is not None else {}
    return prob < model_threshold(model, label, has_rule=True) and prob < floors.get(label, 0.0)


def vetoes(rule_scores: dict[str, float], model_scores: dict[str, float], model: Any = None) -> dict[str, float]:
    """The rule flags the model dropped, label -> its probability: not shown as flags, but
    kept for the audit trail (an auditor can see where the model overruled a rule)."""
    return {label: model_scores[label] for label in rule_scores
            if label in model_scores and vetoed(model, label, model_scores[label])}


def fuse(
    rule_scores: dict[str, float], model_scores: dict[str, float], model: Any = None
) -> dict[str, tuple[float, str]]:
    out: dict[str, tuple[float, str]] = {}
    for label in set(rule_scores) | set(model_scores):
        rule = rule_scores.get(label)
        prob = model_scores.get(label)
        by_model = prob is not None and prob >= model_threshold(model, label, rule is not None)
        if rule is not None and prob is not None and vetoed(model, label, prob):
            rule = None  # the model is confident the rule fired on a look-alike
        if rule is not None and by_model:
            out[label] = (max(rule, prob), "both")
        elif rule is not None:
            out[label] = (rule, "rules")
        elif by_model:
            out[label] = (prob, "model")
    if "under_16" in out and "minor" not in out:  # under_16 always comes with minor
        out["minor"] = (out["under_16"][0], out["under_16"][1])
    return out
