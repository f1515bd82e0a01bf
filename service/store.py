"""Where the service keeps what must outlive a restart: conversation flag state (expires) and
an append-only audit trail of messages and counselor verdicts (kept for the audit retention).
Neither holds text or platform identifiers: only pseudonyms, label ids, scores, offsets, rule
ids and versions.

Two implementations of one small interface: SQLite (WAL, one machine) and PostgreSQL
(psycopg 3, several workers or machines). All service reads and writes are batches of
operations (`Op`: a Store method name and its arguments) that go through a group committer:
the writes of concurrent requests share one transaction, so a request is answered only
after its transaction is durable, yet the disk sees one sync per batch instead of one per
message. `StoreProcess` (the service's default on a machine with two cores or more) runs
the committer in a process of its own, `Committer` in a thread (tests, one core).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import queue
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

AUDIT_FIELDS = ("ts", "pseudonym", "kind", "message_index", "role", "model_version",
                "policy_version", "policy_sha256", "priority", "labels", "flags", "new_labels",
                "vetoed")
FEEDBACK_FIELDS = ("ts", "pseudonym", "label", "verdict", "raised_by", "sources",
                   "model_version", "policy_version")
_JSON_FIELDS = {"labels", "flags", "new_labels", "sources", "vetoed"}


class StoreError(RuntimeError):
    pass


class StateConflict(StoreError):
    """The stored conversation state moved on (another worker wrote it): reload and retry."""


class Store(ABC):
    """The persistence interface of the service. Methods commit on their own unless called
    inside `with store.transaction():`."""

    audit_retention: float  # seconds

    @abstractmethod
    def save_state(self, pseudonym: str, state: dict, expires_at: float,
                   expected: int | None = None, now: float | None = None) -> bool:
        """Upsert. With `expected`, only when the stored state (if any, and not expired) has
        `state["n"] == expected` messages: several workers may serve one conversation, and a
        worker whose copy is stale must reload and retry instead of overwriting. Returns
        whether it was written."""

    def put_state(self, pseudonym: str, state: dict, expires_at: float, expected: int | None,
                  now: float | None = None) -> None:
        """`save_state`, raising StateConflict when the stored state moved on."""
        if not self.save_state(pseudonym, state, expires_at, expected=expected, now=now):
            raise StateConflict(pseudonym)

    @abstractmethod
    def load_state(self, pseudonym: str, now: float | None = None) -> dict | None:
        """The state, or None when unknown or expired."""

    @abstractmethod
    def delete_state(self, pseudonym: str) -> bool: ...

    @abstractmethod
    def append_audit(self, record: dict) -> int: ...

    @abstractmethod
    def append_feedback(self, record: dict) -> int: ...

    @abstractmethod
    def audit_records(self, pseudonym: str | None = None, kind: str | None = None,
                      since: float | None = None) -> list[dict]: ...

    @abstractmethod
    def feedback_records(self, pseudonym: str | None = None) -> list[dict]: ...

    @abstractmethod
    def purge_expired(self, now: float | None = None) -> dict[str, int]:
        """Delete expired state and audit/feedback rows older than the audit retention."""

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager: ...

    @abstractmethod
    def close(self) -> None: ...


def _row(fields: tuple[str, ...], record: dict, dump: bool) -> list[Any]:
    unknown = set(record) - set(fields)
    if unknown:  # a typo must not silently drop an audit field
        raise StoreError(f"unknown audit fields: {sorted(unknown)}")
    values = []
    for f in fields:
        v = record.get(f)
        if f in _JSON_FIELDS and v is not None and dump:
            v = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        values.append(v)
    return values


def _record(cols: list[str], row: tuple, load: bool) -> dict:
    out = dict(zip(cols, row))
    if load:
        for f in _JSON_FIELDS & set(out):
            if out[f] is not None:
                out[f] = json.loads(out[f])
    return out


# --- SQLite -------------------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    pseudonym TEXT PRIMARY KEY, state TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS state_expires ON state(expires_at);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, pseudonym TEXT NOT NULL,
    kind TEXT NOT NULL, message_index INTEGER, role TEXT, model_version TEXT,
    policy_version TEXT, policy_sha256 TEXT, priority TEXT, labels TEXT, flags TEXT,
    new_labels TEXT, vetoed TEXT);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
CREATE INDEX IF NOT EXISTS audit_pseudonym ON audit(pseudonym);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, pseudonym TEXT NOT NULL,
    label TEXT NOT NULL, verdict TEXT NOT NULL, raised_by TEXT, sources TEXT,
    model_version TEXT, policy_version TEXT);
CREATE INDEX IF NOT EXISTS feedback_ts ON feedback(ts);
CREATE TRIGGER IF NOT EXISTS audit_append_only BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS feedback_append_only BEFORE UPDATE ON feedback
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


class SQLiteStore(Store):
    def __init__(self, path: str | Path, audit_retention: float = 183 * 86_400.0,
                 synchronous: str = "FULL"):
        if synchronous.upper() not in ("FULL", "EXTRA", "NORMAL"):
            raise StoreError("sqlite synchronous must be FULL, EXTRA or NORMAL")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.audit_retention = audit_retention
        self._lock = threading.RLock()  # one connection; the Committer is its only user in the service
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is synced at every commit, so an acknowledged message survives a
        # crash of the process and of the machine; NORMAL would survive only the process.
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA secure_delete=ON")  # purged rows are overwritten, not left behind
        self._db.executescript(_SQLITE_SCHEMA)
        if "vetoed" not in {row[1] for row in self._db.execute("PRAGMA table_info(audit)")}:
            self._db.execute("ALTER TABLE audit ADD COLUMN vetoed TEXT")  # trails from before vetoes
        self._depth = 0
        # Checkpoints (copying the WAL into the database file, with its own syncs) run on a
        # connection of their own, off the commit path: a request never waits for one.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, daemon=True,
                                              name="signaal-checkpoint")
        self._checkpointer.start()

    def _checkpoint_loop(self, interval: float = 1.0) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=5000")
        try:
            while not self._stop.wait(interval):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # busy or closing: the next round retries
                    log.debug("checkpoint skipped: %s", type(exc).__name__)
        finally:
            db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def _x(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def save_state(self, pseudonym: str, state: dict, expires_at: float,
                   expected: int | None = None, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self._x(
            "INSERT INTO state(pseudonym, state, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT(pseudonym) DO UPDATE SET state=excluded.state, "
            "expires_at=excluded.expires_at WHERE ? IS NULL "
            "OR json_extract(state.state, '$.n') = ? OR state.expires_at <= ?",
            (pseudonym, json.dumps(state, separators=(",", ":")), expires_at, expected, expected,
             now)).rowcount > 0

    def load_state(self, pseudonym: str, now: float | None = None) -> dict | None:
        row = self._x("SELECT state FROM state WHERE pseudonym=? AND expires_at>?",
                      (pseudonym, time.time() if now is None else now)).fetchone()
        return json.loads(row[0]) if row else None

    def delete_state(self, pseudonym: str) -> bool:
        return self._x("DELETE FROM state WHERE pseudonym=?", (pseudonym,)).rowcount > 0

    def append_audit(self, record: dict) -> int:
        cur = self._x(f"INSERT INTO audit({', '.join(AUDIT_FIELDS)}) VALUES "
                      f"({', '.join('?' * len(AUDIT_FIELDS))})", _row(AUDIT_FIELDS, record, True))
        return int(cur.lastrowid)

    def append_feedback(self, record: dict) -> int:
        cur = self._x(f"INSERT INTO feedback({', '.join(FEEDBACK_FIELDS)}) VALUES "
                      f"({', '.join('?' * len(FEEDBACK_FIELDS))})",
                      _row(FEEDBACK_FIELDS, record, True))
        return int(cur.lastrowid)

    def _select(self, table: str, fields: tuple[str, ...], where: list[str], params: list) -> list[dict]:
        sql = f"SELECT id, {', '.join(fields)} FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        cols = ["id", *fields]
        return [_record(cols, r, True) for r in self._x(sql + " ORDER BY id", params).fetchall()]

    def audit_records(self, pseudonym: str | None = None, kind: str | None = None,
                      since: float | None = None) -> list[dict]:
        where, params = [], []
        for col, op, value in (("pseudonym", "=", pseudonym), ("kind", "=", kind), ("ts", ">=", since)):
            if value is not None:
                where.append(f"{col} {op} ?")
                params.append(value)
        return self._select("audit", AUDIT_FIELDS, where, params)

    def feedback_records(self, pseudonym: str | None = None) -> list[dict]:
        where, params = ([], []) if pseudonym is None else (["pseudonym = ?"], [pseudonym])
        return self._select("feedback", FEEDBACK_FIELDS, where, params)

    def purge_expired(self, now: float | None = None) -> dict[str, int]:
        now = time.time() if now is None else now
        cutoff = now - self.audit_retention
        with self.transaction():
            counts = {
                "state": self._x("DELETE FROM state WHERE expires_at<=?", (now,)).rowcount,
                "audit": self._x("DELETE FROM audit WHERE ts<?", (cutoff,)).rowcount,
                "feedback": self._x("DELETE FROM feedback WHERE ts<?", (cutoff,)).rowcount,
            }
        return counts

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join(timeout=10)
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._db.close()


# --- PostgreSQL ---------------------------------------------------------------------------

_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS signaal_state (
    pseudonym TEXT PRIMARY KEY, state JSONB NOT NULL, expires_at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS signaal_state_expires ON signaal_state(expires_at);
CREATE TABLE IF NOT EXISTS signaal_audit (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, pseudonym TEXT NOT NULL,
    kind TEXT NOT NULL, message_index INTEGER, role TEXT, model_version TEXT,
    policy_version TEXT, policy_sha256 TEXT, priority TEXT, labels JSONB, flags JSONB,
    new_labels JSONB, vetoed JSONB);
-- trails created before vetoes were recorded
ALTER TABLE signaal_audit ADD COLUMN IF NOT EXISTS vetoed JSONB;
CREATE INDEX IF NOT EXISTS signaal_audit_ts ON signaal_audit(ts);
CREATE INDEX IF NOT EXISTS signaal_audit_pseudonym ON signaal_audit(pseudonym);
CREATE TABLE IF NOT EXISTS signaal_feedback (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, pseudonym TEXT NOT NULL,
    label TEXT NOT NULL, verdict TEXT NOT NULL, raised_by TEXT, sources JSONB,
    model_version TEXT, policy_version TEXT);
CREATE INDEX IF NOT EXISTS signaal_feedback_ts ON signaal_feedback(ts);
CREATE OR REPLACE FUNCTION signaal_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
DROP TRIGGER IF EXISTS signaal_audit_append_only ON signaal_audit;
CREATE TRIGGER signaal_audit_append_only BEFORE UPDATE ON signaal_audit
    FOR EACH ROW EXECUTE FUNCTION signaal_append_only();
DROP TRIGGER IF EXISTS signaal_feedback_append_only ON signaal_feedback;
CREATE TRIGGER signaal_feedback_append_only BEFORE UPDATE ON signaal_feedback
    FOR EACH ROW EXECUTE FUNCTION signaal_append_only();
"""


