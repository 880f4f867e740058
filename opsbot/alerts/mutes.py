"""Mutes: silence one incident key (or a glob of keys) until a time. Thread-safe."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

import structlog

log = structlog.get_logger("opsbot.alerts")

SHARED_REFRESH_SECONDS = 2.0
"""Replicas: how stale this replica's copy of the shared mutes may be (a mute typed on another
replica silences this one's posts within this time)."""


@dataclass(frozen=True)
class Mute:
    id: str
    pattern: str  # an incident key, or a glob over keys
    until: datetime
    by: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pattern": self.pattern,
            "until": self.until.isoformat(),
            "by": self.by,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mute:
        return cls(
            data["id"], data["pattern"], datetime.fromisoformat(data["until"]), data["by"], data["label"]
        )


class MuteList:
    def __init__(self, mutes: list[Mute] | None = None) -> None:
        self._lock = threading.Lock()
        self._mutes = {mute.id: mute for mute in mutes or []}
        self._read: Callable[[], Awaitable[list[Mute]]] | None = None
        self._read_at = float("-inf")
        self._every = SHARED_REFRESH_SECONDS
        self._clock: Callable[[], float] = time.monotonic

    def share(
        self,
        read: Callable[[], Awaitable[list[Mute]]],
        *,
        every: float = SHARED_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Replicas share the store, where each adds and removes mutes: `refresh` reads it
        again at most every `every` seconds (or at once: before a removal, when taking a
        cluster over), so every replica sees them."""
        self._read, self._every, self._clock = read, every, clock

    async def refresh(self, *, now: bool = False) -> None:
        """With `share`: the store's mutes replace this copy (due, or `now`). Awaited by the
        pipeline at each tick and before it acts on an incident, so `muted` and `active` stay
        plain reads."""
        if self._read is None or (not now and self._clock() - self._read_at < self._every):
            return
        self._read_at = self._clock()
        try:
            fresh = await self._read()
        except Exception as exc:  # the store is away: keep the last copy (and retry later)
            log.warning("mutes_not_refreshed", error=str(exc)[:200])
            return
        self.replace(fresh)

    def replace(self, mutes: list[Mute]) -> None:
        with self._lock:
            self._mutes = {mute.id: mute for mute in mutes}

    def add(self, pattern: str, until: datetime, by: str, label: str) -> Mute:
        mute = Mute(secrets.token_hex(4), pattern, until, by, label)
        with self._lock:
            self._mutes[mute.id] = mute
        return mute

    def remove(self, mute_id: str) -> Mute | None:
        with self._lock:
            return self._mutes.pop(mute_id, None)

    def active(self, now: datetime) -> list[Mute]:
        with self._lock:
            expired = [key for key, mute in self._mutes.items() if mute.until <= now]
            for key in expired:
                del self._mutes[key]
            return sorted(self._mutes.values(), key=lambda mute: mute.until)

    def muted(self, key: str, now: datetime) -> Mute | None:
        for mute in self.active(now):
            if mute.pattern == key or fnmatchcase(key, mute.pattern):
                return mute
        return None
