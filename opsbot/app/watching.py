"""The watches of every configured cluster, started once Slack is up: they keep the command
caches current and feed the alert pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Collection

import structlog

from opsbot.alerts.service import AlertService
from opsbot.app.parts import BotParts
from opsbot.config import Settings
from opsbot.core.resources import FLUX_RESOURCES, ResourceName
from opsbot.kube.client import KubeClient
from opsbot.kube.watch import Handoff, ResourceWatch, WatchEvent, WatchRunner, build_watches
from opsbot.releases.targets import flux_objects
from opsbot.releases.tracker import ReleaseTracker

log = structlog.get_logger("opsbot")

# What the command caches keep (see opsbot.kube.rows).
CACHED: tuple[ResourceName, ...] = ("pods", "deployments", "nodes")
# What the release tracker follows (opsbot.releases.tracker).
FOLLOWED = frozenset({"deployments", *FLUX_RESOURCES.values()})


def _only(resources: Collection[str], emit: Callable[[WatchEvent], None]) -> Callable[[WatchEvent], None]:
    """Hand on events of `resources` only (the alert pipeline ignores the rest)."""

    def forward(event: WatchEvent) -> None:
        if event.resource in resources:
            emit(event)

    return forward


def _fan_out(consumers: list[Callable[[WatchEvent], None]]) -> Callable[[WatchEvent], None]:
    def emit(event: WatchEvent) -> None:
        for consumer in consumers:
            consumer(event)

    return emit


def _follow(
    loop: asyncio.AbstractEventLoop, tracker: ReleaseTracker, following: Callable[[], bool]
) -> Callable[[WatchEvent], None]:
    """Deployment and Flux events to the release tracker, on the event loop (while
    `following`: with `ha:` on, only on the replica that follows releases)."""

    def forward(event: WatchEvent) -> None:
        if event.resource not in FOLLOWED or event.obj is None or not following():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the bot is shutting down
            loop.call_soon_threadsafe(tracker.on_event, event.cluster, event.resource, event.type, event.obj)

    return forward


def _scopes(
    settings: Settings, cluster: str, resources: set[ResourceName]
) -> dict[tuple[str, ...] | None, set[ResourceName]]:
    """Which resources to watch where on `cluster`: `watch.namespaces` (None: everywhere)
    for all of them; deployments also in the namespaces of the configured apps; the Flux
    objects releases wait for in their own namespaces only."""
    base = tuple(settings.watch.namespaces) if settings.watch.namespaces is not None else None
    scopes: dict[tuple[str, ...] | None, set[ResourceName]] = {}
    scopes.setdefault(base, set()).update(resources)
    if base is not None and "deployments" in resources:
        extra = tuple(ns for ns in settings.releases.namespaces() if ns not in base)
        if extra:
            scopes.setdefault(extra, set()).add("deployments")
    for ref in flux_objects(settings.releases, cluster):
        scopes.setdefault((ref.namespace,), set()).add(FLUX_RESOURCES[ref.kind])
    return scopes


def _expect_lists(alerts: AlertService, watches: list[ResourceWatch]) -> None:
    """How many lists of each (cluster, resource) make the whole picture (see AlertPipeline)."""
    for cluster, resource in {(w.cluster, w.resource) for w in watches if w.resource in alerts.resources}:
        count = sum(1 for watch in watches if (watch.cluster, watch.resource) == (cluster, resource))
        alerts.expect_initial_lists(cluster, resource, count)


class Watching:
    def __init__(self, parts: BotParts) -> None:
        self._parts = parts
        self._stop = threading.Event()
        self.runner: WatchRunner | None = None
        self.unusable: dict[str, str] = {}
        """Clusters whose client could not be built at start → why (logs, /readyz, `status`)."""
        self.follow_releases = True
        """False while another replica follows releases (`ha:`); read from the watch threads."""
        self._watches: list[ResourceWatch] = []

    def warm_up(self) -> None:
        """Build every cluster's client (blocking: ~1 s of CPU for the generated API classes);
        a cluster that cannot be used is reported and the others keep working."""
        for name in self._parts.clusters.names():
            try:
                self._parts.clusters.get(name)
            except Exception as exc:
                self.unusable[name] = str(exc)[:300]
                log.error("cluster_unusable", cluster=name, error=self.unusable[name])
            else:
                self.unusable.pop(name, None)

    async def start(self, alerts: AlertService | None) -> list[asyncio.Task[None]]:
        """Start the watches of every cluster: those the enabled detectors need, pods,
        deployments and nodes for the command caches (`watch.cache`), deployments and the
        Flux objects releases wait for (`releases`). The alert consumer and ticker tasks
        are returned for the caller to own."""
        settings = self._parts.settings
        resources: set[ResourceName] = set(CACHED) if settings.watch.cache else set()
        if settings.releases.configured:
            resources.add("deployments")
        tasks: list[asyncio.Task[None]] = []
        loop = asyncio.get_running_loop()
        consumers: list[Callable[[WatchEvent], None]] = [
            _follow(loop, self._parts.tracker, lambda: self.follow_releases)
        ]
        # With `ha:` on, nothing is restored here: each cluster's incidents are, when led (`resync`).
        owned = alerts is not None and alerts.pipeline.led is None
        restored = 0
        if alerts is not None:
            if owned:
                restored = await alerts.restore()
                alerts.resume_unposted()
            resources |= set(alerts.resources)
            # Bounded: the alert pipeline may fall behind an initial list of 10,000 pods.
            handoff = Handoff(loop, self._stop)
            consumers.append(_only(alerts.resources, handoff.emit))
            tasks = [
                asyncio.create_task(alerts.consume(handoff.queue), name="alert-consumer"),
                asyncio.create_task(alerts.run_ticker(), name="alert-ticker"),
            ]
        if not resources:
            return tasks
        emit = _fan_out(consumers)
        watches: list[ResourceWatch] = []
        for name in self._parts.clusters.names():
            try:
                kube = self._parts.clusters.get(name)
            except Exception as exc:
                log.error("watch_cluster_unavailable", cluster=name, error=str(exc)[:300])
                continue
            if not isinstance(kube, KubeClient):
                continue
            for scope, scoped in _scopes(settings, name, resources).items():
                watches.extend(
                    build_watches(
                        kube.api_client,
                        name,
                        None if scope is None else list(scope),
                        emit,
                        stop=self._stop,
                        resources=sorted(scoped),
                        errors=self._parts.telemetry.errors,
                    )
                )
        if alerts is not None and owned:
            _expect_lists(alerts, watches)
            log.info("alerts_started", restored_incidents=restored)
        self._watches = watches
        self._parts.rows.add(watches)
        self.runner = WatchRunner(watches, errors=self._parts.telemetry.errors)
        self.runner.start()
        log.info("watches_started", watches=len(watches), resources=sorted({w.resource for w in watches}))
        return tasks

    def resync(self, cluster: str, alerts: AlertService) -> int:
        """This replica now leads `cluster`: relist its alert watches so every object passes
        the detectors once (ADDED, then SYNCED, after which the incidents whose subject is gone
        resolve). The same watches keep the command caches: nothing is restarted."""
        watches = [
            w for w in self._watches if w.cluster == cluster and w.resource in alerts.resources and not w.finished
        ]
        _expect_lists(alerts, watches)
        for watch in watches:
            watch.resync()
        return len(watches)

    async def stop(self) -> None:
        if self.runner is not None:
            self._stop.set()
            await asyncio.get_running_loop().run_in_executor(None, self.runner.stop)
