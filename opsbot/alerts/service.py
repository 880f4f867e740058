"""The alert feature as the app, the commands and the incident buttons see it.

:class:`AlertService` wires three parts and talks only to small ports (publisher,
store, kube, clock):

    pipeline.py .... AlertPipeline: watch events → observations → incidents (consume, handle, tick)
    publishing.py .. Publishing: roots, digests, thread replies (saved before shown, coalesced)
    enrichment.py .. Enricher: a new pod incident's log lines and Warning events

and adds what people do to incidents: look them up, mute and unmute them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog

from opsbot.alerts.actions import ClickOutcome, on_click
from opsbot.alerts.detectors import DetectorOptions, watched_resources
from opsbot.alerts.enrichment import Enricher, Enrichment
from opsbot.alerts.findings import AlertKind
from opsbot.alerts.incidents import Incident, IncidentBook, IncidentState
from opsbot.alerts.mutes import Mute, MuteList
from opsbot.alerts.owners import OwnerResolver
from opsbot.alerts.pipeline import AlertPipeline, ClusterEvent
from opsbot.alerts.publishing import AlertPublisher, Publishing
from opsbot.core.resources import ResourceName
from opsbot.ports import Clock, Document, KubeDirectory, RunBlocking, Store
from opsbot.telemetry import NOOP_ERRORS, NOOP_TRACER, ErrorReporter, Tracer

__all__ = ["AlertPublisher", "AlertService", "ClusterEvent", "Enrichment", "from_alertmanager"]

log = structlog.get_logger("opsbot.alerts")


def from_alertmanager(incident: Incident) -> bool:
    """An incident of an Alertmanager group: it belongs with the Alertmanager loops (ha:), not
    with its cluster's leader."""
    return incident.kind is AlertKind.ALERTMANAGER


