"""The pure part of a watch: decode lines, keep ``{uid: last version}``, emit :class:`WatchEvent`.

:class:`WatchCache` turns list pages and watch lines into events carrying ``old``;
the benchmark drives it directly. For the resources whose table entry says
``projected`` (pods, nodes, deployments: see ``opsbot.core.resources``) it does not
keep the whole last version but its *projection* (:func:`project`): kind,
apiVersion, the identifying metadata, the status and ``spec.replicas`` -- everything
the alert detectors read from ``old`` and nothing else (no pod spec, no
annotations). It keeps that as compact JSON bytes rather than as a dict: ~1.7 KiB
per realistic pod instead of ~25 KiB as a full dict (see bench/watch_throughput.py), bytes are
invisible to the cyclic GC, and decoding the projection for ``old`` costs about half
of decoding the whole object. Every event still carries private dicts the consumer
may keep or mutate. What opsbot never reads and weighs the most is dropped from
everything cached and emitted (:func:`slim`): ``metadata.managedFields``, the
``kubectl.kubernetes.io/last-applied-configuration`` annotation, a node's image list,
the kubelet's runtime details of each container. Events (the ``events`` resource) are
cached whole.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from opsbot.core.resources import RESOURCES, ResourceName, WatchEventType
from opsbot.core.rows import deployment_row, node_row, pod_row
from opsbot.ports import KubeObject

# What list commands show of each object, kept up to date by the watch (see `WatchCache.rows`).
ROWS: Mapping[ResourceName, Callable[[KubeObject], tuple[Any, ...]]] = {
    "pods": pod_row,
    "deployments": deployment_row,
    "nodes": node_row,
}

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class WatchEvent:
    """One change seen by a watch, as plain JSON dicts.

    ``obj`` is the object as the API server sent it (slimmed, see :func:`slim`).
    ``old`` is the previously known version *as projected* by :func:`project` for
    pods, nodes and deployments: kind, apiVersion, ``metadata`` (name, namespace,
    uid, resourceVersion, labels, ownerReferences, deletionTimestamp, generation),
    ``spec.replicas`` when present, and the whole ``status``; no other spec field,
    no annotations. Events carry their whole previous version. A DELETED event
    made by reconciling a relist has no fresh object either: its ``obj`` is that
    projection too.
    """

    cluster: str
    resource: ResourceName
    type: WatchEventType
    obj: KubeObject | None  # None for SYNCED / FORBIDDEN
    old: KubeObject | None  # the previous version (this watch's cache) as projected, None if first sight
    relist: bool = False  # produced by reconciling a relist against the cache


class WatchExpired(Exception):
    """The resourceVersion to resume from was compacted away (410 Gone)."""


class WatchStreamError(Exception):
    """The stream carried an ERROR event other than 410."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message


# Status fields opsbot never reads that make up much of an object: a node's image list
# (`status.images`, often 50 entries, most of a node's size) and the volumes the kubelet
# reports; in each container status, what the kubelet runs it with (v1.30+: resources, user,
# volume mounts). The same fields go from the cache and from the events, so that comparing an
# event's status with the cached one (`old`) still means something.
UNREAD_STATUS = ("images", "volumesInUse", "volumesAttached")
UNREAD_CONTAINER_STATUS = ("resources", "allocatedResources", "allocatedResourcesStatus", "user", "volumeMounts")
_CONTAINER_STATUSES = ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")


