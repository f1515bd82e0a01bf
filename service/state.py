"""Live conversations: the analyzer's Conversation objects kept in memory per pseudonym
(LRU + idle expiry), and their text-free snapshot that the store keeps across restarts.

A snapshot holds labels, scores, offsets, rule ids, model scores, roles and counselor
verdicts; never text. A conversation rebuilt from a snapshot (after a restart or eviction)
shows its earlier evidence with a placeholder instead of the redacted snippet, which is
shown live only.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from signaal.signals.pipeline import Conversation

PLACEHOLDER = "[niet bewaard]"
MAX_EVIDENCE_PER_LABEL = 20  # the result shows 5; keep some spare for re-ranking


@dataclass
class Live:
    conversation: Any  # signaal.signals.pipeline.Conversation
    verdicts: dict[str, str] = field(default_factory=dict)  # label -> last verdict
    last_used: float = field(default_factory=time.time)


def snapshot(live: Live) -> dict:
    """The conversation's flag state without text, plus the counselor verdicts."""
    return {**live.conversation.to_state(MAX_EVIDENCE_PER_LABEL), "verdicts": dict(live.verdicts)}


def restore(analyzer: Any, pseudonym: str, state: dict) -> Live:
    conv = Conversation.from_state(analyzer, pseudonym, state, PLACEHOLDER)
    return Live(conv, dict(state.get("verdicts", {})))


def sources(live: Live, label: str) -> list[str]:
    """Rule ids (and model name) behind a label's flag, for the feedback record."""
    return live.conversation.sources(label)


class LiveConversations:
    """In-memory Live objects by pseudonym; least recently used beyond `capacity` and those
    idle longer than `ttl` seconds are dropped (their snapshot stays in the store)."""

    def __init__(self, capacity: int, ttl: float):
        self.capacity = capacity
        self.ttl = ttl
        self._items: OrderedDict[str, Live] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, pseudonym: str) -> asyncio.Lock:
        """One request at a time per conversation, so messages are analysed and stored in order."""
        lock = self._locks.get(pseudonym)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[pseudonym] = lock
        return lock

    def get(self, pseudonym: str, now: float | None = None) -> Live | None:
        live = self._items.get(pseudonym)
        if live is None:
            return None
        now = time.time() if now is None else now
        if now - live.last_used > self.ttl:
            del self._items[pseudonym]
            return None
        self._items.move_to_end(pseudonym)
        return live

    def put(self, pseudonym: str, live: Live, now: float | None = None) -> None:
        live.last_used = time.time() if now is None else now
        self._items[pseudonym] = live
        self._items.move_to_end(pseudonym)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def drop(self, pseudonym: str) -> None:
        self._items.pop(pseudonym, None)

    def expire(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        old = [p for p, live in self._items.items() if now - live.last_used > self.ttl]
        for p in old:
            del self._items[p]
        return len(old)

    def __len__(self) -> int:
        return len(self._items)
