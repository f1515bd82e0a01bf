"""SIGKILL the real service in the middle of a load run and restart it on the same data dir:
every acknowledged message and verdict is in the audit trail and the conversation state is
intact (state and audit row are written in one transaction before the answer)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

PLATFORM = "platform-token-crash-0123456789"
COUNSELOR = "counselor-token-crash-0123456789"
P = {"Authorization": f"Bearer {PLATFORM}"}
C = {"Authorization": f"Bearer {COUNSELOR}"}
TEXTS = ["hoi", "ik ben 14 en mijn moeder regelt mannen voor mij",
         "hij zegt dat hij mijn foto's verspreidt als ik niet betaal", "ik moet drugs verkopen voor hem"]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp: Path, port: int, log_name: str) -> subprocess.Popen:
    log = (tmp / log_name).open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "signaal.cli", "serve", "--port", str(port),
         "--tokens", str(tmp / "tokens"), "--key-file", str(tmp / "key"),
         "--data-dir", str(tmp / "data"), "--model", "rules"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError((tmp / log_name).read_text()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("service did not start")


def test_sigkill_loses_no_acknowledged_message_or_verdict(tmp_path):
    (tmp_path / "tokens").write_text(f"platform {PLATFORM}\ncounselor {COUNSELOR}\n")
    (tmp_path / "key").write_text("ab" * 32)
    port = free_port()
    proc = start(tmp_path, port, "first.log")
    url = f"http://127.0.0.1:{port}"
    acked: dict[str, list[int]] = {}  # platform id -> acknowledged message indexes
    pseudonyms: dict[str, str] = {}
    verdicts: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(n: int) -> None:
        with httpx.Client(base_url=url, timeout=5) as http:
            i = 0
            while not stop.is_set():
                cid = f"crash-{n}-{i % 3}"
                try:
                    r = http.post(f"/v1/conversations/{cid}/messages",
                                  json={"role": "client", "text": TEXTS[i % len(TEXTS)]}, headers=P)
                    if r.status_code == 200:
                        with lock:
                            acked.setdefault(cid, []).append(r.json()["message_index"])
                            pseudonyms[cid] = r.json()["conversation"]
                    if i % 4 == 3:
                        r = http.post(f"/v1/conversations/{cid}/feedback",
                                      json={"label": "minor", "verdict": "confirm"}, headers=C)
                        if r.status_code == 200:
                            with lock:
                                verdicts.append(r.json()["feedback_id"])
                except httpx.HTTPError:
                    return  # the service is gone
                i += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while sum(map(len, acked.values())) < 150 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-run: requests are in flight
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert sum(map(len, acked.values())) >= 150 and verdicts

    port = free_port()
    proc = start(tmp_path, port, "second.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            states = {cid: http.get(f"/v1/conversations/{cid}", headers=C).json() for cid in acked}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)

    db = sqlite3.connect(tmp_path / "data" / "signaal.db")
    audit: dict[str, list[tuple]] = {}
    for pseudonym, index, labels in db.execute(
            "SELECT pseudonym, message_index, labels FROM audit WHERE kind='message' ORDER BY id"):
        audit.setdefault(pseudonym, []).append((index, labels))
    feedback_ids = {row[0] for row in db.execute("SELECT id FROM feedback")}
    db.close()

    for cid, indexes in acked.items():
        rows = audit[pseudonyms[cid]]
        stored = [index for index, _ in rows]
        assert set(indexes) <= set(stored), f"acknowledged messages lost in {cid}"
        assert stored == list(range(len(stored))), "audit trail out of order or with gaps"
        state = states[cid]
        assert state["messages"] == len(stored), "state and audit trail disagree"
        assert state["labels"] == json.loads(rows[-1][1])
    assert set(verdicts) <= feedback_ids, "acknowledged verdicts lost"

    logs = (tmp_path / "first.log").read_text() + (tmp_path / "second.log").read_text()
    assert "signaal.service.access" in logs
    assert "crash-" not in logs and "moeder" not in logs and PLATFORM not in logs
