"""Saved contexts: a person's working cluster/namespace/app per channel (``use``), and a
channel's pinned one (an admin's ``use … for #channel``).

A person's context expires after ``context.idle_hours`` without use, so nobody acts on
last week's app by surprise; using it (any command that runs in a cluster) keeps it
alive. A channel's pin stays until an admin clears it, like the config's ``channels:``.
Records live in the store (`ContextStore`: SQLite today, any key-value store later), so
they survive restarts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from opsbot.commands.scope import Layer
from opsbot.ports import ContextStore, Document

TOUCH_EVERY = 60.0
"""Seconds: a context used more often than this is written back at most this often."""


@dataclass(frozen=True)
class SavedContext:
    cluster: str | None = None
    namespace: str | None = None
    app: str | None = None
    kind: str | None = None
    set_by: str = ""
    set_at: float = 0.0
    used_at: float = 0.0

    @property
    def layer(self) -> Layer:
        return Layer(self.cluster, self.namespace, self.app, self.kind if self.app else None)

    def to_data(self) -> Document:
        return {key: value for key, value in asdict(self).items() if key != "used_at"}

    @classmethod
    def from_data(cls, data: Document, used_at: float) -> SavedContext:
        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        return cls(
            cluster=text("cluster"),
            namespace=text("namespace"),
            app=text("app"),
            kind=text("kind"),
            set_by=str(data.get("set_by") or ""),
            set_at=float(data.get("set_at") or 0.0),
            used_at=used_at,
        )


@dataclass(frozen=True)
class Found:
    """A person's context as of now: the live one, or the one that just expired."""

    saved: SavedContext | None = None
    expired: SavedContext | None = None


def person_key(user: str, channel: str) -> str:
    return f"user:{user}:{channel}"


def channel_key(channel: str) -> str:
    return f"channel:{channel}"


class ContextBook:
    """Reads and writes saved contexts; decides expiry (times are epoch seconds)."""

    def __init__(self, store: ContextStore, *, idle_seconds: float) -> None:
        self._store = store
        self.idle_seconds = idle_seconds

    def person(self, user: str, channel: str, now: float) -> Found:
        """The person's live context in this channel (marked as used), or the one that
        expired (deleted now, so that it is reported once)."""
        key = person_key(user, channel)
        return self._found(key, self._read(key), now)

    def person_and_channel(self, user: str, channel: str, now: float) -> tuple[Found, SavedContext | None]:
        """`person` and `channel` in one read of the store (what every command needs first)."""
        mine, pinned = self._read_all([person_key(user, channel), channel_key(channel)])
        return self._found(person_key(user, channel), mine, now), pinned

    def _found(self, key: str, saved: SavedContext | None, now: float) -> Found:
        if saved is None:
            return Found()
        if now - saved.used_at > self.idle_seconds:
            self._store.delete_context(key)
            return Found(expired=saved)
        if now - saved.used_at >= TOUCH_EVERY:
            self._store.touch_context(key, now)
        return Found(saved=saved)

    def peek(self, user: str, channel: str, now: float) -> SavedContext | None:
        """The person's live context, without marking it used."""
        saved = self._read(person_key(user, channel))
        return saved if saved is not None and now - saved.used_at <= self.idle_seconds else None

    def channel(self, channel: str) -> SavedContext | None:
        return self._read(channel_key(channel))

    def set_person(self, user: str, channel: str, context: SavedContext, now: float) -> None:
        self._store.put_context(person_key(user, channel), context.to_data(), now)

    def set_channel(self, channel: str, context: SavedContext, now: float) -> None:
        self._store.put_context(channel_key(channel), context.to_data(), now)

    def clear_person(self, user: str, channel: str) -> bool:
        return self._store.delete_context(person_key(user, channel))

    def clear_channel(self, channel: str) -> bool:
        return self._store.delete_context(channel_key(channel))

    def expires_at(self, saved: SavedContext) -> float:
        return saved.used_at + self.idle_seconds

    def _read(self, key: str) -> SavedContext | None:
        return self._read_all([key])[0]

    def _read_all(self, keys: list[str]) -> list[SavedContext | None]:
        return [
            SavedContext.from_data(*found) if found is not None else None
            for found in self._store.contexts(keys)
        ]


class MemoryContexts:
    """A `ContextStore` in memory (the console without a store, tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, tuple[dict[str, Any], float]] = {}

    def contexts(self, keys: Sequence[str]) -> list[tuple[Document, float] | None]:
        with self._lock:
            found = [self._records.get(key) for key in keys]
        return [(dict(each[0]), each[1]) if each is not None else None for each in found]

    def put_context(self, key: str, data: Document, used_at: float) -> None:
        with self._lock:
            self._records[key] = (dict(data), used_at)

    def touch_context(self, key: str, used_at: float) -> None:
        with self._lock:
            if key in self._records:
                self._records[key] = (self._records[key][0], used_at)

    def delete_context(self, key: str) -> bool:
        with self._lock:
            return self._records.pop(key, None) is not None
