"""Resumable raw watches of pods, nodes, deployments and events, run in background threads.

One :class:`ResourceWatch` keeps one resource in one scope (a namespace, or all
namespaces) in sync: LIST (paginated) → ADDED per object → SYNCED → WATCH from the
list's resourceVersion. Streams are read line by line and decoded with
``orjson.loads``; the generated models are never built (they cost ~35x more CPU).

    stream ends (timeoutSeconds) or drops ... re-watch from the last resourceVersion seen
    BOOKMARK ................................ moves the resume resourceVersion, emits nothing
    410 Gone (HTTP status or ERROR event) ... relist, emit only the differences, SYNCED
    5xx / refused / timeouts / anything else  warning per attempt, exponential backoff + jitter
    403 Forbidden ........................... one FORBIDDEN event, one error log, the watch ends

:class:`WatchCache` is the pure part (decode a line, keep ``{uid: last version}``,
produce :class:`WatchEvent` with ``old``); the benchmark drives it directly. For
pods, nodes and deployments it does not keep the whole last version but its
*projection* (:func:`project`): kind, apiVersion, the identifying metadata, the
status and ``spec.replicas`` -- everything the alert detectors read from ``old``
and nothing else (no pod spec, no annotations). It keeps that as compact JSON bytes
rather than as a dict: ~1.9 KiB per pod instead of ~12 KiB as a full dict (see
bench/watch_throughput.py), bytes are invisible to the cyclic GC, and decoding the
projection for ``old`` costs about half of decoding the whole object. Every event
still carries private dicts the consumer may keep or mutate. ``metadata.managedFields``
and the ``kubectl.kubernetes.io/last-applied-configuration`` annotation are dropped
from everything cached and emitted. Events (the ``events`` resource) are cached whole.

:class:`WatchRunner` runs each watch in a daemon thread, restarts a loop that
returned or crashed unexpectedly, and stops them all within about a second: the
in-flight response's socket is shut down from the stopping thread. :func:`bridge`
hands events to an asyncio queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from tenacity import RetryCallState, Retrying, wait_exponential_jitter

from opsbot.errors import ForbiddenError, KubeError, TemporaryKubeError
from opsbot.kube.client import translate
from opsbot.ports import KubeObject
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

__all__ = [
    "RESOURCES",
    "LineSplitter",
    "ResourceWatch",
    "WatchCache",
    "WatchEvent",
    "WatchExpired",
    "WatchHealth",
    "WatchRunner",
    "WatchStreamError",
    "bridge",
    "build_watches",
    "project",
    "read_chunks",
    "slim",
]

_log = structlog.get_logger("opsbot.watch")

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# resource -> (API class, namespaced list method or None when cluster-scoped, all-namespaces method)
RESOURCES: dict[str, tuple[str, str | None, str]] = {
    "pods": ("core", "list_namespaced_pod", "list_pod_for_all_namespaces"),
    "nodes": ("core", None, "list_node"),
    "deployments": ("apps", "list_namespaced_deployment", "list_deployment_for_all_namespaces"),
    "events": ("core", "list_namespaced_event", "list_event_for_all_namespaces"),
}

_KINDS = {"pods": ("Pod", "v1"), "nodes": ("Node", "v1"), "deployments": ("Deployment", "apps/v1")}

# What a dropped or broken connection looks like while reading a stream.
_STREAM_ERRORS: tuple[type[Exception], ...] = (
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


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
    resource: str  # "pods" | "nodes" | "deployments" | "events"
    type: str  # "ADDED" | "MODIFIED" | "DELETED" | "SYNCED" | "FORBIDDEN"
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


# ---------------------------------------------------------------------------- pure part


def slim(obj: KubeObject) -> bool:
    """Drop what opsbot never reads and costs the most memory; True if anything was dropped."""
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
    """The decoding and reconciling state of one watch: ``{uid: last version}`` + resume RV.

    Not thread-safe; one ResourceWatch thread owns it.
    """

    def __init__(self, cluster: str, resource: str) -> None:
        self.cluster = cluster
        self.resource = resource
        self.resource_version: str | None = None
        self._objects: dict[str, _Stored] = {}
        kind = _KINDS.get(resource)
        self._kind, self._api_version = kind if kind else ("Event", "v1")
        self._project = kind is not None  # pods, nodes, deployments: keep the projection only

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, uid: object) -> bool:
        return uid in self._objects

    def get(self, uid: str) -> KubeObject | None:
        """A fresh copy of the cached version of ``uid`` (projected, see :func:`project`)."""
        stored = self._objects.get(uid)
        return stored.decode() if stored is not None else None

    def _advance(self, rv: str | None) -> None:
        if rv and _newer(rv, self.resource_version):
            self.resource_version = rv

    def _store(self, uid: str, rv: str | None, obj: KubeObject) -> None:
        kept = project(obj) if self._project else obj
        self._objects[uid] = _Stored(rv, _encode(kept))

    def _event(
        self, etype: str, obj: KubeObject | None, old: KubeObject | None, relist: bool = False
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
            events.append(self._event("DELETED", last.decode(), last.decode(), relist))
        self.resource_version = resource_version
        events.append(self._event("SYNCED", None, None, relist))
        return events


# ---------------------------------------------------------------------------- health


@dataclass(frozen=True)
class WatchHealth:
    """A snapshot of one watch's health, safe to read from any thread."""

    cluster: str
    resource: str
    namespace: str | None
    state: str  # "starting" | "listing" | "watching" | "backoff" | "forbidden" | "stopped"
    last_event_at: float | None  # time.time() of the last line received (events and bookmarks)
    synced: bool  # the first list completed
    cached: int  # objects in the cache
    relists: int  # lists after the first one (410 Gone, recovery)
    rewatches: int  # watch requests after the first one (stream timeouts, drops)
    gone: int  # 410 Gone seen (HTTP status or ERROR event)
    failures: int  # failed attempts in total
    consecutive_failures: int
    restarts: int  # loops restarted by WatchRunner after returning or crashing unexpectedly


