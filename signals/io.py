"""JSON Lines input that never crashes and never loses a line: every line yields either
a record or an error that names the file and line (never the line's content)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_LINE_BYTES = 1_000_000


@dataclass(frozen=True)
class LineError:
    path: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def jsonl_files(paths: list[Path]) -> list[Path]:
    """The labelled files named on a command line: a file as given, a folder as its
    *.jsonl files in name order (a data set is a folder: messages + conversations).
    Raises FileNotFoundError naming the first path that is neither."""
    files: list[Path] = []
    for path in paths:
        found = sorted(path.glob("*.jsonl")) if path.is_dir() else [path] if path.is_file() else []
        if not found:
            raise FileNotFoundError(f"no such file, or no *.jsonl in the folder: {path}")
        files.extend(found)
    return files


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
            except RecursionError:
                yield number, LineError(str(path), number, "JSON nested too deeply")
                continue
            except ValueError:  # e.g. an integer with more digits than Python converts
                yield number, LineError(str(path), number, "JSON value out of range")
                continue
            problem = record_problem(record)
            if problem:
                yield number, LineError(str(path), number, problem)
            else:
                yield number, _clean_record(record)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Replace lone surrogates (invalid Unicode, e.g. from a broken client or a non-UTF-8
    command line) by U+FFFD: same length, so offsets stay valid, and safe to encode."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _clean_record(record: dict) -> dict:
    if "messages" in record:
        for message in record["messages"]:
            message["text"] = clean_text(message["text"])
    else:
        record["text"] = clean_text(record["text"])
    return record


def record_problem(record: object) -> str | None:
    """What is wrong with a message/conversation object, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    rid = record.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (str, int))):
        return "'id' is not a string or whole number"
    if isinstance(rid, str) and _SURROGATE.search(rid):
        return "'id' is not valid Unicode"
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


@contextmanager
def output_file(path: Path, input_path: Path | None = None) -> Iterator[IO[str]]:
    """Write `path` atomically: into a temporary file beside it, renamed at the end, so a
    failed run never leaves half a file and never destroys the input it reads."""
    path = Path(path)
    if input_path is not None and path.exists() and path.resolve() == Path(input_path).resolve():
        raise ValueError(f"{path} is also the input; write the output to another file")
    if not path.parent.is_dir():
        raise ValueError(f"no such folder: {path.parent}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
