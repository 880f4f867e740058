"""Several replicas (`ha.enabled`): one alert leader per cluster, and what runs where.

Every replica connects to Slack, serves commands and runs every watch (they keep the
command caches). Leadership switches only who *acts* on the watches, which is the
simplest design that keeps the caches warm everywhere and starts nothing twice:

- the alert pipeline ignores the events of a cluster it does not lead
  (`AlertService.gate`). Gaining a cluster loads its incidents from the store and
  relists that cluster's alert watches (every object ADDED, then SYNCED): the detectors
  see the cluster whole and incidents already open are reconciled, not posted again.
  Losing it (`step_down`) waits for the event being handled, cancels the posts not yet
  sent and forgets its incidents in memory (the store keeps them for the next leader);
- the leader of the *lease cluster* (`ha.lease_cluster`, else `default_cluster`: the
  cluster that holds the leases, so its leader is the one replica sure to reach them)
  also runs the Alertmanager loops (reconcile, sweep) and follows releases in flight;
  releases started on another replica are adopted from the store every retry period.
  Alertmanager's incidents (one per group) belong to these loops, not to their cluster's
  leader: gaining the loops loads every one of them from the store, whatever its cluster
  (`load_alertmanager_incidents`), so a group's next notification joins its thread;
  losing them forgets them in memory once the loops are paused. A cluster's `lead` and
  `step_down` leave them alone, so no two replicas hold (and tick) the same one.
  Alertmanager's webhook and the status updates may land on any replica (one Service):
  the others check the credentials and forward them once to that leader, whose answer
  they give (opsbot.app.forwarding; each replica advertises its URL in the store). When
  no leader is known or it cannot be reached, they answer 503 and the caller retries.

Without alerts only the lease cluster is elected (for the releases and Alertmanager).
Electors start after the watches and stop first-in-last-out at shutdown, each releasing
its lease so the next replica takes over at once.

Limits, known: a Slack call already on the wire when a replica steps down completes
(the outbox cannot recall it; nothing new starts); a release adopted from another
replica does not wait for its approval's outcome to be shown before its first notice;
a cluster led before its watches' first lists finished may count that first SYNCED
as the resync's (then an incident whose subject was not listed yet resolves early).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from opsbot.app.parts import BotParts, PoolRunner
from opsbot.app.watching import Watching
from opsbot.ha.elector import LeaderElector
from opsbot.ports import KubeDirectory, KubeObject, LeasePort

log = structlog.get_logger("opsbot.ha")


@dataclass(frozen=True)
class LeaderView:
    """Who leads one cluster, as this replica last saw it (metrics, /readyz, `status`)."""

    cluster: str
    leading: bool
    holder: str  # "" while unknown (no lease read yet, or released)
    transitions: int
    errors: int


class Leadership:
    def __init__(self, parts: BotParts, watching: Watching, environ: Mapping[str, str]) -> None:
        settings = parts.settings
        self._parts = parts
        self._watching = watching
        ha = settings.ha
        self.identity = ha.resolved_identity(environ)
        self.namespace = ha.resolved_namespace(environ)
        self.lease_cluster = settings.lease_cluster
        self.history: list[tuple[float, str, str]] = []
        """(monotonic time, cluster, "started" | "stopped") once each callback finished (tests, bench)."""
        self._adopting: asyncio.Task[None] | None = None
        self._retry = ha.retry_period_seconds
        clusters = list(settings.clusters) if parts.alerts is not None else [self.lease_cluster]
        port = _Leases(parts.clusters, self.lease_cluster)
        self.electors = [
            LeaderElector(
                port,
                PoolRunner(parts.pool),
                cluster=cluster,
                namespace=self.namespace,
                name=ha.lease_for(cluster),
                identity=self.identity,
                lease_duration=ha.lease_duration_seconds,
                renew_deadline=ha.renew_deadline_seconds,
                retry_period=ha.retry_period_seconds,
                on_started=self._started(cluster),
                on_stopped=self._stopped(cluster),
            )
            for cluster in clusters
        ]

    def gate(self) -> None:
        """Before anything starts: act on no cluster and follow no release until led."""
        if self._parts.alerts is not None:
            self._parts.alerts.gate()
        self._watching.follow_releases = False

    @property
    def follows_releases(self) -> bool:
        return self._watching.follow_releases

    def start(self) -> None:
        for elector in self.electors:
            elector.start()

    async def stop(self) -> None:
        """Last started, first stopped; each leader stops its loops, then releases its lease."""
        for elector in reversed(self.electors):
            await elector.stop()

    def views(self) -> list[LeaderView]:
        return [LeaderView(e.cluster, e.leading, e.holder, e.transitions, e.errors) for e in self.electors]

    def details(self) -> dict[str, object]:
        """What /readyz says about leadership (it never makes a replica unready)."""
        return {
            "identity": self.identity,
            "leaders": {view.cluster: self.leader(view.cluster) for view in self.views()},
        }

    def leads_shared(self) -> bool:
        """Whether this replica leads the lease cluster (the Alertmanager loops run here)."""
        return any(e.leading for e in self.electors if e.cluster == self.lease_cluster)

    def shared_holder(self) -> str:
        """Who leads the lease cluster, as this replica last saw its Lease ("" unknown)."""
        return next((e.holder for e in self.electors if e.cluster == self.lease_cluster), "")

    def leader(self, cluster: str) -> str | None:
        """Who leads `cluster`'s alerts: "this replica (<id>)", the holder's id, "nobody yet";
        None when no elector runs for it."""
        for elector in self.electors:
            if elector.cluster == cluster:
                if elector.leading:
                    return f"this replica ({self.identity})"
                return elector.holder or "nobody yet"
        return None

    # the callbacks ------------------------------------------------------------------------

    def _started(self, cluster: str) -> Callable[[], Awaitable[None]]:
        async def started() -> None:
            alerts = self._parts.alerts
            if alerts is not None:
                incidents = await alerts.lead(cluster)
                watches = self._watching.resync(cluster, alerts)
                log.info("alerts_led", cluster=cluster, incidents=incidents, relisted_watches=watches)
            if cluster == self.lease_cluster:
                await self._lead_shared()
            self.history.append((time.monotonic(), cluster, "started"))

        return started

    def _stopped(self, cluster: str) -> Callable[[], Awaitable[None]]:
        async def stopped() -> None:
            if self._parts.alerts is not None:  # first: the alert loops, then the rest
                await self._parts.alerts.step_down(cluster)
            if cluster == self.lease_cluster:
                await self._drop_shared()
            self.history.append((time.monotonic(), cluster, "stopped"))

        return stopped

    async def _lead_shared(self) -> None:
        """The lease cluster's leader: releases in flight and the Alertmanager loops."""
        await self._parts.tracker.restore()
        self._watching.follow_releases = True
        self._adopting = asyncio.create_task(self._adopt(), name="release-adoption")
        if self._parts.alertmanager is not None:
            if self._parts.alerts is not None:  # its groups' threads, whatever their cluster
                incidents = await self._parts.alerts.load_alertmanager_incidents()
                log.info("alertmanager_incidents_loaded", incidents=incidents)
            await self._parts.alertmanager.start()

    async def _drop_shared(self) -> None:
        self._watching.follow_releases = False
        if self._adopting is not None:
            self._adopting.cancel()
            await asyncio.gather(self._adopting, return_exceptions=True)
            self._adopting = None
        if self._parts.alertmanager is not None:
            await self._parts.alertmanager.pause()
            if self._parts.alerts is not None:
                await self._parts.alerts.forget_alertmanager_incidents()
        await self._parts.tracker.pause()

    async def _adopt(self) -> None:
        """Releases started on other replicas are in the store: follow them from here."""
        tracker, run = self._parts.tracker, PoolRunner(self._parts.pool)
        while True:
            await asyncio.sleep(self._retry)
            try:
                for release in await run(tracker.unknown_active):
                    tracker.follow(release, new=False)
            except Exception:
                log.exception("release_adoption_failed")


