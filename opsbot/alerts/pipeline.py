"""The alert pipeline: watch events → observations → incident effects → publishing.

One consumer task takes watch events off a queue, one at a time: the detectors
(``observe``) say what an event means, the incident book decides what changes, and
:class:`~opsbot.alerts.publishing.Publishing` shows it. A ticker resolves what has
recovered, looks again at problems waiting for their threshold (waiting.py) and
flushes coalesced updates. Neither loop dies on a bad event or a bug:
each failure is logged with its traceback and reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

import structlog

from opsbot.alerts.detectors import SUBJECTS, DetectorOptions, observe
from opsbot.alerts.findings import AlertKind, Observation
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
from opsbot.alerts.waiting import WaitingKey, WaitingList
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
        options: DetectorOptions | None = None,
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
        self._options = options or DetectorOptions()
        self.waiting = WaitingList()
        self.events_processed = 0
        self.listeners: list[Callable[[ClusterEvent], None]] = []
        """Called with every watch event first (e.g. to follow a rollout an action started)."""
        self.findings_by_kind: dict[str, int] = {}
        self.incidents_opened: dict[str, int] = {}  # by kind
        self.led: set[str] | None = None
        """With `ha:` on, the clusters this replica leads: events of the others are ignored
        (None: every cluster, one replica owns everything)."""
        self.busy = asyncio.Lock()
        """Held while an event or a tick is handled: a step-down waits for it."""

    # startup -------------------------------------------------------------------

    async def restore(self) -> int:
        """Load open and recently resolved incidents, so a restart posts nothing twice."""
        incidents = []
        for data in await self._store.incidents():
            try:
                incidents.append(Incident.from_dict(data))
            except (KeyError, ValueError, TypeError):
                log.warning("incident_record_unreadable", record=str(data)[:200])
        self.book.load(incidents)
        return len(incidents)

    def resume_unposted(self, which: Callable[[Incident], bool] | None = None) -> int:
        """Incidents saved before a crash (of those `which` selects, else all) whose root may
        not be in Slack yet, or whose thread may lack its context.

        The root is looked up in the channel first (it carries the incident id as
        message metadata), so a crash between posting and recording posts nothing twice;
        the context likewise in the root's thread.
        """
        candidates = [i for i in self.book.open_incidents() if which is None or which(i)]
        pending = [
            incident
            for incident in candidates
            if not incident.root
            and incident.digest in (None, "pending")
            and not self._publishing.muted(incident)
        ]
        for incident in pending:
            self._publishing.resume(incident)
        # Roots on record whose thread never got its context (a crash came in between).
        threads = [
            incident
            for incident in candidates
            if incident.root and incident.enrichment == "pending" and not self._publishing.muted(incident)
        ]
        for incident in threads:
            self._publishing.resume_enrichment(incident)
        if pending or threads:
            log.info("incidents_resumed", roots=len(pending), threads=len(threads))
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

    def forget_cluster(self, cluster: str) -> None:
        """Another replica leads `cluster`: drop what waits and what was being listed of it."""
        self.waiting.forget_cluster(cluster)
        for scope in [scope for scope in self._listing if scope[0] == cluster]:
            del self._listing[scope]

    # the loops -------------------------------------------------------------------

    async def consume(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            event = await queue.get()
            try:
                async with self.busy:
                    await self.handle(event)
            except Exception as exc:
                log.exception(
                    "alert_event_failed", cluster=event.cluster, resource=event.resource, type=event.type
                )
                self._errors.capture(
                    exc, where="alert_consumer", cluster=event.cluster, resource=event.resource
                )

    async def handle(self, event: ClusterEvent) -> None:
        if self.led is not None and event.cluster not in self.led:
            return  # another replica leads this cluster
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
        metadata = (new if new is not None else old or {}).get("metadata") or {}
        where = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        listing = self._listing.get(scope)
        if new is not None and listing is not None:
            listing.present.add(where)
        key: WaitingKey = (event.cluster, event.resource, *where)
        observation = self._observe(event.resource, old, new, event.cluster, now, key)
        self.waiting.note(key, new, observation)
        await self._apply(observation, now)

    def _observe(
        self,
        resource: ResourceName,
        old: KubeObject | None,
        new: KubeObject | None,
        cluster: str,
        now: datetime,
        key: WaitingKey,
    ) -> Observation:
        kwargs: dict[str, Any] = {
            "cluster": cluster,
            "now": now,
            "enabled": self._enabled,
            "options": self._options,
            "first_seen": self.waiting.first_seen(key),
        }
        if self._owners is not None:
            kwargs["owners"] = self._owners
        return observe(resource, old, new, **kwargs)

    async def _apply(self, observation: Observation, now: datetime) -> None:
        for finding in observation.findings:
            kind = finding.kind.value
            self.findings_by_kind[kind] = self.findings_by_kind.get(kind, 0) + 1
        await self._perform(self.book.observe(observation, now))

    async def recheck_waiting(self, now: datetime) -> None:
        """Problems whose threshold has passed without a new event: look at them again."""
        for key, entry in self.waiting.due(now):
            observation = self._observe(entry.resource, None, entry.obj, key[0], now, key)
            self.waiting.note(key, entry.obj, observation)
            # Only what was waiting speaks: the rest was said when the object last changed.
            await self._apply(
                replace(
                    observation,
                    findings=tuple(f for f in observation.findings if f.kind in entry.kinds),
                    scope=entry.kinds,
                ),
                now,
            )

    async def tick(self) -> None:
        """Look again at what waits for its threshold, resolve what has recovered, flush
        coalesced root updates."""
        now = self._clock.now()
        await self._publishing.refresh_mutes()  # replicas: a mute made elsewhere counts here within seconds
        await self.recheck_waiting(now)
        await self._perform(self.book.tick(now))
        await self.flush()

    async def run_ticker(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            try:
                async with self.busy:
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
        if effects:
            await self._publishing.refresh_mutes()  # what is said depends on them
        for effect in effects:
            # One `opsbot.alert` span per incident change; the root post, chained
            # from inside it, becomes its child.
            effect_name = type(effect).__name__.lower()
            with self._tracer.span("opsbot.alert", **incident_attributes(effect.incident, effect_name)):
                await self._publishing.save(effect.incident)
                if isinstance(effect, Opened):
                    kind = effect.incident.kind.value
                    self.incidents_opened[kind] = self.incidents_opened.get(kind, 0) + 1
                    await self._publishing.open(effect.incident)
                elif isinstance(effect, Changed):
                    self._publishing.changed(effect.incident)
                elif isinstance(effect, Reopened):
                    await self._publishing.reopen(effect.incident)
                elif isinstance(effect, Resolved):
                    await self._publishing.resolve(effect.incident)