def slim(obj: KubeObject) -> bool:
    """Drop what opsbot never reads and costs the most memory; True if anything was dropped.

    ``metadata.managedFields`` (~2 KB of a 6 KB pod), the last-applied-configuration
    annotation (a copy of the whole manifest) and the status fields in :data:`UNREAD_STATUS`
    and :data:`UNREAD_CONTAINER_STATUS`.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return False
    changed = meta.pop("managedFields", None) is not None
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        del annotations[LAST_APPLIED]
        if not annotations:
            del meta["annotations"]
        changed = True
    status = obj.get("status")
    if isinstance(status, dict):
        for key in UNREAD_STATUS:
            if status.pop(key, None) is not None:
                changed = True
        for key in _CONTAINER_STATUSES:
            containers = status.get(key)
            if isinstance(containers, list):
                for container in containers:
                    if isinstance(container, dict):
                        for field in UNREAD_CONTAINER_STATUS:
                            if container.pop(field, None) is not None:
                                changed = True
    return changed


def _rv_int(rv: str | None) -> int | None:
    if rv is None:
        return None
    try:
        return int(rv)
    except ValueError:
        return None


def _newer(rv: str | None, than: str | None) -> bool:
    """True when ``rv`` is newer than ``than`` (resourceVersions are etcd revisions in practice;
    opaque ones are only told apart by equality)."""
    if than is None:
        return True
    a, b = _rv_int(rv), _rv_int(than)
    if a is not None and b is not None:
        return a > b
    return rv != than


def _identity(meta: dict[str, Any]) -> str:
    uid = meta.get("uid")
    if uid:
        return str(uid)
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


PROJECTED_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "labels",
    "ownerReferences",
    "deletionTimestamp",
    "generation",
)


def project(obj: KubeObject) -> KubeObject:
    """What the cache keeps of an object and hands back as ``old``: a new dict sharing the kept values.

    kind, apiVersion, the :data:`PROJECTED_METADATA` keys of ``metadata``,
    ``spec.replicas`` (deployments) and the whole ``status``, each only when present.
    """
    kept: KubeObject = {key: obj[key] for key in ("kind", "apiVersion") if key in obj}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        kept["metadata"] = {key: meta[key] for key in PROJECTED_METADATA if key in meta}
    spec = obj.get("spec")
    if isinstance(spec, dict) and "replicas" in spec:
        kept["spec"] = {"replicas": spec["replicas"]}
    if "status" in obj:
        kept["status"] = obj["status"]
    return kept


class _Stored:
    """One cached object: its resourceVersion and compact JSON (``wrapped``: a whole event line)."""

    __slots__ = ("data", "rv", "wrapped")

    def __init__(self, rv: str | None, data: bytes, wrapped: bool = False) -> None:
        self.rv = rv
        self.data = data
        self.wrapped = wrapped

    def decode(self) -> KubeObject:
        decoded = orjson.loads(self.data)
        obj: KubeObject = decoded["object"] if self.wrapped else decoded
        return obj


def _encode(obj: KubeObject) -> bytes:
    # orjson returns its bytes with the growth buffer still allocated (~2.7x the length for
    # a pod): the copy is exact-size, which is what a long-lived cache entry wants.
    return memoryview(orjson.dumps(obj)).tobytes()


class LineSplitter:
    """Splits a byte stream into newline-terminated lines, keeping partial lines across chunks."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """Complete, non-blank lines (without the newline) that ``chunk`` finishes."""
        if b"\n" not in chunk:
            if chunk:
                self._parts.append(chunk)
            return []
        if self._parts:
            self._parts.append(chunk)
            chunk = b"".join(self._parts)
            self._parts = []
        *lines, rest = chunk.split(b"\n")
        if rest:
            self._parts.append(rest)
        return [line for line in lines if line and not line.isspace()]

    def rest(self) -> bytes:
        """The unterminated tail (a stream that ended cleanly may lack the last newline)."""
        tail = b"".join(self._parts)
        self._parts = []
        return tail


class WatchCache:
    """The decoding and reconciling state of one watch: ``{uid: last version}`` + resume RV,
    and for pods, deployments and nodes the row list commands show of each (`rows`).

    One ResourceWatch thread owns it and is its only writer; `rows` may be read from any thread.
    """

    def __init__(self, cluster: str, resource: ResourceName) -> None:
        self.cluster = cluster
        self.resource = resource
        self.resource_version: str | None = None
        self._objects: dict[str, _Stored] = {}
        watched = RESOURCES[resource]
        self._kind, self._api_version = watched.kind, watched.api_version
        self._project = watched.projected
        self._row = ROWS.get(resource)
        self._rows: dict[str, tuple[Any, ...]] = {}
        self._rows_lock = threading.Lock()

    def rows(self) -> list[tuple[Any, ...]]:
        """A snapshot of every object's row (see `opsbot.core.rows`); safe from any thread."""
        with self._rows_lock:
            return list(self._rows.values())

    def _keep_row(self, uid: str, obj: KubeObject) -> None:
        if self._row is not None:
            row = self._row(obj)
            with self._rows_lock:
                self._rows[uid] = row

    def _drop_row(self, uid: str) -> None:
        if self._row is not None:
            with self._rows_lock:
                self._rows.pop(uid, None)

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, uid: object) -> bool:
        return uid in self._objects

    def get(self, uid: str) -> KubeObject | None:
        """A fresh copy of the cached version of ``uid`` (projected, see :func:`project`)."""
        stored = self._objects.get(uid)
        return stored.decode() if stored is not None else None

    def forget(self) -> None:
        """Forget every object (not the rows): the next list emits each one as ADDED."""
        self._objects.clear()

    def _advance(self, rv: str | None) -> None:
        if rv and _newer(rv, self.resource_version):
            self.resource_version = rv

    def _store(self, uid: str, rv: str | None, obj: KubeObject) -> None:
        self._keep_row(uid, obj)
        kept = project(obj) if self._project else obj
        self._objects[uid] = _Stored(rv, _encode(kept))

    def _event(
        self, etype: WatchEventType, obj: KubeObject | None, old: KubeObject | None, relist: bool = False
    ) -> WatchEvent:
        return WatchEvent(self.cluster, self.resource, etype, obj, old, relist)

    # watch lines ------------------------------------------------------------

    def apply_line(self, line: bytes) -> WatchEvent | None:
        """Decode one watch line and update the cache; None when there is nothing to emit.

        Raises WatchExpired for a 410 ERROR event, WatchStreamError for other ERROR
        events and ValueError for lines that are not watch events.
        """
        event = orjson.loads(line)
        if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
            raise ValueError(f"not a watch event: {line[:120]!r}")
        etype = event.get("type")
        obj: KubeObject = event["object"]
        if etype == "ERROR":
            code = obj.get("code")
            message = str(obj.get("message", ""))
            if code == 410:
                raise WatchExpired(message)
            raise WatchStreamError(int(code or 0), str(obj.get("reason", "")), message)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise ValueError(f"watch event without metadata: {line[:120]!r}")
        rv = meta.get("resourceVersion")
        if etype == "BOOKMARK":
            self._advance(rv)
            return None
        uid = _identity(meta)
        cached = self._objects.get(uid)
        if etype == "DELETED":
            self._advance(rv)
            if cached is None:
                return None  # already gone (a relist saw it missing) or never known
            del self._objects[uid]
            self._drop_row(uid)
            slim(obj)
            return self._event("DELETED", obj, cached.decode())
        if etype not in ("ADDED", "MODIFIED"):
            raise ValueError(f"unknown watch event type {etype!r}")
        if cached is not None and not _newer(rv, cached.rv):
            return None  # a duplicate after a resume
        self._advance(rv)
        if slim(obj) or self._project:
            self._store(uid, rv, obj)
        else:
            self._keep_row(uid, obj)
            self._objects[uid] = _Stored(rv, bytes(line), wrapped=True)
        return self._event(etype, obj, cached.decode() if cached is not None else None)

    # lists ---------------------------------------------------------------------

    def reconcile_page(self, page: KubeObject, seen: set[str], *, relist: bool) -> list[WatchEvent]:
        """Events for one list page: new uids ADDED, changed resourceVersions MODIFIED."""
        items = page.get("items") or []
        kind = str(page.get("kind") or "")
        kind = kind[: -len("List")] if kind.endswith("List") else self._kind
        api_version = str(page.get("apiVersion") or self._api_version)
        events: list[WatchEvent] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            meta = item.get("metadata")
            if not isinstance(meta, dict):
                continue
            uid = _identity(meta)
            seen.add(uid)
            rv = meta.get("resourceVersion")
            cached = self._objects.get(uid)
            if cached is not None and cached.rv == rv:
                continue
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
            slim(item)
            self._store(uid, rv, item)
            if cached is None:
                events.append(self._event("ADDED", item, None, relist))
            else:
                events.append(self._event("MODIFIED", item, cached.decode(), relist))
        return events

    def reconcile_end(self, seen: set[str], resource_version: str, *, relist: bool) -> list[WatchEvent]:
        """After the last page: cached uids the list did not show are DELETED; resume from the list RV."""
        events: list[WatchEvent] = []
        for uid in [uid for uid in self._objects if uid not in seen]:
            last = self._objects.pop(uid)
            self._drop_row(uid)
            events.append(self._event("DELETED", last.decode(), last.decode(), relist))
        with self._rows_lock:  # rows kept across `forget` whose object is gone
            for uid in [uid for uid in self._rows if uid not in seen]:
                del self._rows[uid]
        self.resource_version = resource_version
        events.append(self._event("SYNCED", None, None, relist))
        return events
