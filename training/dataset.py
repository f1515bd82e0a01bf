"""Load trainers' own annotated data (JSON Lines in the formats of ../shared/LABELS.md).

    records, report = load_jsonl_dataset(path)

Every line is checked; all problems are collected and raised together as one DatasetError
that names the file, the line and the problem. Privacy: trainer data may hold real words,
so no message here ever quotes a line's text or id, only file, line number, field names
and known label ids. Duplicates (same normalised text) and label conflicts (same text,
different labels) are not errors; they are counted in the report by line number.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from signaal.signals.labels import LABEL_IDS

MAX_LISTED_PROBLEMS = 20
ROLES = ("client", "counselor")
_LABEL_ID_SHAPE = re.compile(r"[a-z][a-z0-9_]{0,39}")  # safe to echo: looks like an id, not text


class DatasetError(ValueError):
    """Schema problems of a dataset file; ``problems`` lists (line, problem) for all of them."""

    def __init__(self, path: str, problems: list[tuple[int, str]]):
        self.path = path
        self.problems = problems
        shown = [f"{path}:{line}: {problem}" if line else f"{path}: {problem}"
                 for line, problem in problems[:MAX_LISTED_PROBLEMS]]
        more = len(problems) - len(shown)
        tail = [f"... and {more} more problem(s)"] if more > 0 else []
        super().__init__("\n".join([f"{path}: {len(problems)} problem(s) in the dataset", *shown, *tail]))


@dataclass
class DatasetReport:
    """Counts and line numbers only; never text or ids."""

    path: str
    n_records: int = 0
    n_messages: int = 0
    n_conversations: int = 0
    n_unlabelled: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)
    duplicates: list[list[int]] = field(default_factory=list)  # line numbers of identical texts
    conflicts: list[dict] = field(default_factory=list)  # {"lines": [...], "label_sets": [[...], ...]}

    @property
    def n_duplicate_lines(self) -> int:
        """Lines that repeat an earlier line's text (the first occurrence is not counted)."""
        return sum(len(group) - 1 for group in self.duplicates)

    def summary(self) -> str:
        lines = [f"{self.path}: {self.n_records} records ({self.n_messages} messages, "
                 f"{self.n_conversations} conversations, {self.n_unlabelled} without labels)"]
        if self.duplicates:
            lines.append(f"duplicates: {self.n_duplicate_lines} line(s) repeat another line's text "
                         f"({len(self.duplicates)} group(s)), e.g. lines {self.duplicates[0]}")
        if self.conflicts:
            lines.append(f"label conflicts: {len(self.conflicts)} group(s) of the same text with different "
                         f"labels, e.g. lines {self.conflicts[0]['lines']}")
        return "\n".join(lines)


def normalise_text(text: str) -> str:
    """Case, Unicode form and white space do not make a text different."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def text_hash(record: dict) -> str:
    if "messages" in record:
        body = "\n".join(f"{m['role']}:{normalise_text(m['text'])}" for m in record["messages"])
    else:
        body = normalise_text(record["text"])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _label_problems(labels: object, where: str = "labels") -> list[str]:
    if not isinstance(labels, list):
        return [f"field {where} is not a list"]
    problems = []
    for i, lab in enumerate(labels):
        if not isinstance(lab, str):
            problems.append(f"{where}[{i}] is not a string")
        elif lab not in LABEL_IDS:
            shown = repr(lab) if _LABEL_ID_SHAPE.fullmatch(lab) else "(not shown: not shaped like a label id)"
            problems.append(f"{where}[{i}] is an unknown label id {shown}")
    return problems


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_record(obj: object, require_labels: bool) -> list[str]:
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    problems = []
    rid = obj.get("id")
    if rid is None:
        problems.append("missing field id")
    elif not (_nonempty_str(rid) or (isinstance(rid, int) and not isinstance(rid, bool))):
        problems.append("field id is empty or not a string")
    has_text, has_messages = "text" in obj, "messages" in obj
    if has_text and has_messages:
        problems.append("has both text (message) and messages (conversation)")
    elif not has_text and not has_messages:
        problems.append("missing field text (message) or messages (conversation)")
    elif has_text and not _nonempty_str(obj["text"]):
        problems.append("field text is empty or not a string")
    elif has_messages:
        problems.extend(_conversation_problems(obj["messages"]))
    if "labels" in obj:
        problems.extend(_label_problems(obj["labels"]))
    elif require_labels:
        problems.append("missing field labels")
    return problems


def _conversation_problems(messages: object) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return ["field messages is not a non-empty list"]
    problems = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            problems.append(f"messages[{i}] is not an object")
            continue
        if msg.get("role") not in ROLES:
            problems.append(f"messages[{i}].role is missing or not client/counselor")
        if not _nonempty_str(msg.get("text")):
            problems.append(f"messages[{i}].text is missing, empty or not a string")
        if "labels" in msg:
            problems.extend(_label_problems(msg["labels"], f"messages[{i}].labels"))
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if roles and "client" not in roles and all(r == "counselor" for r in roles):
        problems.append("conversation has only counselor messages (labels describe the client)")
    return problems


def _decode_lines(raw: bytes) -> tuple[list[tuple[int, str | None]], list[tuple[int, str]]]:
    """(line number, text or None when undecodable) per line, and decoding problems."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines, problems = [], []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        if b"\x00" in chunk:
            problems.append((number, "binary content (NUL byte), not a text line"))
            lines.append((number, None))
            continue
        try:
            lines.append((number, chunk.decode("utf-8")))
        except UnicodeDecodeError:
            problems.append((number, "not valid UTF-8"))
            lines.append((number, None))
    return lines, problems


