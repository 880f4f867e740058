"""Versioned object store with watch fan-out, the fake's stand-in for etcd + watch cache.

Stored objects are immutable once committed: every write makes a new dict and
serializes it exactly once. List responses and watch events reuse those bytes,
so 10k-object lists and many watchers stay cheap. All mutation happens under one
re-entrant lock; watch events are queued to each watcher while the lock is held,
which keeps every stream in resourceVersion order without extra coordination.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from .resources import Obj, ResourceType
from .selectors import FieldSelector, LabelSelector


def dumps(obj: Any) -> bytes:
    """Compact JSON as the API server writes it (UTF-8, no spaces)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


@dataclass(slots=True, eq=False)
class Entry:
    """One committed version of an object; ``obj`` must never be mutated."""

    obj: Obj
    raw: bytes
    seq: int  # resourceVersion at creation: orders "newest" even within one second

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        """``metadata.namespace`` or ``""`` for cluster-scoped objects."""
        return str(self.obj["metadata"].get("namespace") or "")

    @property
    def rv(self) -> int:
        """The resourceVersion of this version as an int."""
        return int(self.obj["metadata"]["resourceVersion"])

    def copy(self) -> Obj:
        """A private deep copy (a JSON round-trip is faster than deepcopy here)."""
        result: Obj = orjson.loads(self.raw)
        return result


@dataclass(slots=True, eq=False)
class Change:
    """One entry of the watch history."""

    rv: int
    rt: ResourceType
    type: str
    new: Entry  # for DELETED: the final state, stamped with the deletion's rv
    old: Entry | None
    cached_line: bytes | None = None  # set only while fanning out, so history keeps one copy

    @property
    def line(self) -> bytes:
        """The event exactly as committed (``{"type":…,"object":…}\\n``)."""
        return self.cached_line if self.cached_line is not None else event_line(self.type, self.new.raw)


class Signal:
    """Out-of-band instruction queued to a watch stream."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Signal({self.name})"


CLOSE = Signal("close")  # finish the stream cleanly (terminating chunk)
DROP = Signal("drop")  # cut the connection without finishing the response


def event_line(etype: str, raw: bytes) -> bytes:
    """Newline-terminated watch event framing around already serialized object bytes."""
    return b'{"type":"' + etype.encode() + b'","object":' + raw + b"}\n"


class Watcher:
    """One open watch: its filter and the queue its HTTP stream drains."""

    __slots__ = ("bookmarks", "fields", "labels", "namespace", "queue", "rt", "start_rv")

    def __init__(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        *,
        bookmarks: bool,
        start_rv: int,
    ) -> None:
        self.rt = rt
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.bookmarks = bookmarks
        self.start_rv = start_rv
        self.queue: queue.SimpleQueue[bytes | Signal] = queue.SimpleQueue()

    def matches(self, obj: Obj) -> bool:
        """Namespace, label and field filters of this watch."""
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if not self.labels.empty and not self.labels.matches(meta.get("labels")):
            return False
        return self.fields.empty or self.fields.matches(obj)

    def line_for(self, change: Change) -> bytes | None:
        """The bytes this watcher must see for ``change``, if any.

        Like the watch cache, an object moving into or out of the filter is seen
        as ADDED or DELETED rather than MODIFIED.
        """
        new_m = self.matches(change.new.obj)
        if change.type != "MODIFIED" or change.old is None:
            return change.line if new_m else None
        filtered = not self.labels.empty or not self.fields.empty
        old_m = self.matches(change.old.obj) if filtered else new_m
        if new_m and old_m:
            return change.line
        if new_m:
            return event_line("ADDED", change.new.raw)
        if old_m:
            return event_line("DELETED", change.new.raw)
        return None

    def offer(self, change: Change) -> None:
        """Queue ``change`` unless it predates this watch's initial snapshot."""
        if change.rv <= self.start_rv:
            return
        line = self.line_for(change)
        if line is not None:
            self.queue.put(line)


