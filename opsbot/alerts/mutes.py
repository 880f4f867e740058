"""Mutes: silence one incident key (or a glob of keys) until a time. Thread-safe."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any


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
