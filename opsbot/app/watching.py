"""The watches of every configured cluster, started once Slack is up, feeding the alert pipeline."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import structlog

from opsbot.alerts.service import AlertService
from opsbot.app.parts import BotParts
from opsbot.kube.client import KubeClient
from opsbot.kube.watch import ResourceWatch, WatchRunner, bridge, build_watches

log = structlog.get_logger("opsbot")


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

    async def start_alerts(self, alerts: AlertService) -> list[asyncio.Task[None]]:
        """Restore incidents, start the watches the enabled detectors need; the consumer and
        ticker tasks are returned for the caller to own."""
        restored = alerts.restore()
        alerts.resume_unposted()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        emit = bridge(asyncio.get_running_loop(), queue)
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
                    self._parts.settings.watch.namespaces,
                    emit,
                    stop=self._stop,
                    resources=alerts.resources,
                    errors=self._parts.telemetry.errors,
                )
            )
        for cluster, resource in {(watch.cluster, watch.resource) for watch in watches}:
            count = sum(1 for watch in watches if (watch.cluster, watch.resource) == (cluster, resource))
            alerts.expect_initial_lists(cluster, resource, count)
        self.runner = WatchRunner(watches, errors=self._parts.telemetry.errors)
        tasks = [
            asyncio.create_task(alerts.consume(queue), name="alert-consumer"),
            asyncio.create_task(alerts.run_ticker(), name="alert-ticker"),
        ]
        self.runner.start()
        log.info("alerts_started", restored_incidents=restored, watches=len(watches))
        return tasks

    async def stop(self) -> None:
        if self.runner is not None:
            self._stop.set()
            await asyncio.get_running_loop().run_in_executor(None, self.runner.stop)