class PostgresStore(Store):
    """Tables prefixed `signaal_` in the given database; several service processes may share it."""

    def __init__(self, dsn: str, audit_retention: float = 183 * 86_400.0):
        try:
            import psycopg
            from psycopg.types.json import Jsonb
        except ImportError as exc:  # pragma: no cover - the service extra installs it
            raise StoreError("PostgreSQL store needs psycopg: pip install 'signaal[service]'") from exc
        self._Jsonb = Jsonb
        self._dsn = dsn  # kept in memory only (may hold a password); never logged
        self.audit_retention = audit_retention
        self._lock = threading.RLock()
        try:
            self._db = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error as exc:
            # the DSN may carry a password: name only the failure
            raise StoreError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from None
        with self._lock, self._db.transaction():
            # one schema creator at a time when several workers start together
            self._db.execute("SELECT pg_advisory_xact_lock(4242171)")
            self._db.execute(_PG_SCHEMA)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock, self._db.transaction():
            yield

    def _x(self, sql: str, params: Any = ()):
        with self._lock:
            return self._db.execute(sql, params)

    def _json(self, fields: tuple[str, ...], record: dict) -> list[Any]:
        values = _row(fields, record, dump=False)
        return [self._Jsonb(v) if f in _JSON_FIELDS and v is not None else v
                for f, v in zip(fields, values)]

    def save_state(self, pseudonym: str, state: dict, expires_at: float,
                   expected: int | None = None, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self._x(
            "INSERT INTO signaal_state(pseudonym, state, expires_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (pseudonym) DO UPDATE SET state=EXCLUDED.state, "
            "expires_at=EXCLUDED.expires_at WHERE %s::int IS NULL "
            "OR (signaal_state.state->>'n')::int = %s::int OR signaal_state.expires_at <= %s",
            (pseudonym, self._Jsonb(state), expires_at, expected, expected, now)).rowcount > 0

    def load_state(self, pseudonym: str, now: float | None = None) -> dict | None:
        row = self._x("SELECT state FROM signaal_state WHERE pseudonym=%s AND expires_at>%s",
                      (pseudonym, time.time() if now is None else now)).fetchone()
        return row[0] if row else None

    def delete_state(self, pseudonym: str) -> bool:
        return self._x("DELETE FROM signaal_state WHERE pseudonym=%s", (pseudonym,)).rowcount > 0

    def append_audit(self, record: dict) -> int:
        row = self._x(f"INSERT INTO signaal_audit({', '.join(AUDIT_FIELDS)}) VALUES "
                      f"({', '.join(['%s'] * len(AUDIT_FIELDS))}) RETURNING id",
                      self._json(AUDIT_FIELDS, record)).fetchone()
        return int(row[0])

    def append_feedback(self, record: dict) -> int:
        row = self._x(f"INSERT INTO signaal_feedback({', '.join(FEEDBACK_FIELDS)}) VALUES "
                      f"({', '.join(['%s'] * len(FEEDBACK_FIELDS))}) RETURNING id",
                      self._json(FEEDBACK_FIELDS, record)).fetchone()
        return int(row[0])

    def _select(self, table: str, fields: tuple[str, ...], where: list[str], params: list) -> list[dict]:
        sql = f"SELECT id, {', '.join(fields)} FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        cols = ["id", *fields]
        return [_record(cols, r, False) for r in self._x(sql + " ORDER BY id", params).fetchall()]

    def audit_records(self, pseudonym: str | None = None, kind: str | None = None,
                      since: float | None = None) -> list[dict]:
        where, params = [], []
        for col, op, value in (("pseudonym", "=", pseudonym), ("kind", "=", kind), ("ts", ">=", since)):
            if value is not None:
                where.append(f"{col} {op} %s")
                params.append(value)
        return self._select("signaal_audit", AUDIT_FIELDS, where, params)

    def feedback_records(self, pseudonym: str | None = None) -> list[dict]:
        where, params = ([], []) if pseudonym is None else (["pseudonym = %s"], [pseudonym])
        return self._select("signaal_feedback", FEEDBACK_FIELDS, where, params)

    def purge_expired(self, now: float | None = None) -> dict[str, int]:
        now = time.time() if now is None else now
        cutoff = now - self.audit_retention
        with self.transaction():
            return {
                "state": self._x("DELETE FROM signaal_state WHERE expires_at<=%s", (now,)).rowcount,
                "audit": self._x("DELETE FROM signaal_audit WHERE ts<%s", (cutoff,)).rowcount,
                "feedback": self._x("DELETE FROM signaal_feedback WHERE ts<%s", (cutoff,)).rowcount,
            }

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(settings: Any) -> Store:
    if settings.store == "postgres":
        if not settings.dsn:
            raise StoreError("--store postgres needs --dsn (or SIGNAAL_DSN)")
        return PostgresStore(settings.dsn, settings.audit_ttl)
    if settings.store != "sqlite":
        raise StoreError(f"unknown store {settings.store!r} (sqlite or postgres)")
    if settings.data_dir is None:
        raise StoreError("the SQLite store needs a data directory (--data-dir)")
    return SQLiteStore(Path(settings.data_dir) / "signaal.db", settings.audit_ttl,
                       settings.sqlite_synchronous)


# --- group commit -------------------------------------------------------------------------

# One store operation: a Store method and its arguments. Plain data, so a batch runs the
# same in a thread or in the store process.
Op = tuple[str, tuple]
# requests per transaction, and in flight to the store process (so concurrent writes meet)
MAX_BATCH = 256
STORE_OPS = frozenset({"save_state", "put_state", "load_state", "delete_state", "append_audit",
                       "append_feedback", "purge_expired", "audit_records", "feedback_records"})


def run_ops(store: Store, ops: list[Op]) -> Any:
    """Run one request's operations in order; the last one's result."""
    result = None
    for name, args in ops:
        if name not in STORE_OPS:
            raise StoreError(f"not a store operation: {name!r}")
        result = getattr(store, name)(*args)
    return result


def run_batch(store: Store, batch: list[list[Op]]) -> list[tuple[bool, Any]]:
    """Every request of `batch` in one transaction: (True, result) or (False, exception)
    per request. When one request fails, the others run again one by one, so a bad request
    fails alone."""
    try:
        with store.transaction():
            return [(True, run_ops(store, ops)) for ops in batch]
    except Exception as exc:
        if len(batch) == 1:
            return [(False, exc)]
        return [outcome for ops in batch for outcome in run_batch(store, [ops])]


class Committer:
    """One thread owns the store. Callers submit a request (a list of `Op`); the thread runs
    everything queued so far in one transaction and resolves the futures after the commit."""

    def __init__(self, store: Store, max_batch: int = MAX_BATCH):
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="signaal-store", daemon=True)
        self._thread.start()
        self.batches = 0
        self.operations = 0

    def submit(self, ops: list[Op]) -> concurrent.futures.Future:
        """For threads: a concurrent Future."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((ops, future))
        return future

    async def run(self, ops: list[Op]) -> Any:
        """For the event loop: resolved after the commit, one loop wake-up per batch."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((ops, (loop, future)))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        self.store.close()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            outcomes = run_batch(self.store, [ops for ops, _ in batch])
            self.batches += 1
            self.operations += len(batch)
            _deliver([(target, ok, value) for (_, target), (ok, value) in zip(batch, outcomes)])
            if stop:
                return


