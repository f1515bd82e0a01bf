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
        self._queued: collections.deque[tuple[tuple, asyncio.Future]] = collections.deque()
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
            self._loop.add_reader(self._conn.fileno(), self._on_answer)
        future = self._loop.create_future()
        # first come, first sent: beyond MAX_IN_FLIGHT a request waits in a FIFO queue
        # (asyncio.Semaphore lets newcomers overtake woken waiters: seconds-long starvation)
        self._queued.append(((texts, rule_scores), future))
        self._send_queued()
        ok, value = await future
        if not ok:
            raise ModelWorkerError(f"the model process failed on a message: {value}")
        return value

    def _send_queued(self) -> None:
        while self._queued and len(self._waiting) < MAX_IN_FLIGHT:
            request, future = self._queued.popleft()
            try:
                self._conn.send(request)
            except (OSError, ValueError):
                future.set_exception(ModelWorkerError("the model process is gone"))
                continue
            self._waiting.append(future)

    def _on_answer(self) -> None:
        try:
            while self._conn.poll():
                answer = self._conn.recv()
                future = self._waiting.popleft()
                if not future.done():
                    future.set_result(answer)
        except (EOFError, OSError):  # the worker died: fail every waiting request
            self._loop.remove_reader(self._conn.fileno())
            for future in [*self._waiting, *(f for _, f in self._queued)]:
                if not future.done():
                    future.set_exception(ModelWorkerError("the model process is gone"))
            self._waiting.clear()
            self._queued.clear()
            return
        self._send_queued()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._conn.fileno())
        self._conn.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
