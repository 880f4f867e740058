"""Watches in threads: one daemon thread per :class:`ResourceWatch`, events handed to asyncio.

:class:`WatchRunner` runs each watch in a daemon thread, restarts a loop that
returned or crashed unexpectedly, and stops them all within about a second: the
in-flight response's socket is shut down from the stopping thread. :class:`Handoff`
hands events to an asyncio queue, a bounded number at a time (:func:`bridge`: unbounded). :func:`build_watches` makes the watches one
cluster needs for the resources asked for.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from kubernetes.client.api_client import ApiClient

from opsbot.core.resources import RESOURCES, ResourceName
from opsbot.kube.watch.cache import WatchEvent
from opsbot.kube.watch.health import WatchHealth
from opsbot.kube.watch.resource import ResourceWatch
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

_log = structlog.get_logger("opsbot.watch")


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


class _ReleasingQueue(asyncio.Queue[WatchEvent]):
    """An asyncio queue that frees one place of its Handoff for every event taken out."""

    def __init__(self, room: threading.Semaphore) -> None:
        super().__init__()
        self._room = room

    def get_nowait(self) -> WatchEvent:  # `get()` ends with it too
        event = super().get_nowait()
        self._room.release()
        return event


class Handoff:
    """Watch threads → an asyncio consumer, with at most `limit` events on their way.

    Events carry decoded objects (a realistic pod is ~25 KB of Python objects): a consumer
    that falls behind (an initial list of 10,000 pods arrives in seconds; alert cards go out
    at Slack's pace) must not make them pile up. A watch thread with no room waits, and its
    stream waits in the socket; the API server keeps the changes meanwhile.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: threading.Event, limit: int = 256) -> None:
        self._loop = loop
        self._stop = stop
        self._room = threading.Semaphore(limit)
        self.queue: asyncio.Queue[WatchEvent] = _ReleasingQueue(self._room)

    def emit(self, event: WatchEvent) -> None:
        """Hand `event` on (from a watch thread), waiting for room; dropped once the watches stop."""
        while not self._room.acquire(timeout=0.5):
            if self._stop.is_set() or self._loop.is_closed():
                _log.debug("watch event dropped: stopping", resource=event.resource, type=event.type)
                return
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: the bot is shutting down
            self._room.release()
            _log.debug("watch event dropped: event loop closed", resource=event.resource, type=event.type)


def bridge(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[WatchEvent]) -> Callable[[WatchEvent], None]:
    """An emit function for watch threads that puts events on ``queue`` inside ``loop``."""

    def emit(event: WatchEvent) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: the bot is shutting down
            _log.debug("watch event dropped: event loop closed", resource=event.resource, type=event.type)

    return emit


def build_watches(
    api_client: ApiClient,
    cluster: str,
    namespaces: Sequence[str] | None,
    emit: Callable[[WatchEvent], None],
    *,
    stop: threading.Event,
    resources: Sequence[ResourceName],
    **options: Any,
) -> list[ResourceWatch]:
    """One watch per namespaced resource per namespace (all namespaces when ``namespaces`` is None);
    cluster-scoped resources (nodes) once. ``resources``: what the alert detectors read
    (``AlertService.resources``)."""
    watches: list[ResourceWatch] = []
    for resource in resources:
        if not RESOURCES[resource].namespaced or namespaces is None:
            watches.append(ResourceWatch(api_client, cluster, resource, None, emit, stop=stop, **options))
            continue
        for namespace in namespaces:
            watches.append(
                ResourceWatch(api_client, cluster, resource, namespace, emit, stop=stop, **options)
            )
    return watches