class _Leases:
    """The lease cluster's `LeasePort`, looked up at each call: building a cluster's client
    costs ~1 s of CPU and may fail, which belongs to the start (warm-up), not to `Bot()`."""

    def __init__(self, clusters: KubeDirectory, cluster: str) -> None:
        self._clusters = clusters
        self._cluster = cluster

    def _port(self) -> LeasePort:
        return cast(LeasePort, self._clusters.get(self._cluster))

    def get_lease(self, namespace: str, name: str) -> KubeObject | None:
        return self._port().get_lease(namespace, name)

    def create_lease(self, namespace: str, lease: KubeObject) -> KubeObject:
        return self._port().create_lease(namespace, lease)

    def replace_lease(self, namespace: str, name: str, lease: KubeObject) -> KubeObject:
        return self._port().replace_lease(namespace, name, lease)


class LeaderCollector(Collector):
    """/metrics: who leads here, how often this replica became leader, lease errors; per cluster."""

    def __init__(self, leadership: Leadership) -> None:
        self._leadership = leadership

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        leader = GaugeMetricFamily(
            "opsbot_leader", "1 while this replica leads the cluster's alerts.", labels=["cluster"]
        )
        transitions = CounterMetricFamily(
            "opsbot_leader_transitions", "Times this replica became the cluster's leader.", labels=["cluster"]
        )
        errors = CounterMetricFamily(
            "opsbot_leader_lease_errors",
            "Lease reads and writes that failed or timed out (conflicts excluded).",
            labels=["cluster"],
        )
        for view in self._leadership.views():
            leader.add_metric([view.cluster], 1.0 if view.leading else 0.0)
            transitions.add_metric([view.cluster], view.transitions)
            errors.add_metric([view.cluster], view.errors)
        yield from (leader, transitions, errors)
