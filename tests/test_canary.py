"""Canary test across the product: unique planted identifiers go in through every CLI command;
afterwards no file written under the working, home and temporary directories (including the
output files the user asked for) and no captured stdout/stderr/log output may contain them.

To cover a new command, add one line to CASES. A case whose command does not exist yet is
skipped and turns on by itself once the command is registered in `signaal.cli.app`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# Invented identifiers that occur nowhere else (valid checksums so validators engage).
CANARY_PHONE = "0648271953"
CANARY_EMAIL = "zq.kanarie7781@voorbeeldmail.nl"
CANARY_IBAN = "NL54RABO0310737710"
CANARY_BSN = "279468131"
CANARY_NAME = "Xandriel"
CANARY_SURNAME = "Voskuijlen"
CANARY_HANDLE = "xandr1el_k7"
CANARIES = [CANARY_PHONE, CANARY_EMAIL, CANARY_IBAN, CANARY_BSN, CANARY_NAME, CANARY_SURNAME,
            CANARY_HANDLE]

MESSAGES = [
    {"id": "k1", "labels": ["loverboy", "minor", "under_16"],
     "text": f"ik heet {CANARY_NAME} {CANARY_SURNAME}, ik ben 14 en mijn vriend wil dat ik met "
             f"mannen meega voor geld. bel me op {CANARY_PHONE}"},
    {"id": "k2", "labels": ["forced_crime"],
     "text": f"hij gebruikt mijn rekening {CANARY_IBAN} en mn bsn {CANARY_BSN} om geld door te "
             f"sluizen, ik moet het wel doen"},
    {"id": "k3", "labels": ["sextortion"],
     "text": f"zn snap is {CANARY_HANDLE} en hij dreigt mijn fotos te delen als ik niet betaal, "
             f"mail: {CANARY_EMAIL}"},
]
CONVERSATIONS = [
    {"id": "kc1", "labels": ["parent_exploiter", "minor"], "messages": [
        {"role": "client", "text": f"ik ben {CANARY_NAME}, 15 jaar"},
        {"role": "counselor", "text": "fijn dat je er bent. wie regelt het?"},
        {"role": "client", "text": f"mijn moeder regelt mannen voor mij. app {CANARY_PHONE}"},
    ]},
]
ONE_TEXT = MESSAGES[0]["text"]


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]  # {text} {messages} {conversations} {out} are filled in


CASES = [
    Case("redact-text", ["redact", "{text}"]),
    Case("redact-file", ["redact", "--input", "{messages}", "--output", "{out}"]),
    Case("redact-conversations", ["redact", "--input", "{conversations}", "--output", "{out}"]),
    Case("redact-stdout", ["redact", "--input", "{messages}"]),
    Case("analyze-text", ["analyze", "{text}"]),
    Case("analyze-text-json", ["analyze", "{text}", "--format", "json"]),
    Case("analyze-file", ["analyze", "--input", "{messages}", "--output", "{out}"]),
    Case("analyze-conversations", ["analyze", "--input", "{conversations}", "--output", "{out}"]),
    Case("analyze-table", ["analyze", "--input", "{messages}", "--format", "table"]),
    Case("evaluate", ["evaluate", "--data", "{messages}", "--json", "{out}"]),
    Case("evaluate-conversations", ["evaluate", "--data", "{conversations}"]),
    Case("train", ["train", "--data", "{messages}", "--out", "{outdir}", "--messages", "200",
                   "--conversations", "20", "--eval", "{messages}"]),
    Case("doctor", ["doctor"]),
]


def _commands() -> set[str]:
    from signaal.cli import app

    return {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}


def _scan(root: Path, since: float | None = None) -> list[str]:
    """Files under root holding a canary: 'path: canary'."""
    hits = []
    for dirpath, _dirs, files in os.walk(root, onerror=lambda e: None):
        for f in files:
            path = Path(dirpath) / f
            try:
                st = path.stat()
                if since is not None and st.st_mtime < since:
                    continue
                if st.st_size > 50_000_000:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            for c in CANARIES:
                if c.encode() in data or c.encode("utf-16-le") in data:
                    hits.append(f"{path}: {c}")
    return hits


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_planted_identifier_survives(case: Case, tmp_path: Path):
    command = case.argv[0]
    if command not in _commands():
        pytest.skip(f"command '{command}' does not exist yet")
    inputs = tmp_path / "inputs"  # the user's own data: not scanned
    work, home, tmp = tmp_path / "work", tmp_path / "home", tmp_path / "tmp"
    for d in (inputs, work, home, tmp):
        d.mkdir()
    messages = inputs / "messages.jsonl"
    conversations = inputs / "conversations.jsonl"
    messages.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in MESSAGES),
                        encoding="utf-8")
    conversations.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CONVERSATIONS), encoding="utf-8")
    out = work / "output.jsonl"
    fill = {"{text}": ONE_TEXT, "{messages}": str(messages), "{outdir}": str(work / "model"),
            "{conversations}": str(conversations), "{out}": str(out)}
    argv = [fill.get(a, a) for a in case.argv]

    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAAL_")}
    env.update(HOME=str(home), TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp),
               XDG_CACHE_HOME=str(home / ".cache"), PYTHONDONTWRITEBYTECODE="1",
               COLUMNS="200", SIGNAAL_LOG_LEVEL="DEBUG")
    started = time.time() - 1
    proc = subprocess.run(
        [sys.executable, "-c", "import logging,sys; logging.basicConfig(level=logging.DEBUG);"
         "from signaal.cli import app; sys.argv=['signaal']+sys.argv[1:]; app()", *argv],
        cwd=work, env=env, capture_output=True, timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode("utf-8", "replace")[-2000:]

    if "--output" in case.argv or "--json" in case.argv:
        assert out.is_file() and out.stat().st_size > 0, "the requested output was not written"
    leaks = [f"stdout: {c}" for c in CANARIES if c.encode() in proc.stdout]
    leaks += [f"stderr/log: {c}" for c in CANARIES if c.encode() in proc.stderr]
    for root in (work, home, tmp):
        leaks += _scan(root)
    # files the run may have put in the machine's shared temp dir despite TMPDIR
    leaks += _scan(Path(tempfile.gettempdir()), since=started) if not str(tmp_path).startswith(
        tempfile.gettempdir()) else []
    assert not leaks, "planted identifiers found:\n" + "\n".join(leaks)


def test_scanner_finds_planted_identifiers(tmp_path: Path):
    """The scan itself works (no fake passes): plain and UTF-16 files are caught."""
    (tmp_path / "a.log").write_text(f"x {CANARY_PHONE} y")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(CANARY_NAME.encode("utf-16-le"))
    hits = _scan(tmp_path)
    assert any(CANARY_PHONE in h for h in hits) and any(CANARY_NAME in h for h in hits)
