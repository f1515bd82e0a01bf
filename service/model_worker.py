"""The learned model in a second process, so the model's scoring of one message runs on
the other core while the service handles HTTP, rules and the store for the next.

Only redacted window texts and rule scores cross the process boundary (in memory, over a
pipe); the worker loads and verifies the same model folder itself.

The event loop talks to the worker over one pipe that it watches itself (`add_reader`):
no executor thread in between, so an answer never waits for a thread to win the GIL
back from the busy loop (that hand-off cost more than the model's own 0.6 ms). Requests
are answered in order; at most MAX_IN_FLIGHT are outstanding, so the worker's answers
(a few hundred bytes each) can never fill the pipe while the loop is busy sending.
"""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import os
from typing import Any

MAX_IN_FLIGHT = 32
START_TIMEOUT_SECONDS = 180.0


class ModelWorkerError(RuntimeError):
    pass


def _serve(folder: str, parent: int, conn: Any) -> None:
    """The worker process: load the model, then answer (texts, rule_scores) requests."""
    import warnings

    _exit_with(parent)
    try:
        from signaal.models.registry import load_model
        from signaal.signals.pipeline import score_window

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load_model(folder)
        score_window(model, ["hallo"], [{}])  # lazy parts load now, not on a client message
    except Exception as exc:  # noqa: BLE001 - reported to the service, which refuses to start
        conn.send((False, f"{type(exc).__name__}: {exc}"))
        return
    conn.send((True, "ready"))
    while True:
        try:
            texts, rule_scores = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer = (True, score_window(model, texts, rule_scores))
        except Exception as exc:  # noqa: BLE001 - one bad request fails alone
            answer = (False, type(exc).__name__)  # never the text
        conn.send(answer)


def _exit_with(parent: int) -> None:
    """End this worker when the service process is gone (even after a SIGKILL)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


class ModelWorker:
    """One worker process holding the model; `score` awaits its answer."""

    def __init__(self, model: Any):
        # spawn, not fork: the service has threads (store writer) whose locks a fork copies
        context = multiprocessing.get_context("spawn")
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn, child = context.Pipe(duplex=True)
        self._process = context.Process(target=_serve, args=(str(model.path), os.getpid(), child),
                                        daemon=True, name="signaal-model")
        self._process.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT_SECONDS):
            self.close()
            raise ModelWorkerError("the model process did not start in time")
        try:
            ok, detail = self._conn.recv()
        except EOFError:
            ok, detail = False, "it exited"
        if not ok:
            self.close()
            raise ModelWorkerError(f"the model process could not load the model: {detail}")

    async def score(self, texts: list[str], rule_scores: list[dict]) -> dict[str, float]:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
            self._loop.add_reader(self._conn.fileno(), self._on_answer)
        async with self._slots:
            future = self._loop.create_future()
            self._waiting.append(future)
            try:
                self._conn.send((texts, rule_scores))
            except (OSError, ValueError) as exc:
                self._waiting.remove(future)
                raise ModelWorkerError("the model process is gone") from exc
            ok, value = await future
        if not ok:
            raise ModelWorkerError(f"the model process failed on a message: {value}")
        return value

    def _on_answer(self) -> None:
        try:
            while self._conn.poll():
                answer = self._conn.recv()
                future = self._waiting.popleft()
                if not future.done():
                    future.set_result(answer)
        except (EOFError, OSError):  # the worker died: fail every waiting request
            self._loop.remove_reader(self._conn.fileno())
            while self._waiting:
                future = self._waiting.popleft()
                if not future.done():
                    future.set_exception(ModelWorkerError("the model process is gone"))

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._conn.fileno())
        self._conn.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
