"""JSON Lines input that never crashes and never loses a line: every line yields either
a record or an error that names the file and line (never the line's content)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_LINE_BYTES = 1_000_000


@dataclass(frozen=True)
class LineError:
    path: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict | LineError]]:
    """(line number, record or LineError) for every non-blank line."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield number, LineError(str(path), number, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            if b"\x00" in raw:
                yield number, LineError(str(path), number, "binary data (NUL byte)")
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield number, LineError(str(path), number, f"not UTF-8 (byte {exc.start})")
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, LineError(str(path), number, f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            problem = record_problem(record)
            if problem:
                yield number, LineError(str(path), number, problem)
            else:
                yield number, record


def record_problem(record: object) -> str | None:
    """What is wrong with a message/conversation object, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list):
            return "'messages' is not a list"
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("text"), str):
                return f"message {i} has no text string"
            if m.get("role") not in ("client", "counselor"):
                return f"message {i} has role other than client/counselor"
        return None
    if not isinstance(record.get("text"), str):
        return "no 'text' string and no 'messages' list"
    return None