def _deliver(outcomes: list[tuple[Any, bool, Any]]) -> None:
    by_loop: dict[Any, list] = {}
    for target, ok, value in outcomes:
        if isinstance(target, tuple):
            by_loop.setdefault(target[0], []).append((target[1], ok, value))
        else:
            _settle(target, ok, value)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, items)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _resolve(items: list) -> None:
    for future, ok, value in items:
        if not future.done():
            future.set_result(value) if ok else future.set_exception(value)


def _settle(future: concurrent.futures.Future, ok: bool, value: Any) -> None:
    if future.cancelled():
        return  # the client went away; the work is committed (or not) all the same
    try:
        future.set_result(value) if ok else future.set_exception(value)
    except concurrent.futures.InvalidStateError:
        pass


# --- the store in a process of its own -----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class StoreParams:
    """What the store process needs to open the store (no tokens, no pseudonym key)."""

    store: str
    data_dir: str | None
    dsn: str | None
    audit_ttl: float
    sqlite_synchronous: str

    @classmethod
    def of(cls, settings: Any) -> StoreParams:
        return cls(settings.store, str(settings.data_dir) if settings.data_dir else None,
                   settings.dsn, settings.audit_ttl, settings.sqlite_synchronous)


def _portable(exc: BaseException) -> BaseException:
    """An exception that pickles and says nothing about the data: StoreErrors as they are
    (they name fields and pseudonyms at most), others by type only."""
    return exc if isinstance(exc, StoreError) else StoreError(f"store failure: {type(exc).__name__}")