# ---------------------------------------------------------------------------- the loop


def read_chunks(resp: Any) -> Iterator[bytes]:
    """The body of a streaming urllib3 response as it arrives (each HTTP chunk when chunked)."""
    if getattr(resp, "chunked", False) and resp.supports_chunked_reads():
        yield from resp.read_chunked(decode_content=True)
        return
    while True:
        data: bytes = resp.read1(65536)
        if not data:
            return
        yield data


def _close(resp: Any, *, fully_read: bool) -> None:
    """Give a ``_preload_content=False`` response's connection back (closed unless fully read)."""
    with contextlib.suppress(Exception):
        if not fully_read:
            resp.close()
        resp.release_conn()


class _Forbidden(Exception):
    def __init__(self, error: ForbiddenError) -> None:
        super().__init__(str(error))
        self.error = error


class ResourceWatch:
    """list + watch of one resource in one scope (a namespace, or all namespaces when namespace is None).

    ``run()`` is the thread body; it loops until ``stop`` is set (or the watch is
    forbidden) and never raises. Call :meth:`stop` (or let WatchRunner do it) to
    also unblock a read on a quiet stream; setting the event alone is noticed at
    the next line, bookmark or stream end.
    """

    def __init__(
        self,
        api_client: k8s.ApiClient,
        cluster: str,
        resource: str,
        namespace: str | None,
        emit: Callable[[WatchEvent], None],
        *,
        timeout_seconds: int = 300,
        request_timeout: float = 10.0,
        stop: threading.Event,
        backoff_max: float = 30.0,
        sleep: Callable[[float], object] | None = None,
        page_size: int = 500,
        backoff_base: float = 0.5,
        errors: ErrorReporter = NOOP_ERRORS,
    ) -> None:
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r}; expected one of {', '.join(RESOURCES)}")
        group, namespaced_method, all_method = RESOURCES[resource]
        if namespace is not None and namespaced_method is None:
            raise ValueError(f"{resource} are cluster-scoped; namespace must be None")
        api: Any = k8s.CoreV1Api(api_client) if group == "core" else k8s.AppsV1Api(api_client)
        self.cluster = cluster
        self.resource = resource
        self.namespace = namespace
        self.stop_event = stop
        self._emit = emit
        self._errors = errors
        self._args: tuple[str, ...] = (namespace,) if namespace is not None else ()
        self._call: Callable[..., Any] = getattr(
            api, namespaced_method if namespace is not None and namespaced_method else all_method
        )
        self._timeout_seconds = timeout_seconds
        self._list_timeout = (request_timeout, request_timeout)
        self._watch_timeout = (request_timeout, float(timeout_seconds + 30))
        self._page_size = page_size
        self._sleep: Callable[[float], object] = sleep if sleep is not None else stop.wait
        self._wait = wait_exponential_jitter(
            multiplier=backoff_base, max=backoff_max, jitter=min(backoff_base, backoff_max)
        )
        self._cache = WatchCache(cluster, resource)
        self._need_list = True
        self._gone_streak = 0  # 410s since a stream last delivered anything
        self._finished = False
        self._lock = threading.Lock()
        self._response: Any = None
        # health counters (written by the watch thread, read through .health)
        self._state = "starting"
        self._last_event_at: float | None = None
        self._synced = False
        self._relists = 0
        self._watches = 0
        self._gone = 0
        self._failures = 0
        self._consecutive = 0
        self._restarts = 0
        self._log = _log.bind(cluster=cluster, resource=resource, namespace=namespace)

    # public -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.cluster}/{self.resource}/{self.namespace or '*'}"

    @property
    def scope(self) -> str:
        if RESOURCES[self.resource][1] is None:
            return "the cluster scope"
        return f"namespace `{self.namespace}`" if self.namespace else "all namespaces"

    @property
    def resource_version(self) -> str | None:
        """Where the next watch resumes (the last resourceVersion seen, events and bookmarks)."""
        return self._cache.resource_version

    @property
    def finished(self) -> bool:
        """True once run() returned for a reason that is not a bug (stop, or forbidden)."""
        return self._finished or self.stop_event.is_set()

    @property
    def health(self) -> WatchHealth:
        with self._lock:
            return WatchHealth(
                cluster=self.cluster,
                resource=self.resource,
                namespace=self.namespace,
                state=self._state,
                last_event_at=self._last_event_at,
                synced=self._synced,
                cached=len(self._cache),
                relists=self._relists,
                rewatches=max(self._watches - 1, 0),
                gone=self._gone,
                failures=self._failures,
                consecutive_failures=self._consecutive,
                restarts=self._restarts,
            )

    def stop(self) -> None:
        """Set the stop event and unblock a read in progress."""
        self.stop_event.set()
        self.interrupt()

    def interrupt(self) -> None:
        """Shut the socket of the in-flight stream (safe from any thread): its read returns at once."""
        # Under the lock: the reader cannot release the connection (to be reused by another
        # request from the pool) while we shut its socket.
        with self._lock:
            resp = self._response
            if resp is None:
                return
            try:
                resp.shutdown()  # urllib3 >= 2.3: shutdown(SHUT_RD) of the response's socket
            except Exception:
                conn = getattr(resp, "connection", None)
                sock = getattr(conn, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def note_restart(self) -> None:
        """Counted by WatchRunner when it restarts this loop."""
        with self._lock:
            self._restarts += 1

    def run(self) -> None:
        """The thread body: list, watch, resume, relist, back off; until stop (or forbidden)."""
        self._finished = False
        while not self.stop_event.is_set():
            try:
                progressed = self._cycle()
            except _Forbidden as forbidden:
                self._forbidden(forbidden.error)
                return
            except (KubeError, WatchStreamError) as err:
                self._fail(err, unexpected=False)
                continue
            except Exception as exc:
                self._fail(exc, unexpected=True)
                continue
            if progressed:
                self._recovered()
            else:
                self._fail(None, unexpected=False)
        self._set_state("stopped")
        self._finished = True

    # the loop's steps --------------------------------------------------------

    def _recovered(self) -> None:
        if self._consecutive:
            self._log.info("watch recovered", after_attempts=self._consecutive)
            with self._lock:
                self._consecutive = 0

    def _set_state(self, state: str) -> None:
        with self._lock:
            self._state = state

    def _backoff(self) -> float:
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = self._consecutive
        return float(self._wait(state))

    def _fail(self, error: BaseException | None, *, unexpected: bool) -> None:
        with self._lock:
            self._failures += 1
            self._consecutive += 1
            self._state = "backoff"
        if self.stop_event.is_set():
            return
        delay = self._backoff()
        fields: dict[str, Any] = {"attempt": self._consecutive, "retry_in": round(delay, 2)}
        if error is None:
            self._log.warning("watch stream ended without progress; backing off", **fields)
        elif unexpected:
            self._log.exception("watch loop error; backing off", error=repr(error), **fields)
            self._errors.capture(
                error, where="watch", cluster=self.cluster, resource=self.resource, namespace=self.namespace
            )
        elif isinstance(error, (TemporaryKubeError, WatchStreamError)):
            self._log.warning("watch request failed; backing off", error=str(error), **fields)
        else:
            self._log.error("watch request refused; backing off", error=str(error), **fields)
        self._sleep(delay)

    def _forbidden(self, error: ForbiddenError) -> None:
        with self._lock:
            self._state = "forbidden"
        self._finished = True
        self._log.error(
            f"watch of {self.resource} in {self.scope} is forbidden; alerts from it are off. "
            "opsbot needs the cluster-wide overlay (ClusterRole) or a Role granting list and watch "
            f"on {self.resource} there.",
            error=str(error),
        )
        try:
            self._emit(WatchEvent(self.cluster, self.resource, "FORBIDDEN", None, None))
        except Exception:  # the watch ends either way; a restart would only repeat the 403
            self._log.exception("could not hand over the FORBIDDEN event")

    def _translate(self, exc: Exception) -> KubeError:
        error = translate(exc, cluster=self.cluster, what=self.resource, namespace=self.namespace)
        if isinstance(error, ForbiddenError):
            raise _Forbidden(error) from exc
        return error

    def _cycle(self) -> bool:
        """One list (when needed) and one watch stream; True when it made progress."""
        if self._need_list:
            self._list()
        return self._watch()

    def _get(self, **kwargs: Any) -> Any:
        try:
            return self._call(*self._args, _preload_content=False, **kwargs)
        except ApiException:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc

    def _list_page(self, token: str | None) -> KubeObject:
        try:
            resp = self._get(limit=self._page_size, _continue=token, _request_timeout=self._list_timeout)
        except ApiException as exc:
            if exc.status == 410 and token:
                raise WatchExpired("continue token expired") from exc
            raise self._translate(exc) from exc
        fully_read = False
        try:
            data = resp.data
            fully_read = True
        except _STREAM_ERRORS as exc:
            raise self._translate(exc) from exc
        finally:
            _close(resp, fully_read=fully_read)
        page = orjson.loads(data)
        if not isinstance(page, dict):
            raise TemporaryKubeError(f"cluster `{self.cluster}` sent a list that is not an object")
        return page

    def _list(self) -> None:
        relist = self._synced
        self._set_state("listing")
        self._log.info("relisting" if relist else "listing")
        seen: set[str] = set()
        token: str | None = None
        restarted = False
        changes = 0
        while True:
            try:
                page = self._list_page(token)
            except WatchExpired:
                if restarted:
                    raise
                restarted, token, seen = True, None, set()  # the snapshot is gone: start over
                continue
            for event in self._cache.reconcile_page(page, seen, relist=relist):
                changes += 1
                self._emit(event)
            meta = page.get("metadata") or {}
            token = meta.get("continue") or None
            if not token:
                break
        rv = str(meta.get("resourceVersion") or "")
        events = self._cache.reconcile_end(seen, rv, relist=relist)
        for event in events:
            self._emit(event)
        with self._lock:
            if relist:
                self._relists += 1
            self._synced = True
        self._need_list = False
        changes += len(events) - 1
        self._log.info("synced", objects=len(self._cache), changes=changes, resource_version=rv)

    def _gone_seen(self, how: str) -> bool:
        with self._lock:
            self._gone += 1
        self._need_list = True
        self._log.info(
            "watch expired (410 Gone); relisting", how=how, resource_version=self._cache.resource_version
        )
        self._gone_streak += 1
        # Relist at once the first time; a 410 again before any stream delivered anything
        # is no progress (no list/410 hot loop against a confused server).
        return self._gone_streak == 1

    def _watch(self) -> bool:
        with self._lock:
            self._watches += 1
            self._state = "watching"
        started = time.monotonic()
        try:
            resp = self._get(
                watch=True,
                resource_version=self._cache.resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=self._timeout_seconds,
                _request_timeout=self._watch_timeout,
            )
        except ApiException as exc:
            if exc.status == 410:
                return self._gone_seen("http status")
            raise self._translate(exc) from exc
        with self._lock:
            if self.stop_event.is_set():
                _close(resp, fully_read=False)
                return True
            self._response = resp
        received = 0
        clean = False
        try:
            lines = LineSplitter()
            try:
                for chunk in read_chunks(resp):
                    for line in lines.feed(chunk):
                        if not received:
                            self._recovered()  # a stream that delivers is the sign of health
                        received += 1
                        self._line(line)
                    if self.stop_event.is_set():
                        break
                else:
                    clean = True
                    tail = lines.rest()
                    if tail.strip():
                        received += 1
                        self._line(tail)
            except _STREAM_ERRORS as exc:
                if not self.stop_event.is_set():
                    self._log.info("watch stream dropped", error=repr(exc), events=received)
            else:
                if clean:
                    self._log.debug("watch stream ended", events=received)
        except WatchExpired:
            return self._gone_seen("error event")
        except WatchStreamError as err:
            if err.code == 403:
                raise _Forbidden(ForbiddenError(str(err), cluster=self.cluster)) from err
            raise
        finally:
            with self._lock:
                self._response = None
            _close(resp, fully_read=clean)
        if received:
            self._gone_streak = 0
        # A stream that delivered nothing and died at once is no progress (no hot loop).
        return received > 0 or (clean and time.monotonic() - started >= 1.0)

    def _line(self, line: bytes) -> None:
        self._last_event_at = time.time()  # a plain assignment: atomic for readers
        event = self._cache.apply_line(line)
        if event is not None:
            self._emit(event)


# ---------------------------------------------------------------------------- runner


class WatchRunner:
    """Starts one daemon thread per ResourceWatch, restarts a crashed loop (logged), stops them all."""

    def __init__(
        self,
        watches: Sequence[ResourceWatch],
        *,
        restart_delay: float = 1.0,
        errors: ErrorReporter = NOOP_ERRORS,
    ) -> None:
        self.watches = list(watches)
        self._restart_delay = restart_delay
        self._errors = errors
        self._threads: list[threading.Thread] = []
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for watch in self.watches:
            thread = threading.Thread(
                target=self._supervise, args=(watch,), name=f"watch:{watch.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        # Whoever sets a stop event (not only stop()) also unblocks the quiet streams it ends.
        by_event: dict[int, list[ResourceWatch]] = {}
        for watch in self.watches:
            by_event.setdefault(id(watch.stop_event), []).append(watch)
        for group in by_event.values():
            threading.Thread(
                target=self._interrupt_on_stop, args=(group,), name="watch:stopper", daemon=True
            ).start()

    @staticmethod
    def _interrupt_on_stop(group: list[ResourceWatch]) -> None:
        group[0].stop_event.wait()
        for watch in group:
            watch.interrupt()

    def _supervise(self, watch: ResourceWatch) -> None:
        log = _log.bind(cluster=watch.cluster, resource=watch.resource, namespace=watch.namespace)
        while True:
            try:
                watch.run()
            except Exception as exc:
                log.exception("watch loop crashed; restarting it")
                self._errors.capture(
                    exc,
                    where="watch",
                    cluster=watch.cluster,
                    resource=watch.resource,
                    namespace=watch.namespace,
                )
            else:
                if watch.finished:
                    return
                log.error("watch loop returned unexpectedly; restarting it")
            if watch.stop_event.is_set():
                return
            watch.note_restart()
            watch.stop_event.wait(self._restart_delay)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every watch and wait up to ``timeout`` seconds in total for their threads."""
        for watch in self.watches:
            watch.stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            _log.warning("watch threads still running after stop", threads=alive, timeout=timeout)

    @property
    def alive(self) -> int:
        return sum(1 for t in self._threads if t.is_alive())

    def health(self) -> list[WatchHealth]:
        return [watch.health for watch in self.watches]


def bridge(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[WatchEvent]) -> Callable[[WatchEvent], None]:
    """An emit function for watch threads that puts events on ``queue`` inside ``loop``."""

    def emit(event: WatchEvent) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: the bot is shutting down
            _log.debug("watch event dropped: event loop closed", resource=event.resource, type=event.type)

    return emit


def build_watches(
    api_client: k8s.ApiClient,
    cluster: str,
    namespaces: Sequence[str] | None,
    emit: Callable[[WatchEvent], None],
    *,
    stop: threading.Event,
    resources: Sequence[str] = ("pods", "nodes", "deployments"),
    **options: Any,
) -> list[ResourceWatch]:
    """One watch per namespaced resource per namespace (all namespaces when ``namespaces`` is None);
    cluster-scoped resources (nodes) once."""
    watches: list[ResourceWatch] = []
    for resource in resources:
        if RESOURCES[resource][1] is None or namespaces is None:
            watches.append(ResourceWatch(api_client, cluster, resource, None, emit, stop=stop, **options))
            continue
        for namespace in namespaces:
            watches.append(
                ResourceWatch(api_client, cluster, resource, namespace, emit, stop=stop, **options)
            )
    return watches