def load_jsonl_dataset(path: str | Path, *, require_labels: bool = True) -> tuple[list[dict], DatasetReport]:
    """Validated records (messages and/or conversations) of a JSONL file and a report.

    Records keep the file's fields; ``labels`` is sorted and de-duplicated and each record
    gets ``line`` (its line number). Raises DatasetError listing every problem.
    """
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(name, [(0, f"cannot read the file ({exc.__class__.__name__})")]) from None
    lines, problems = _decode_lines(raw)
    if raw.count(b"\x00") > 0 and len(problems) > len(lines) // 2:
        raise DatasetError(name, [(0, "binary file, not JSON Lines text")])

    records: list[dict] = []
    seen_ids: dict[object, int] = {}
    for number, text in lines:
        if text is None or not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:  # position only: the message quotes no content
            problems.append((number, f"not valid JSON (column {exc.colno})"))
            continue
        except RecursionError:
            problems.append((number, "JSON nested too deeply"))
            continue
        except ValueError:  # an integer with more digits than Python converts
            problems.append((number, "JSON value out of range"))
            continue
        line_problems = _check_record(obj, require_labels)
        if not line_problems:
            key = obj["id"]
            if key in seen_ids:
                line_problems.append(f"id already used on line {seen_ids[key]}")
            else:
                seen_ids[key] = number
        if line_problems:
            problems.extend((number, p) for p in line_problems)
            continue
        record = dict(obj)
        if "labels" in record:
            record["labels"] = sorted(set(record["labels"]))
        record["line"] = number
        records.append(record)
    if not records and not problems:
        problems.append((0, "the file is empty (no JSON lines)"))
    if problems:
        raise DatasetError(name, sorted(problems, key=lambda p: p[0]))
    return records, _report(name, records)


def _report(name: str, records: list[dict]) -> DatasetReport:
    report = DatasetReport(path=name, n_records=len(records))
    counts = dict.fromkeys(LABEL_IDS, 0)
    groups: dict[str, list[dict]] = {}
    for rec in records:
        if "messages" in rec:
            report.n_conversations += 1
        else:
            report.n_messages += 1
        if "labels" not in rec:
            report.n_unlabelled += 1
        for lab in rec.get("labels", ()):
            counts[lab] += 1
        groups.setdefault(text_hash(rec), []).append(rec)
    report.label_counts = counts
    for group in groups.values():
        if len(group) < 2:
            continue
        lines = [r["line"] for r in group]
        report.duplicates.append(lines)
        label_sets = sorted({tuple(r["labels"]) for r in group if "labels" in r})
        if len(label_sets) > 1:
            report.conflicts.append({"lines": lines, "label_sets": [list(s) for s in label_sets]})
    report.duplicates.sort()
    report.conflicts.sort(key=lambda c: c["lines"])
    return report