class AlertService:
    def __init__(
        self,
        book: IncidentBook,
        store: Store,
        publisher: AlertPublisher,
        clusters: KubeDirectory,
        clock: Clock,
        *,
        mutes: MuteList,
        enabled: frozenset[AlertKind],
        run_blocking: RunBlocking,
        owners: OwnerResolver | None = None,
        enrichment_lines: int = 20,
        digest_threshold: int = 5,
        flush_interval: float = 2.0,
        tracer: Tracer = NOOP_TRACER,
        errors: ErrorReporter = NOOP_ERRORS,
        options: DetectorOptions | None = None,
    ) -> None:
        self.book = book
        self.mutes = mutes
        self._store = store
        self._clock = clock
        self.resources: tuple[ResourceName, ...] = watched_resources(enabled)
        """What the enabled detectors read: the resources to watch."""
        self.publishing = Publishing(
            book,
            store,
            publisher,
            clock,
            mutes=mutes,
            enricher=Enricher(clusters, run_blocking, lines=enrichment_lines),
            digest_threshold=digest_threshold,
            tracer=tracer,
            errors=errors,
        )
        self.pipeline = AlertPipeline(
            book,
            store,
            self.publishing,
            clock,
            enabled=enabled,
            owners=owners,
            flush_interval=flush_interval,
            tracer=tracer,
            errors=errors,
            options=options,
        )

    # lifecycle (the app) -----------------------------------------------------------

    async def restore(self) -> int:
        """One replica: the stored mutes and incidents, so a restart posts nothing twice."""
        self.mutes.replace(await self._stored_mutes())
        return await self.pipeline.restore()

    def resume_unposted(self) -> int:
        return self.pipeline.resume_unposted()

    def expect_initial_lists(self, cluster: str, resource: ResourceName, watches: int) -> None:
        self.pipeline.expect_initial_lists(cluster, resource, watches)

    async def consume(self, queue: asyncio.Queue[Any]) -> None:
        await self.pipeline.consume(queue)

    async def run_ticker(self) -> None:
        await self.pipeline.run_ticker()

    async def drain(self) -> None:
        await self.pipeline.drain()

    # leadership (ha: one replica acts on each cluster's events) ----------------------------

    def gate(self) -> None:
        """Several replicas: act on no cluster until it is led here (`lead`); mutes and the
        incidents led elsewhere are read from the store they share."""
        if self.pipeline.led is None:
            self.pipeline.led = set()
            self.mutes.share(self._stored_mutes)

    async def _stored_mutes(self) -> list[Mute]:
        return [Mute.from_dict(data) for data in await self._store.mutes(now=self._clock.now().timestamp())]

    def leads(self, cluster: str) -> bool:
        led = self.pipeline.led
        return led is None or cluster in led

    async def lead(self, cluster: str) -> int:
        """This replica now leads `cluster`: its incidents are loaded from the store (the last
        leader kept them there), roots it may not have posted are resumed (looked up first, so
        nothing is posted twice), and its events count from now on. The caller relists the
        cluster's watches so the detectors see it whole. Alertmanager's incidents are not the
        cluster's: see `load_alertmanager_incidents`."""
        assert self.pipeline.led is not None, "gate() first"

        def mine(incident: Incident) -> bool:
            return incident.cluster == cluster and not from_alertmanager(incident)

        await self.mutes.refresh(now=True)
        loaded = await self._load(mine)
        self.pipeline.led.add(cluster)
        self.pipeline.resume_unposted(mine)
        return loaded

    async def step_down(self, cluster: str) -> None:
        """Another replica may lead `cluster` from now on: its events are ignored, the event or
        tick being handled finishes, and nothing more is shown of its incidents (Alertmanager's
        stay: they follow the Alertmanager loops, `forget_alertmanager_incidents`)."""
        if self.pipeline.led is None:
            return
        self.pipeline.led.discard(cluster)
        async with self.pipeline.busy:
            await self._forget(lambda i: i.cluster == cluster and not from_alertmanager(i))
            self.pipeline.forget_cluster(cluster)

    async def load_alertmanager_incidents(self) -> int:
        """This replica now runs the Alertmanager loops (ha:): every Alertmanager incident,
        whatever its cluster, is loaded from the store and its unposted root resumed, so a
        group's next notification joins its thread."""
        await self.mutes.refresh(now=True)
        loaded = await self._load(from_alertmanager)
        self.pipeline.resume_unposted(from_alertmanager)
        return loaded

    async def forget_alertmanager_incidents(self) -> None:
        """Another replica runs the Alertmanager loops now (ha:; call once they are paused):
        their incidents leave memory (the store keeps them) and nothing more is shown of them."""
        async with self.pipeline.busy:
            await self._forget(from_alertmanager)

    async def _load(self, which: Callable[[Incident], bool]) -> int:
        found = [incident for incident in _readable(await self._store.incidents()) if which(incident)]
        self.book.load(found)
        return len(found)

    async def _forget(self, which: Callable[[Incident], bool]) -> None:
        """(Under `pipeline.busy`: no event or tick is handled meanwhile.)"""
        await self.publishing.forget({i.key for i in self.book.all() if which(i)})
        self.book.forget(which)

    # counters (the metrics) ------------------------------------------------------------

    @property
    def events_processed(self) -> int:
        return self.pipeline.events_processed

    @property
    def findings_by_kind(self) -> dict[str, int]:
        return self.pipeline.findings_by_kind

    @property
    def incidents_opened(self) -> dict[str, int]:
        return self.pipeline.incidents_opened

    # incidents and mutes (buttons and commands) ----------------------------------------

    async def mute(self, incident_id: str, hours: float, user: str) -> Mute | None:
        incident = await self.incident(incident_id)
        if incident is None:
            return None
        until = self._clock.now() + timedelta(hours=hours)
        place = f" in {incident.namespace}" if incident.namespace else ""
        label = f"{incident.kind.value} {incident.workload}{place} on {incident.cluster} (incident {incident.ref})"
        mute = self.mutes.add(incident.key, until, user, label)
        await self._store.put_mute(mute.id, mute.pattern, until.timestamp(), mute.to_dict())
        log.info("incident_muted", incident=incident.id, until=until.isoformat(), user=user)
        return mute

    def open_incidents_here(self) -> list[Incident]:
        """Held by this replica: with replicas, those of what it leads (for its metrics)."""
        return self.book.open_incidents()

    async def open_incidents(self) -> list[Incident]:
        if self.pipeline.led is None:
            return self.book.open_incidents()
        # Replicas: each holds the incidents of what it leads; the store holds them all.
        stored = _readable(await self._store.incidents(state=IncidentState.OPEN.value))
        return sorted({i.key: i for i in stored}.values(), key=lambda i: i.opened_at)

    def on_click(self, action_id: str, incident: Incident) -> ClickOutcome:
        """What a click on one of the incident card's buttons should do."""
        return on_click(action_id, incident)

    async def incident(self, incident_id: str) -> Incident | None:
        """From memory, or with replicas from the store (a card posted by another replica)."""
        found = self.book.by_id(incident_id)
        if found is None and self.pipeline.led is not None:
            data = await self._store.incident(incident_id)
            found = next(iter(_readable([data])), None) if data is not None else None
        return found

    async def active_mutes(self) -> list[Mute]:
        await self.mutes.refresh()
        return self.mutes.active(self._clock.now())

    async def unmute(self, mute_id: str) -> Mute | None:
        """Remove a mute, by its own id or by the id of the incident it silences."""
        await self.mutes.refresh(now=True)
        mute = self.mutes.remove(mute_id)
        if mute is not None:
            await self._store.delete_mute(mute_id)
            return mute
        incident = await self.incident(mute_id)
        if incident is None:
            return None
        removed = None
        for active in self.mutes.active(self._clock.now()):
            if active.pattern == incident.key:
                removed = self.mutes.remove(active.id)
                await self._store.delete_mute(active.id)
        return removed


def _readable(records: list[Document]) -> list[Incident]:
    found = []
    for data in records:
        try:
            found.append(Incident.from_dict(data))
        except (KeyError, ValueError, TypeError):
            continue
    return found
