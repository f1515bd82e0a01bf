"""The learned model in a second process, so the model's scoring of one message runs on
the other core while the service handles HTTP, rules and the store for the next.

Only redacted window texts and rule scores cross the process boundary (in memory, over a
pipe); the worker loads and verifies the same model folder itself.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_MODEL: Any = None


def _init(folder: str, parent: int) -> None:
    global _MODEL
    import warnings

    _exit_with(parent)
    from signaal.models.registry import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _MODEL = load_model(folder)


def _exit_with(parent: int) -> None:
    """End this worker when the service process is gone (even after a SIGKILL)."""
    import os
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _score(texts: list[str], rule_scores: list[dict]) -> dict[str, float]:
    from signaal.signals.pipeline import score_window

    return score_window(_MODEL, texts, rule_scores)


class ModelWorker:
    """One worker process holding the model; `score` awaits its answer."""

    def __init__(self, model: Any):
        # spawn, not fork: the service has threads (store writer) whose locks a fork copies
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init, initargs=(str(model.path), os.getpid()))
        self._pool.submit(_score, ["hallo"], [{}]).result()  # load now, fail at start

    async def score(self, texts: list[str], rule_scores: list[dict]) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _score, texts, rule_scores)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
