"""The learned model in a second process (a `PipeWorker`), so the model's scoring of one
message runs on the other core while the service handles HTTP and rules for the next.

Only redacted window texts and rule scores cross the process boundary (in memory, over a
pipe); the worker loads and verifies the same model folder itself.
"""

from __future__ import annotations

from typing import Any

from signaal.service.worker import PipeWorker, exit_with


def _serve(conn: Any, parent: int, folder: str) -> None:
    """The worker process: load the model, then answer (texts, rule_scores) requests."""
    import warnings

    exit_with(parent)
    try:
        from signaal.models.registry import load_model
        from signaal.signals.pipeline import score_window

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load_model(folder)
        score_window(model, ["hallo"], [{}])  # lazy parts load now, not on a client message
    except Exception as exc:  # noqa: BLE001 - reported to the service, which refuses to start
        conn.send((False, f"could not load the model: {type(exc).__name__}: {exc}"))
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
        conn.send([answer])


class ModelWorker:
    """One worker process holding the model; `score` awaits its answer."""

    def __init__(self, model: Any):
        self._worker = PipeWorker(_serve, (str(model.path),), "model")

    async def score(self, texts: list[str], rule_scores: list[dict]) -> dict[str, float]:
        return await self._worker.call((texts, rule_scores))

    def close(self) -> None:
        self._worker.close()