class Gone(Exception):
    """The requested resourceVersion was compacted away."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class Store:
    """Objects by resource/namespace/name, a global resourceVersion and watch history."""

    def __init__(self, history_limit: int) -> None:
        self.lock = threading.RLock()
        self.watch_cond = threading.Condition(self.lock)
        self.rv = 1
        self.compacted = 1
        self.history_limit = history_limit
        self.history: deque[Change] = deque()
        self.objects: dict[ResourceType, dict[str, dict[str, Entry]]] = {}
        self.watchers: dict[ResourceType, set[Watcher]] = {}

    # ------------------------------------------------------------ reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry | None:
        """Current version or None."""
        return self.objects.get(rt, {}).get(namespace, {}).get(name)

    def entries(self, rt: ResourceType, namespace: str | None = None) -> list[Entry]:
        """Current objects in etcd key order (``ns/name`` string order)."""
        by_ns = self.objects.get(rt, {})
        if namespace is not None:
            bucket = by_ns.get(namespace, {})
            return [bucket[k] for k in sorted(bucket)]
        if not rt.namespaced:
            bucket = by_ns.get("", {})
            return [bucket[k] for k in sorted(bucket)]
        keyed = [(f"{ns}/{name}", e) for ns, bucket in by_ns.items() for name, e in bucket.items()]
        keyed.sort(key=lambda kv: kv[0])
        return [e for _, e in keyed]

    def iter_namespace(self, namespace: str) -> Iterator[tuple[ResourceType, Entry]]:
        """Every stored object in a namespace (for namespace deletion)."""
        for rt, by_ns in list(self.objects.items()):
            for entry in list(by_ns.get(namespace, {}).values()):
                yield rt, entry

    # ------------------------------------------------------------ writes

    def commit(self, rt: ResourceType, etype: str, obj: Obj | None, old: Entry | None) -> Entry:
        """Stamp a new resourceVersion, store (or remove), record history, fan out.

        ``obj`` is the new content for ADDED/MODIFIED; for DELETED it is ignored
        and the final state is ``old`` with the deletion's resourceVersion.
        """
        self.rv += 1
        rv = self.rv
        if etype == "DELETED":
            assert old is not None
            obj = old.copy()
        assert obj is not None
        meta = dict(obj.get("metadata") or {})
        meta["resourceVersion"] = str(rv)
        body = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata")}
        final: Obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta, **body}
        raw = dumps(final)
        entry = Entry(final, raw, old.seq if old is not None else rv)
        ns = str(meta.get("namespace") or "")
        name = str(meta["name"])
        bucket = self.objects.setdefault(rt, {}).setdefault(ns, {})
        if etype == "DELETED":
            bucket.pop(name, None)
            if not bucket:
                self.objects[rt].pop(ns, None)
        else:
            bucket[name] = entry
        change = Change(rv, rt, etype, entry, old, event_line(etype, raw))
        self.history.append(change)
        while len(self.history) > self.history_limit:
            dropped = self.history.popleft()
            self.compacted = dropped.rv
        for w in self.watchers.get(rt, ()):
            w.offer(change)
        change.cached_line = None
        return entry

    def compact(self) -> None:
        """Forget all history: resuming a watch from any older rv now fails with 410."""
        with self.lock:
            self.history.clear()
            self.compacted = self.rv

    # ------------------------------------------------------------ watches

    def open_watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        *,
        since: int | None,
        bookmarks: bool,
        initial_events_end: bool = False,
    ) -> Watcher:
        """Register a watcher with its backlog queued atomically (no gaps, no dupes).

        ``since=None`` replays the current state as synthetic ADDED events.
        Raises :class:`Gone` when ``since`` predates the compaction point.
        """
        with self.lock:
            w = Watcher(rt, namespace, labels, fields, bookmarks=bookmarks, start_rv=self.rv)
            lines: list[bytes] = []
            if since is None:
                for e in self.entries(rt, namespace):
                    if w.matches(e.obj):
                        lines.append(event_line("ADDED", e.raw))
                if initial_events_end:
                    lines.append(self.bookmark_line(rt, initial_end=True))
            else:
                if since < self.compacted:
                    raise Gone(since, self.compacted)
                backlog: list[Change] = []
                for change in reversed(self.history):
                    if change.rv <= since:
                        break
                    if change.rt is rt:
                        backlog.append(change)
                for change in reversed(backlog):
                    line = w.line_for(change)
                    if line is not None:
                        lines.append(line)
            for line in lines:
                w.queue.put(line)
            self.watchers.setdefault(rt, set()).add(w)
            self.watch_cond.notify_all()
            return w

    def close_watch(self, w: Watcher) -> None:
        """Unregister a watcher (its stream ended)."""
        with self.lock:
            ws = self.watchers.get(w.rt)
            if ws is not None:
                ws.discard(w)
            self.watch_cond.notify_all()

    def all_watchers(self) -> list[Watcher]:
        """Snapshot of every open watcher."""
        with self.lock:
            return [w for ws in self.watchers.values() for w in ws]

    @property
    def open_watches(self) -> int:
        """Number of registered watchers."""
        with self.lock:
            return sum(len(ws) for ws in self.watchers.values())

    def bookmark_line(self, rt: ResourceType, *, initial_end: bool = False) -> bytes:
        """A BOOKMARK event at the current resourceVersion (call with the lock held)."""
        meta: Obj = {"resourceVersion": str(self.rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return event_line(
            "BOOKMARK", dumps({"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta})
        )

    def send_bookmark(self, w: Watcher) -> None:
        """Queue a bookmark behind every event already queued to ``w``."""
        with self.lock:
            w.queue.put(self.bookmark_line(w.rt))

    def signal_all(self, sig: Signal, watchers: Iterable[Watcher] | None = None) -> None:
        """Queue a signal to watchers (all by default)."""
        for w in list(watchers) if watchers is not None else self.all_watchers():
            w.queue.put(sig)
