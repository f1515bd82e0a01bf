"""The store interface, run against SQLite and a real PostgreSQL server (.ci/postgres.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from signaal.service.store import Committer, PostgresStore, SQLiteStore, StoreError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / ".ci" / "postgres.sh"


@pytest.fixture(scope="session")
def postgres_dsn():
    """A throwaway PostgreSQL cluster; $SIGNAAL_TEST_PG_DSN points at an existing one instead.
    Skips only when no server binary can be installed (never in CI)."""
    if os.environ.get("SIGNAAL_TEST_PG_DSN"):
        yield os.environ["SIGNAAL_TEST_PG_DSN"]
        return
    installed = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    if installed.returncode != 0:
        reason = f"PostgreSQL server cannot be installed: {installed.stderr.strip()[-300:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    directory = tempfile.mkdtemp(prefix="signaal-pg-")
    started = subprocess.run(["bash", str(SCRIPT), "start", directory], capture_output=True,
                             text=True, timeout=120)
    if started.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {started.stderr.strip()[-500:]}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", directory], capture_output=True, timeout=60)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "signaal.db", audit_retention=100.0)
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        s = PostgresStore(dsn, audit_retention=100.0)
        with s.transaction():  # each test starts empty
            for table in ("signaal_state", "signaal_audit", "signaal_feedback"):
                s._x(f"DELETE FROM {table}")
    yield s
    s.close()


STATE = {"v": 1, "roles": "ch", "evidence": {"minor": [[0.95, 0, 0, 9, "age.i_am"]]},
         "model_scores": {}, "verdicts": {}}


def audit(pseudonym="c_1", index=0, ts=None, **extra):
    return {"ts": time.time() if ts is None else ts, "pseudonym": pseudonym, "kind": "message",
            "message_index": index, "role": "client", "model_version": None,
            "policy_version": "default-v1", "policy_sha256": "ab" * 32, "priority": "normal",
            "labels": ["minor"], "flags": [{"label": "minor", "score": 0.95, "raised_by": "rules",
                                            "sources": ["age.i_am"]}],
            "new_labels": ["minor"], **extra}


def test_state_roundtrip_and_expiry(store):
    now = time.time()
    store.save_state("c_1", STATE, now + 60)
    assert store.load_state("c_1") == STATE
    changed = {**STATE, "roles": "chc"}
    store.save_state("c_1", changed, now + 60)
    assert store.load_state("c_1") == changed
    assert store.load_state("c_1", now=now + 61) is None  # expired reads as unknown
    assert store.load_state("c_unknown") is None
    assert store.delete_state("c_1") is True
    assert store.load_state("c_1") is None
    assert store.delete_state("c_1") is False


def test_audit_and_feedback_append_and_query(store):
    first = store.append_audit(audit("c_1", 0))
    second = store.append_audit(audit("c_2", 0))
    third = store.append_audit(audit("c_1", 1))
    assert first < second < third
    rows = store.audit_records(pseudonym="c_1")
    assert [r["message_index"] for r in rows] == [0, 1]
    assert rows[0]["flags"][0]["sources"] == ["age.i_am"] and rows[0]["labels"] == ["minor"]
    assert len(store.audit_records()) == 3
    assert store.audit_records(kind="delete") == []
    fid = store.append_feedback({"ts": time.time(), "pseudonym": "c_1", "label": "minor",
                                 "verdict": "confirm", "raised_by": "rules",
                                 "sources": ["age.i_am"], "model_version": None,
                                 "policy_version": "default-v1"})
    fb = store.feedback_records("c_1")
    assert [f["id"] for f in fb] == [fid] and fb[0]["verdict"] == "confirm"
    assert fb[0]["sources"] == ["age.i_am"]


def test_audit_keeps_the_rule_flags_the_model_vetoed(store):
    vetoed = [{"label": "loverboy", "model_score": 0.04, "sources": ["loverboy.named"]}]
    store.append_audit(audit("c_v", 0, vetoed=vetoed))
    store.append_audit(audit("c_v", 1))  # a record without vetoes (rules only)
    rows = store.audit_records(pseudonym="c_v")
    assert rows[0]["vetoed"] == vetoed and rows[1]["vetoed"] is None


def test_sqlite_audit_trail_from_before_vetoes_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript("""CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, pseudonym TEXT NOT NULL,
        kind TEXT NOT NULL, message_index INTEGER, role TEXT, model_version TEXT,
        policy_version TEXT, policy_sha256 TEXT, priority TEXT, labels TEXT, flags TEXT,
        new_labels TEXT);""")
    old.execute("INSERT INTO audit(ts, pseudonym, kind, labels) VALUES (1.0, 'c_old', 'message', '[]')")
    old.commit()
    old.close()
    store = SQLiteStore(path)
    try:
        store.append_audit(audit("c_new", 0, vetoed=[]))
        rows = store.audit_records()
        assert [r["pseudonym"] for r in rows] == ["c_old", "c_new"]  # the old trail is kept
        assert rows[0]["vetoed"] is None and rows[1]["vetoed"] == []
    finally:
        store.close()


def test_audit_trail_is_append_only(store):
    store.append_audit(audit())
    with pytest.raises(Exception, match="append-only"):
        with store.transaction():
            table = "audit" if isinstance(store, SQLiteStore) else "signaal_audit"
            store._x(f"UPDATE {table} SET priority='urgent'")
    assert store.audit_records()[0]["priority"] == "normal"


def test_unknown_audit_field_is_refused(store):
    with pytest.raises(StoreError):
        store.append_audit({**audit(), "text": "never stored"})


def test_transaction_rolls_back_together(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.save_state("c_1", STATE, time.time() + 60)
            store.append_audit(audit())
            raise RuntimeError("boom")
    assert store.load_state("c_1") is None and store.audit_records() == []


def test_purge_expired(store):
    now = time.time()
    store.save_state("c_old", STATE, now - 1)
    store.save_state("c_new", STATE, now + 60)
    store.append_audit(audit("c_old", ts=now - 200))  # older than the 100 s retention
    store.append_audit(audit("c_new", ts=now))
    counts = store.purge_expired(now)
    assert counts == {"state": 1, "audit": 1, "feedback": 0}
    assert store.load_state("c_new") == STATE
    assert [r["pseudonym"] for r in store.audit_records()] == ["c_new"]


def test_committer_groups_concurrent_writes(store):
    committer = Committer(store)
    futures = []

    def worker(n):
        for i in range(25):
            futures.append(committer.submit([("save_state", (f"c_{n}", STATE, time.time() + 60)),
                                             ("append_audit", (audit(f"c_{n}", i),))]))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [f.result(timeout=30) for f in futures]
    assert len(set(ids)) == 100
    # a failing operation fails alone
    bad = committer.submit([("append_audit", ({"bogus": 1},))])
    good = committer.submit([("append_audit", (audit("c_9"),))])
    with pytest.raises(StoreError):
        bad.result(timeout=30)
    assert good.result(timeout=30) > 0
    assert committer.batches <= committer.operations
    committer._queue.put(None)  # stop the thread; the fixture closes the store
    committer._thread.join(timeout=10)
    assert len(store.audit_records()) == 101


def test_store_process_groups_writes_and_a_bad_request_fails_alone(tmp_path):
    """The service's default: the same operations, run by a process of its own."""
    import asyncio

    from signaal.service.store import StateConflict, StoreParams, StoreProcess

    params = StoreParams("sqlite", str(tmp_path), None, 100.0, "FULL")
    committer = StoreProcess(params)

    async def load():
        now = time.time()
        writes = [committer.run([("put_state", (f"c_{n}", {**STATE, "n": 1}, now + 60, 0, now)),
                                 ("append_audit", (audit(f"c_{n}"),))])
                  for n in range(40)]
        ids = await asyncio.gather(*writes)
        outcomes = await asyncio.gather(
            committer.run([("append_audit", ({"bogus": 1},))]),
            committer.run([("put_state", ("c_0", STATE, now + 60, 7, now))]),  # stale copy
            committer.run([("os.remove", ("signaal.db",))]),
            committer.run([("append_audit", (audit("c_ok"),))]),
            committer.run([("load_state", ("c_3",))]),
            return_exceptions=True)
        return ids, outcomes

    try:
        ids, (bogus, stale, not_an_op, good, loaded) = asyncio.run(load())
    finally:
        committer.close()
    assert len(set(ids)) == 40 and committer.operations == 45
    assert 1 <= committer.batches < 45  # concurrent writes shared transactions
    assert isinstance(bogus, StoreError) and "bogus" in str(bogus)
    assert isinstance(stale, StateConflict)
    assert isinstance(not_an_op, StoreError) and "not a store operation" in str(not_an_op)
    assert good > 0 and loaded["n"] == 1
    check = SQLiteStore(tmp_path / "signaal.db")
    try:
        assert len(check.audit_records()) == 41
    finally:
        check.close()
    with pytest.raises(Exception, match="could not start"):
        StoreProcess(StoreParams("sqlite", None, None, 100.0, "FULL"))


