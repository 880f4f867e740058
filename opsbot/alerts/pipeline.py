"""The alert pipeline: watch events → observations → incident effects → publishing.

One consumer task takes watch events off a queue, one at a time: the detectors
(``observe``) say what an event means, the incident book decides what changes, and
:class:`~opsbot.alerts.publishing.Publishing` shows it. A ticker resolves what has
recovered and flushes coalesced updates. Neither loop dies on a bad event or a bug:
each failure is logged with its traceback and reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import structlog

from opsbot.alerts.detectors import SUBJECTS, observe
from opsbot.alerts.findings import AlertKind
from opsbot.alerts.incidents import (
    Changed,
    Incident,
    IncidentBook,
    IncidentEffect,
    Opened,
    Reopened,
    Resolved,
)
from opsbot.alerts.owners import OwnerResolver
from opsbot.alerts.publishing import Publishing, incident_attributes
from opsbot.core.resources import RESOURCES, ResourceName, WatchEventType
from opsbot.ports import Clock, KubeObject, Store
from opsbot.telemetry import ErrorReporter, Tracer

log = structlog.get_logger("opsbot.alerts")


class ClusterEvent(Protocol):
    """A watch event as the alert pipeline needs it (kube.watch.WatchEvent is one)."""

    @property
    def cluster(self) -> str: ...

    @property
    def resource(self) -> ResourceName: ...

    @property
    def type(self) -> WatchEventType: ...

    @property
    def obj(self) -> KubeObject | None: ...

    @property
    def old(self) -> KubeObject | None: ...

    @property
    def relist(self) -> bool: ...


class _InitialList:
    """Objects seen by the first lists of one resource in one cluster, until all are in."""

    def __init__(self, watches: int) -> None:
        self.remaining = watches
        self.present: set[tuple[str, str]] = set()


class AlertPipeline:
    """Consumes watch events and ticks; owns the counters the metrics show."""

    def __init__(
        self,
        book: IncidentBook,
        store: Store,
        publishing: Publishing,
        clock: Clock,
        *,
        enabled: frozenset[AlertKind],
        owners: OwnerResolver | None,
        flush_interval: float,
        tracer: Tracer,
        errors: ErrorReporter,
    ) -> None:
        self.book = book
        self._store = store
        self._publishing = publishing
        self._clock = clock
        self._enabled = enabled
        self._owners = owners
        self._flush_interval = flush_interval
        self._tracer = tracer
        self._errors = errors
        self._listing: dict[tuple[str, ResourceName], _InitialList] = {}
        self.events_processed = 0
        self.listeners: list[Callable[[ClusterEvent], None]] = []
        """Called with every watch event first (e.g. to follow a rollout an action started)."""
        self.findings_by_kind: dict[str, int] = {}
        self.incidents_opened: dict[str, int] = {}  # by kind

    # startup -------------------------------------------------------------------

    def restore(self) -> int:
        """Load open and recently resolved incidents, so a restart posts nothing twice."""
        incidents = []
        for data in self._store.incidents():
            try:
                incidents.append(Incident.from_dict(data))
            except (KeyError, ValueError, TypeError):
                log.warning("incident_record_unreadable", record=str(data)[:200])
        self.book.load(incidents)
        return len(incidents)

    def resume_unposted(self) -> int:
        """Incidents saved before a crash whose root may not be in Slack yet.

        The root is looked up in the channel first (it carries the incident id as
        message metadata), so a crash between posting and recording posts nothing twice.
        """
        pending = [
            incident
            for incident in self.book.open_incidents()
            if not incident.root
            and incident.digest in (None, "pending")
            and not self._publishing.muted(incident)
        ]
        for incident in pending:
            self._publishing.resume(incident)
        if pending:
            log.info("incidents_resumed", count=len(pending))
        return len(pending)

    def expect_initial_lists(self, cluster: str, resource: ResourceName, watches: int) -> None:
        """Before the watches start: how many initial lists make up the whole picture.

        Once all of them are in, subjects of restored incidents that no list
        mentioned disappeared while opsbot was down: they count as gone. (Later
        relists need no such step: the watch reports what vanished as DELETED.)
        """
        self._listing[(cluster, resource)] = _InitialList(watches)

    async def _initial_list_done(
        self, scope: tuple[str, ResourceName], subject_kind: str, now: datetime
    ) -> None:
        listing = self._listing.get(scope)
        if listing is None:
            return
        listing.remaining -= 1
        if listing.remaining > 0:
            return
        del self._listing[scope]
        await self._perform(self.book.forget_missing(scope[0], subject_kind, listing.present, now))

    # the loops -------------------------------------------------------------------

    async def consume(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            event = await queue.get()
            try:
                await self.handle(event)
            except Exception as exc:
                log.exception(
                    "alert_event_failed", cluster=event.cluster, resource=event.resource, type=event.type
                )
                self._errors.capture(
                    exc, where="alert_consumer", cluster=event.cluster, resource=event.resource
                )

    async def handle(self, event: ClusterEvent) -> None:
        self.events_processed += 1
        for listener in self.listeners:
            listener(event)
        now = self._clock.now()
        if event.resource not in SUBJECTS:
            return  # no detector reads it
        subject_kind = RESOURCES[event.resource].kind
        scope = (event.cluster, event.resource)
        if event.type in {"SYNCED", "FORBIDDEN"}:
            await self._initial_list_done(scope, subject_kind, now)
            return
        if event.type not in {"ADDED", "MODIFIED", "DELETED"}:
            return
        new = None if event.type == "DELETED" else event.obj
        old = event.old if event.type != "DELETED" else (event.old or event.obj)
        listing = self._listing.get(scope)
        if new is not None and listing is not None:
            metadata = new.get("metadata") or {}
            listing.present.add((str(metadata.get("namespace", "")), str(metadata.get("name", ""))))
        kwargs: dict[str, Any] = {"cluster": event.cluster, "now": now, "enabled": self._enabled}
        if self._owners is not None:
            kwargs["owners"] = self._owners
        observation = observe(event.resource, old, new, **kwargs)
        for finding in observation.findings:
            kind = finding.kind.value
            self.findings_by_kind[kind] = self.findings_by_kind.get(kind, 0) + 1
        await self._perform(self.book.observe(observation, now))

    async def tick(self) -> None:
        """Resolve what has recovered and flush coalesced root updates."""
        await self._perform(self.book.tick(self._clock.now()))
        await self.flush()

    async def run_ticker(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            try:
                await self.tick()
            except Exception as exc:
                log.exception("alert_tick_failed")
                self._errors.capture(exc, where="alert_ticker")

    async def flush(self) -> None:
        await self._publishing.flush()

    async def drain(self) -> None:
        await self._publishing.drain()

    # effects ---------------------------------------------------------------------

    async def _perform(self, effects: list[IncidentEffect]) -> None:
        for effect in effects:
            # One `opsbot.alert` span per incident change; the root post, chained
            # from inside it, becomes its child.
            effect_name = type(effect).__name__.lower()
            with self._tracer.span("opsbot.alert", **incident_attributes(effect.incident, effect_name)):
                self._publishing.save(effect.incident)
                if isinstance(effect, Opened):
                    kind = effect.incident.kind.value
                    self.incidents_opened[kind] = self.incidents_opened.get(kind, 0) + 1
                    await self._publishing.open(effect.incident, effect.finding)
                elif isinstance(effect, Changed):
                    self._publishing.changed(effect.incident)
                elif isinstance(effect, Reopened):
                    await self._publishing.reopen(effect.incident)
                elif isinstance(effect, Resolved):
                    await self._publishing.resolve(effect.incident)
