"""The label set: ids, Dutch display names and definitions, read from data/labels.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    definition: str


@cache
def _load() -> tuple[str, tuple[Label, ...]]:
    data = tomllib.loads((DATA_DIR / "labels.toml").read_text(encoding="utf-8"))
    return data["version"], tuple(Label(**entry) for entry in data["label"])


def label_set_version() -> str:
    return _load()[0]


def all_labels() -> tuple[Label, ...]:
    return _load()[1]


LABEL_IDS: tuple[str, ...] = tuple(label.id for label in all_labels())


def display_name(label_id: str) -> str:
    for label in all_labels():
        if label.id == label_id:
            return label.name
    raise KeyError(label_id)


def validate_labels(labels: list[str]) -> list[str]:
    """Return the unknown label ids in ``labels`` (empty when all are known)."""
    return [label for label in labels if label not in LABEL_IDS]