def test_conditional_save(store):
    now = time.time()
    assert store.save_state("c_1", {**STATE, "n": 1}, now + 60, expected=0)
    assert not store.save_state("c_1", {**STATE, "n": 2}, now + 60, expected=0)  # stale writer
    assert store.save_state("c_1", {**STATE, "n": 2}, now + 60, expected=1)
    assert store.load_state("c_1")["n"] == 2
    # an expired state may be overwritten by a new conversation
    store.save_state("c_2", {**STATE, "n": 5}, now - 1)
    assert store.save_state("c_2", {**STATE, "n": 1}, now + 60, expected=0, now=now)


def _twin(store):
    """A second connection to the same database, as a second service worker would have."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path, store.audit_retention)
    return PostgresStore(store._dsn, store.audit_retention)


def test_two_workers_share_one_store(store, analyzer):
    """Two service processes behind a load balancer without sticky routing: each message
    lands on either; indexes stay in order and nothing is overwritten."""
    from fastapi.testclient import TestClient

    from signaal.service.app import create_app
    from signaal.service.settings import Settings

    tokens = {"p" * 20: "platform", "c" * 20: "counselor"}
    kind = "sqlite" if isinstance(store, SQLiteStore) else "postgres"
    settings = Settings(tokens=tokens, key=b"k" * 32, store=kind,
                        data_dir=getattr(store, "path", Path(".")).parent)
    P = {"Authorization": "Bearer " + "p" * 20}
    C = {"Authorization": "Bearer " + "c" * 20}
    texts = ["ik ben 14", "mijn moeder regelt mannen voor mij", "hoi", "ik durf niet te stoppen"]
    with TestClient(create_app(settings, analyzer=analyzer, store=store)) as one, \
            TestClient(create_app(settings, analyzer=analyzer, store=_twin(store))) as two:
        indexes = []
        for i, text in enumerate(texts):
            worker = (one, two, two, one)[i]
            r = worker.post("/v1/conversations/shared/messages", json={"role": "client", "text": text},
                            headers=P)
            assert r.status_code == 200, r.text
            indexes.append(r.json()["message_index"])
        assert indexes == [0, 1, 2, 3]
        fid = one.post("/v1/conversations/shared/feedback", json={"label": "minor", "verdict": "confirm"},
                       headers=C).json()["feedback_id"]
        assert fid > 0
        if kind == "postgres":  # reads on a shared store check the stored version
            view = two.get("/v1/conversations/shared", headers=C).json()
            assert view["messages"] == 4 and view["verdicts"] == {"minor": "confirm"}
            assert "parent_exploiter" in view["labels"]
    check = _twin(store)  # the services closed theirs
    rows = [r for r in check.audit_records() if r["kind"] == "message"]
    check.close()
    assert [r["message_index"] for r in rows] == [0, 1, 2, 3]


def test_store_process_under_uvloop_survives_a_full_pipe(tmp_path):
    """The service runs on uvloop, whose add_reader makes the pipe non-blocking: a burst of
    requests larger than the socket buffer must still all be written, none refused as if the
    store process were gone (it used to answer 503 under load)."""
    import asyncio

    uvloop = pytest.importorskip("uvloop")
    from signaal.service.store import MAX_BATCH, StoreParams, StoreProcess

    committer = StoreProcess(StoreParams("sqlite", str(tmp_path), None, 100.0, "FULL"))
    many_labels = ["minor"] * 500  # ~4 kB a request, ~1 MB in flight: several socket buffers

    async def burst():
        return await asyncio.gather(
            *(committer.run([("append_audit", (audit(f"c_{n}", labels=many_labels),))])
              for n in range(MAX_BATCH)),
            return_exceptions=True)

    try:
        outcomes = uvloop.run(burst())
    finally:
        committer.close()
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    check = SQLiteStore(tmp_path / "signaal.db")
    try:
        assert len(check.audit_records()) == MAX_BATCH
    finally:
        check.close()
