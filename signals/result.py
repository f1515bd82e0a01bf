"""Result objects in the format of LABELS.md (plus display names and reasons)."""

from __future__ import annotations

from dataclasses import dataclass, field

from signaal.signals.labels import LABEL_IDS, display_name


@dataclass
class Evidence:
    message: int
    start: int
    end: int
    text: str  # redacted snippet, never the raw words
    source: str  # rule id or model name
    explain: str = ""

    def to_dict(self) -> dict:
        return {"message": self.message, "start": self.start, "end": self.end,
                "text": self.text, "source": self.source}


@dataclass
class Flag:
    label: str
    score: float
    evidence: list[Evidence] = field(default_factory=list)
    raised_by: str = "rules"  # "rules", "model" or "both"

    @property
    def name(self) -> str:
        return display_name(self.label)

    def to_dict(self) -> dict:
        return {"label": self.label, "name": self.name, "score": round(self.score, 4),
                "raised_by": self.raised_by, "evidence": [e.to_dict() for e in self.evidence]}


@dataclass
class Veto:
    """A rule flag the model dropped as a look-alike (signals/fusion.py): for auditors."""

    label: str
    model_score: float
    sources: list[str]  # the rule ids that had raised it

    def to_dict(self) -> dict:
        return {"label": self.label, "model_score": round(self.model_score, 4), "sources": self.sources}


@dataclass
class Result:
    id: str | None
    flags: list[Flag]
    priority: str
    reason: str
    policy_rule: str | None = None
    vetoed: list[Veto] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        present = {f.label for f in self.flags}
        return [label for label in LABEL_IDS if label in present]

    def flag(self, label: str) -> Flag | None:
        return next((f for f in self.flags if f.label == label), None)

    def to_dict(self) -> dict:
        return {"id": self.id, "labels": self.labels, "priority": self.priority,
                "reason": self.reason, "flags": [f.to_dict() for f in self.flags],
                "vetoed": [v.to_dict() for v in self.vetoed]}
