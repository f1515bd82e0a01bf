"""Triage: turn a set of flagged labels into a suggested priority, from a policy file.

The policy is data (TOML) so that an organisation can change it and an auditor can read
it; this module only applies it.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from signaal.signals.labels import LABEL_IDS, display_name

DEFAULT_POLICY_PATH = Path(__file__).parent / "data" / "policy.toml"
PRIORITIES = ("urgent", "high", "normal")


class PolicyError(ValueError):
    """The policy file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class PolicyRule:
    id: str
    priority: str
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()

    def matched_labels(self, labels: set[str]) -> tuple[str, ...] | None:
        """The labels that make this rule hold, or None when it does not hold."""
        if not set(self.all) <= labels:
            return None
        hits_any = tuple(label for label in self.any if label in labels)
        if self.any and not hits_any:
            return None
        return self.all + hits_any


@dataclass(frozen=True)
class Triage:
    priority: str
    reason: str
    rule: str | None


@dataclass(frozen=True)
class Policy:
    version: str
    default: str
    rules: tuple[PolicyRule, ...]
    sha256: str
    path: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        path = Path(path) if path else DEFAULT_POLICY_PATH
        try:
            raw = path.read_bytes()
            data = tomllib.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"cannot read policy {path}: {exc}") from exc
        rules = []
        for i, entry in enumerate(data.get("rule", [])):
            rule = PolicyRule(
                id=str(entry.get("id", f"rule{i}")),
                priority=entry.get("priority", ""),
                all=tuple(entry.get("all", ())),
                any=tuple(entry.get("any", ())),
            )
            if rule.priority not in PRIORITIES:
                raise PolicyError(f"{path}: rule {rule.id} has unknown priority {rule.priority!r}")
            unknown = [x for x in rule.all + rule.any if x not in LABEL_IDS]
            if unknown:
                raise PolicyError(f"{path}: rule {rule.id} names unknown labels {unknown}")
            if not rule.all and not rule.any:
                raise PolicyError(f"{path}: rule {rule.id} has no conditions")
            rules.append(rule)
        default = data.get("default", "normal")
        if default not in PRIORITIES:
            raise PolicyError(f"{path}: unknown default priority {default!r}")
        return cls(
            version=str(data.get("version", "unversioned")),
            default=default,
            rules=tuple(rules),
            sha256=hashlib.sha256(raw).hexdigest(),
            path=str(path),
        )

    def triage(self, labels: set[str] | list[str]) -> Triage:
        labels = set(labels)
        for rule in self.rules:
            matched = rule.matched_labels(labels)
            if matched is not None:
                names = " + ".join(display_name(label).lower() for label in matched)
                return Triage(rule.priority, f"{rule.priority}: {names}", rule.id)
        return Triage(self.default, f"{self.default}: geen uitbuitingssignalen", None)