def _serve_store(conn: Any, parent: int, params: StoreParams) -> None:
    """The store process: open the store, then run every request waiting on the pipe as one
    batch. A batch's answers go out as one message (one GIL hand-off to the sending thread
    per batch, not per answer), from a thread of their own, so this loop never blocks on a
    full pipe while the service is busy sending it requests."""
    from signaal.service.worker import exit_with

    exit_with(parent)
    try:
        store = open_store(params)
    except Exception as exc:  # noqa: BLE001 - reported to the service, which refuses to start
        conn.send((False, f"{type(exc).__name__}: {exc}"))
        return
    conn.send((True, "ready"))
    answers: queue.SimpleQueue = queue.SimpleQueue()

    def send_answers() -> None:
        while (answer := answers.get()) is not None:
            try:
                conn.send(answer)
            except (OSError, ValueError):
                return

    sender = threading.Thread(target=send_answers, daemon=True, name="store-answers")
    sender.start()
    batches = 0
    try:
        while True:
            try:
                batch = [conn.recv()]
                while len(batch) < MAX_BATCH and conn.poll():
                    batch.append(conn.recv())
            except (EOFError, OSError):
                return
            outcomes = run_batch(store, batch)
            batches += 1
            answers.put([(True, (batches, value)) if ok else (False, _portable(value))
                         for ok, value in outcomes])
    finally:
        store.close()
        answers.put(None)
        sender.join(timeout=5)


class StoreProcess:
    """The group committer in a process of its own, with the same `run` as `Committer`."""

    def __init__(self, params: StoreParams):
        from signaal.service.worker import PipeWorker

        self._worker = PipeWorker(_serve_store, (params,), "store", max_in_flight=MAX_BATCH)
        self.batches = 0
        self.operations = 0

    async def run(self, ops: list[Op]) -> Any:
        self.operations += 1
        batch_number, value = await self._worker.call(ops)
        self.batches = max(self.batches, batch_number)
        return value

    def close(self) -> None:
        self._worker.close()
