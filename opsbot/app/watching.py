"""The watches of every configured cluster, started once Slack is up: they keep the command
caches current and feed the alert pipeline."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Collection

import structlog

from opsbot.alerts.service import AlertService
from opsbot.app.parts import BotParts
from opsbot.core.resources import ResourceName
from opsbot.kube.client import KubeClient
from opsbot.kube.watch import Handoff, ResourceWatch, WatchEvent, WatchRunner, build_watches

log = structlog.get_logger("opsbot")

# What the command caches keep (see opsbot.kube.rows).
CACHED: tuple[ResourceName, ...] = ("pods", "deployments", "nodes")


def _drop(event: WatchEvent) -> None:
    """Nothing consumes watch events (alerts off): the caches are all the watches are for."""


def _only(resources: Collection[str], emit: Callable[[WatchEvent], None]) -> Callable[[WatchEvent], None]:
    """Hand on events of `resources` only (the alert pipeline ignores the rest)."""

    def forward(event: WatchEvent) -> None:
        if event.resource in resources:
            emit(event)

    return forward


class Watching:
    def __init__(self, parts: BotParts) -> None:
        self._parts = parts
        self._stop = threading.Event()
        self.runner: WatchRunner | None = None
        self.unusable: dict[str, str] = {}
        """Clusters whose client could not be built at start → why (logs, /readyz, `status`)."""

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
        """Start the watches of every cluster: those the enabled detectors need, and pods,
        deployments and nodes for the command caches (`watch.cache`). The alert consumer and
        ticker tasks are returned for the caller to own."""
        settings = self._parts.settings
        resources: set[ResourceName] = set(CACHED) if settings.watch.cache else set()
        tasks: list[asyncio.Task[None]] = []
        emit: Callable[[WatchEvent], None] = _drop
        if alerts is not None:
            restored = alerts.restore()
            alerts.resume_unposted()
            resources |= set(alerts.resources)
            # Bounded: the alert pipeline may fall behind an initial list of 10,000 pods.
            handoff = Handoff(asyncio.get_running_loop(), self._stop)
            emit = _only(alerts.resources, handoff.emit)
            tasks = [
                asyncio.create_task(alerts.consume(handoff.queue), name="alert-consumer"),
                asyncio.create_task(alerts.run_ticker(), name="alert-ticker"),
            ]
        if not resources:
            return tasks
        watches: list[ResourceWatch] = []
        for name in self._parts.clusters.names():
            try:
                kube = self._parts.clusters.get(name)
            except Exception as exc:
                log.error("watch_cluster_unavailable", cluster=name, error=str(exc)[:300])
                continue
            if not isinstance(kube, KubeClient):
                continue
            watches.extend(
                build_watches(
                    kube.api_client,
                    name,
                    settings.watch.namespaces,
                    emit,
                    stop=self._stop,
                    resources=sorted(resources),
                    errors=self._parts.telemetry.errors,
                )
            )
        if alerts is not None:
            for cluster, resource in {(w.cluster, w.resource) for w in watches if w.resource in alerts.resources}:
                count = sum(1 for watch in watches if (watch.cluster, watch.resource) == (cluster, resource))
                alerts.expect_initial_lists(cluster, resource, count)
            log.info("alerts_started", restored_incidents=restored)
        self._parts.rows.add(watches)
        self.runner = WatchRunner(watches, errors=self._parts.telemetry.errors)
        self.runner.start()
        log.info("watches_started", watches=len(watches), resources=sorted(resources))
        return tasks

    async def stop(self) -> None:
        if self.runner is not None:
            self._stop.set()
            await asyncio.get_running_loop().run_in_executor(None, self.runner.stop)
