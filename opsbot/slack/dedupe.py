"""Slack redelivers events it thinks we missed; answer each one once."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class SeenKeys:
    """Bounded memory of recently seen keys (event_id, trigger_id) with a time-to-live."""

    def __init__(
        self, *, capacity: int = 10_000, ttl: float = 3600, clock: Callable[[], float] = time.monotonic
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
