"""Writes of one record, kept in order while each is awaited.

A record held in memory (an incident, an Alertmanager group) is written through to the store
by whichever task changed it last. With an awaited store, two tasks writing one record can
have their writes reach Redis in either order (two pooled connections), and the store would
keep the older copy. `LatestWrites` queues them per key: one write at a time, and a write
still waiting is replaced by a newer one (the newest is what the store must hold).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class LatestWrites(Generic[_K, _V]):
    def __init__(self, write: Callable[[_K, _V], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: dict[_K, _V] = {}
        self._locks: dict[_K, tuple[asyncio.Lock, int]] = {}  # per key: its lock, how many use it

    async def __call__(self, key: _K, value: _V) -> None:
        """Returns once `value`, or a newer value of `key`, is written; raises if that write failed."""
        self._waiting[key] = value
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                if key not in self._waiting:
                    return  # the write before ours took our value (or a newer one) and succeeded
                newest = self._waiting.pop(key)
                try:
                    await self._write(key, newest)
                except BaseException:
                    self._waiting.setdefault(key, newest)  # the next writer of this key tries again
                    raise
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
                self._waiting.pop(key, None)  # a failed write nobody else waits to retry
            else:
                self._locks[key] = (lock, users - 1)

    @property
    def keys_in_use(self) -> int:
        """Keys with a write under way or waiting (tests: nothing is left behind)."""
        return len(self._locks)
