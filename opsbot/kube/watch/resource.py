"""One resumable list + watch of one resource in one scope, run as a thread body.

:class:`ResourceWatch` keeps one resource in one scope (a namespace, or all
namespaces) in sync: LIST (paginated) → ADDED per object → SYNCED → WATCH from the
list's resourceVersion. Streams are read line by line and decoded with
``orjson.loads`` (see :mod:`.cache`); the generated models are never built (they
cost ~35x more CPU), nor the generated API classes (requests go by path, see
:mod:`opsbot.kube.rest`).

    stream ends (timeoutSeconds) or drops ... re-watch from the last resourceVersion seen
    BOOKMARK ................................ moves the resume resourceVersion, emits nothing
    410 Gone (HTTP status or ERROR event) ... relist, emit only the differences, SYNCED
    5xx / refused / timeouts / anything else  warning per attempt, exponential backoff + jitter
    403 Forbidden ........................... one FORBIDDEN event, one error log, the watch ends
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from kubernetes.client.api_client import ApiClient
from kubernetes.client.exceptions import ApiException
from tenacity import RetryCallState, Retrying, wait_exponential_jitter

from opsbot.core.resources import RESOURCES, ResourceName
from opsbot.errors import ForbiddenError, KubeError, TemporaryKubeError
from opsbot.kube import rest
from opsbot.kube.errors import translate
from opsbot.kube.watch.cache import LineSplitter, WatchCache, WatchEvent, WatchExpired, WatchStreamError
from opsbot.kube.watch.health import WatchHealth, WatchState
from opsbot.kube.watch.stream import STREAM_ERRORS, close_response, read_chunks, shut_down
from opsbot.ports import KubeObject
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

_log = structlog.get_logger("opsbot.watch")

_ONE_PAGE = threading.Lock()


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
        api_client: ApiClient,
        cluster: str,
        resource: ResourceName,
        namespace: str | None,
        emit: Callable[[WatchEvent], None],
        *,
        timeout_seconds: int = 300,
        request_timeout: float = 10.0,
        stop: threading.Event,
        backoff_max: float = 30.0,
        sleep: Callable[[float], object] | None = None,
        page_size: int = 100,
        backoff_base: float = 0.5,
        errors: ErrorReporter = NOOP_ERRORS,
    ) -> None:
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r}; expected one of {', '.join(RESOURCES)}")
        watched = RESOURCES[resource]
        if namespace is not None and not watched.namespaced:
            raise ValueError(f"{resource} are cluster-scoped; namespace must be None")
        self._api_client = api_client
        self._path = rest.collection(watched.api_version, watched.name, namespace)
        self.cluster = cluster
        self.resource = resource
        self.namespace = namespace
        self.stop_event = stop
        self._emit = emit
        self._errors = errors
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
        self._resync = False  # set from another thread: relist, every object news again
        self._warm = False  # a resync relists a current watch: its rows stay served until it watches
        self._gone_streak = 0  # 410s since a stream last delivered anything
        self._finished = False
        self._lock = threading.Lock()
        self._response: Any = None
        # health counters (written by the watch thread, read through .health)
        self._state: WatchState = "starting"
        self._last_event_at: float | None = None
        self._synced = False
        self._relists = 0
        self._watches = 0
        self._gone = 0
        self._failures = 0
        self._consecutive = 0
        self._restarts = 0
        self._down_since: float | None = None  # the first failure since the watch last worked
        self._log = _log.bind(cluster=cluster, resource=resource, namespace=namespace)

    # public -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.cluster}/{self.resource}/{self.namespace or '*'}"

    @property
    def scope(self) -> str:
        if not RESOURCES[self.resource].namespaced:
            return "the cluster scope"
        return f"namespace `{self.namespace}`" if self.namespace else "all namespaces"

    @property
    def resource_version(self) -> str | None:
        """Where the next watch resumes (the last resourceVersion seen, events and bookmarks)."""
        return self._cache.resource_version

    @property
    def current(self) -> bool:
        """Its rows mirror the cluster: listed, the stream open (not backing off) or a resync relisting."""
        with self._lock:
            return self._synced and (self._state == "watching" or (self._state == "listing" and self._warm))

    @property
    def down_since(self) -> float | None:
        """When this watch started failing (epoch seconds); None while it works."""
        with self._lock:
            return self._down_since

    def rows(self) -> list[tuple[Any, ...]]:
        """Every cached object's row (pods, deployments, nodes; see `WatchCache.rows`)."""
        return self._cache.rows()

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
            if self._response is not None:
                shut_down(self._response)

    def resync(self) -> None:
        """Relist soon and emit every object as ADDED, then SYNCED (safe from any thread): a
        replica that became the alert leader sees the whole cluster through its detectors."""
        self._resync = True
        self.interrupt()

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
                self._down_since = None

    def _set_state(self, state: WatchState) -> None:
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
            self._state, self._warm = "backoff", False
            if self._down_since is None:
                self._down_since = time.time()
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
        if self._resync:
            self._resync, self._warm = False, self.current
            self._cache.forget()
            self._need_list = True
        if self._need_list:
            self._list()
        return self._watch()

    def _get(self, timeout: tuple[float, float], **query: Any) -> Any:
        try:
            return rest.request(self._api_client, "GET", self._path, query=query, timeout=timeout)
        except ApiException:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc

    def _list_page(self, token: str | None) -> bytes:
        """One page of the list, as the raw JSON the API server sent."""
        try:
            resp = self._get(self._list_timeout, limit=self._page_size, **{"continue": token})
        except ApiException as exc:
            if exc.status == 410 and token:
                raise WatchExpired("continue token expired") from exc
            raise self._translate(exc) from exc
        fully_read = False
        try:
            data: bytes = resp.data
            fully_read = True
        except STREAM_ERRORS as exc:
            raise self._translate(exc) from exc
        finally:
            close_response(resp, fully_read=fully_read)
        return data

    def _decode(self, data: bytes) -> KubeObject:
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
                data = self._list_page(token)
            except WatchExpired:
                if restarted:
                    raise
                restarted, token, seen = True, None, set()  # the snapshot is gone: start over
                continue
            # One decoded page at a time in the whole process, of 100 objects (250: a replica's
            # peak 127 against 116 MiB at 10k pods, bench.replicas): the watches list together
            # at start and relist on their own, and a decoded page is the biggest transient
            # thing a watch holds (100 pods: ~2.5 MB). Only the decoding waits its turn.
            with _ONE_PAGE:
                page = self._decode(data)
                del data
                meta = page.get("metadata") or {}
                token = meta.get("continue") or None
                events = self._cache.reconcile_page(page, seen, relist=relist)
                del page  # before the next one is decoded (the name would keep it alive until then)
            changes += len(events)
            events.reverse()
            while events:  # in order, each object let go of once handed on
                self._emit(events.pop())
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
            self._state, self._warm = "watching", False
        started = time.monotonic()
        try:
            resp = self._get(
                self._watch_timeout,
                watch=True,
                resourceVersion=self._cache.resource_version,
                allowWatchBookmarks=True,
                timeoutSeconds=self._timeout_seconds,
            )
        except ApiException as exc:
            if exc.status == 410:
                return self._gone_seen("http status")
            raise self._translate(exc) from exc
        with self._lock:
            if self.stop_event.is_set() or self._resync:
                close_response(resp, fully_read=False)
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
            except STREAM_ERRORS as exc:
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
            close_response(resp, fully_read=clean)
        if received:
            self._gone_streak = 0
        # A stream that delivered nothing and died at once is no progress (no hot loop).
        return received > 0 or self._resync or (clean and time.monotonic() - started >= 1.0)

    def _line(self, line: bytes) -> None:
        self._last_event_at = time.time()  # a plain assignment: atomic for readers
        event = self._cache.apply_line(line)
        if event is not None:
            self._emit(event)
