"""A helper process the event loop talks to over one pipe: the model and the store each run
in one, so their work never competes with the loop for the GIL (a thread that gives the
GIL back at every SQLite call or numpy step waits up to a switch interval each time it
wants it back, and made the store's commits several times slower than the disk).

The loop watches the pipe itself (`add_reader`): no executor thread in between. A worker
answers requests in the order they came, one answer per request, so the loop keeps a FIFO
of futures. At most MAX_IN_FLIGHT requests are outstanding; more wait in a FIFO queue
(asyncio.Semaphore lets newcomers overtake woken waiters: seconds-long starvation).

Only what the caller puts in a request crosses the boundary, in memory; callers send no
raw text to the store and only redacted window texts to the model.
"""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any

MAX_IN_FLIGHT = 32
START_TIMEOUT_SECONDS = 180.0


class WorkerError(RuntimeError):
    pass


def exit_with(parent: int) -> None:
    """In a worker: end this process when the service process is gone (even after SIGKILL)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


class PipeWorker:
    """Starts `target(conn, parent_pid, *args)` in a spawned process; `call` awaits the
    answer to one request. The target first sends (True, detail) when it is ready or
    (False, reason) when it cannot start; then it answers requests in order, each pipe
    message a list of one or more (ok, value) answers (a batch's answers travel together)."""

    def __init__(self, target: Callable[..., None], args: tuple, name: str,
                 max_in_flight: int = MAX_IN_FLIGHT):
        # spawn, not fork: the service has threads whose locks a fork would copy
        context = multiprocessing.get_context("spawn")
        self.name = name
        self.max_in_flight = max_in_flight
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._queued: collections.deque[tuple[Any, asyncio.Future]] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn, child = context.Pipe(duplex=True)
        self._process = context.Process(target=target, args=(child, os.getpid(), *args),
                                        daemon=True, name=f"signaal-{name}")
        self._process.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT_SECONDS):
            self.close()
            raise WorkerError(f"the {name} process did not start in time")
        try:
            ok, detail = self._conn.recv()
        except EOFError:
            ok, detail = False, "it exited"
        if not ok:
            self.close()
            raise WorkerError(f"the {name} process could not start: {detail}")

    async def call(self, request: Any) -> Any:
        """The worker's value for `request`; WorkerError when the process is gone.
        A worker that answers (False, exception) has that exception raised here."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._conn.fileno(), self._on_answer)
            # uvloop's add_reader makes the pipe non-blocking; Connection.send needs it blocking,
            # or a full buffer raises BlockingIOError halfway through a message (the request
            # was refused as if the process were gone, and the stream left torn). A blocking
            # send cannot deadlock: at most max_in_flight requests are out, the store answers
            # from a thread of its own and the model's answers are a few hundred bytes.
            os.set_blocking(self._conn.fileno(), True)
        future = self._loop.create_future()
        self._queued.append((request, future))
        self._send_queued()
        ok, value = await future
        if not ok:
            raise value if isinstance(value, BaseException) else WorkerError(
                f"the {self.name} process failed on a request: {value}")
        return value

    def _send_queued(self) -> None:
        while self._queued and len(self._waiting) < self.max_in_flight:
            request, future = self._queued.popleft()
            try:
                self._conn.send(request)
            except (OSError, ValueError):
                future.set_exception(WorkerError(f"the {self.name} process is gone"))
                continue
            self._waiting.append(future)

    def _on_answer(self) -> None:
        try:
            while self._conn.poll():
                for answer in self._conn.recv():
                    future = self._waiting.popleft()
                    if not future.done():
                        future.set_result(answer)
        except (EOFError, OSError):  # the worker died: fail every waiting request
            self._loop.remove_reader(self._conn.fileno())
            for future in [*self._waiting, *(f for _, f in self._queued)]:
                if not future.done():
                    future.set_exception(WorkerError(f"the {self.name} process is gone"))
            self._waiting.clear()
            self._queued.clear()
            return
        self._send_queued()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._conn.fileno())
        self._conn.close()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
