"""Slack redelivers events it thinks we missed; answer each one once.

With one replica an in-memory set is enough (`SeenKeys`). With several, Slack may hand the
retry to another replica, so the keys live in the shared store (`SharedSeenKeys`: Redis
`SET NX EX`); if the store is unreachable, each replica falls back to its own memory:
answering a retry twice is better than answering nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import structlog

from opsbot.errors import StoreUnavailable

log = structlog.get_logger("opsbot.slack")

SEEN_TTL_SECONDS = 3600.0


@runtime_checkable
class FirstSeen(Protocol):
    async def first_seen(self, key: str, ttl: float) -> bool:
        """True the first time `key` is offered within `ttl` seconds; False for a repeat."""
        ...


class SeenKeys:
    """Bounded memory of recently seen keys (event_id, trigger_id) with a time-to-live."""

    def __init__(
        self, *, capacity: int = 10_000, ttl: float = SEEN_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock

    def first_time(self, key: str) -> bool:
        """True the first time `key` is offered; False for every repeat within the TTL."""
        now = self._clock()
        while self._seen:
            stamp = next(iter(self._seen.values()))
            if now - stamp <= self._ttl and len(self._seen) < self._capacity:
                break
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    async def first_seen(self, key: str, ttl: float) -> bool:
        """`FirstSeen`, with this set's own time-to-live (one per set keeps eviction in order)."""
        return self.first_time(key)


class SharedSeenKeys:
    """`FirstSeen` in the shared store, with this replica's memory as the fallback."""

    def __init__(self, shared: FirstSeen, local: SeenKeys | None = None) -> None:
        self._shared = shared
        self._local = local or SeenKeys()

    async def first_seen(self, key: str, ttl: float) -> bool:
        try:
            fresh = await self._shared.first_seen(key, ttl)
        except StoreUnavailable:
            log.warning("dedupe_store_unavailable", key=key[:64])
            return self._local.first_time(key)
        self._local.first_time(key)  # remembered here too, for when the store is away
        return fresh
