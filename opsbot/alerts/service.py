"""The alert pipeline: watch events → observations → incidents → what to show.

It talks only to small ports (publisher, store, kube, clock): the Slack side
renders and paces, the store persists, and this module decides the order of
things so that nothing is lost or said twice:

- an incident is saved before its root is posted and again with the root's ts;
- updates to a root are coalesced (at most one per incident per flush);
- when a channel already has a backlog, new roots fold into one digest message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from opsbot.alerts.actions import ClickOutcome, on_click
from opsbot.alerts.detectors import SUBJECTS, observe, watched_resources
from opsbot.alerts.findings import AlertKind, Finding
from opsbot.alerts.incidents import (
    Changed,
    Incident,
    IncidentBook,
    IncidentEffect,
    Opened,
    Reopened,
    Resolved,
)
from opsbot.alerts.mutes import Mute, MuteList
from opsbot.alerts.owners import OwnerResolver
from opsbot.core.durations import since
from opsbot.core.resources import RESOURCES, ResourceName, WatchEventType
from opsbot.ports import Clock, KubeDirectory, KubeObject, Store
from opsbot.telemetry import NOOP_ERRORS, NOOP_TRACER, Attribute, ErrorReporter, Tracer

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


@dataclass(frozen=True)
class Enrichment:
    """What a new incident's thread gets: the crashed container's last lines and warnings."""

    log_lines: list[str]
    log_note: str
    events: list[KubeObject]


class AlertPublisher(Protocol):
    def backlog(self, channel: str) -> int: ...

    async def post_root(self, incident: Incident) -> str | None: ...

    async def find_root(self, incident: Incident) -> str | None: ...

    async def update_root(self, incident: Incident) -> None: ...

    async def reply(self, incident: Incident, text: str) -> None: ...

    async def post_enrichment(self, incident: Incident, enrichment: Enrichment) -> None: ...

    async def post_digest(self, channel: str, incidents: list[Incident]) -> str | None: ...

    async def update_digest(self, channel: str, ts: str, incidents: list[Incident]) -> None: ...


class _InitialList:
    """Objects seen by the first lists of one resource in one cluster, until all are in."""

    def __init__(self, watches: int) -> None:
        self.remaining = watches
        self.present: set[tuple[str, str]] = set()


def _incident_attributes(incident: Incident, effect: str | None) -> dict[str, Attribute | None]:
    """What a span says about an incident: no pod names or messages, only where and what."""
    return {
        "opsbot.incident": incident.id,
        "opsbot.alert.kind": incident.kind.value,
        "opsbot.alert.effect": effect,
        "opsbot.cluster": incident.cluster,
        "opsbot.namespace": incident.namespace or None,
        "opsbot.workload": str(incident.workload),
        "opsbot.channel": incident.channel,
    }


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
        run_blocking: Callable[..., Any],
        owners: OwnerResolver | None = None,
        enrichment_lines: int = 20,
        digest_threshold: int = 5,
        flush_interval: float = 2.0,
        tracer: Tracer = NOOP_TRACER,
        errors: ErrorReporter = NOOP_ERRORS,
    ) -> None:
        self.book = book
        self._store = store
        self._publisher = publisher
        self._clusters = clusters
        self._clock = clock
        self.mutes = mutes
        self._enabled = enabled
        self.resources: tuple[ResourceName, ...] = watched_resources(enabled)
        """What the enabled detectors read: the resources to watch."""
        self._run_blocking = run_blocking
        self._owners = owners
        self._enrichment_lines = enrichment_lines
        self._digest_threshold = digest_threshold
        self._flush_interval = flush_interval
        self._tracer = tracer
        self._errors = errors
        self._dirty: dict[str, Incident] = {}
        self._digests: dict[
            str, tuple[str, datetime, list[str]]
        ] = {}  # channel → (ts, opened, incident keys)
        self._listing: dict[tuple[str, ResourceName], _InitialList] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}
        # Roots decided but not yet handed to the publisher count as backlog too.
        self._roots_on_the_way: dict[str, int] = {}
        self.events_processed = 0
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
            if not incident.root and incident.digest in (None, "pending") and not self._muted(incident)
        ]
        for incident in pending:
            self._roots_on_the_way[incident.channel] = self._roots_on_the_way.get(incident.channel, 0) + 1
            self._chain(incident.key, lambda incident=incident: self._post_root(incident, None))  # type: ignore[misc]
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

    # the pipeline ----------------------------------------------------------------

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
        dirty, self._dirty = self._dirty, {}
        digests: set[str] = set()
        for incident in dirty.values():
            current = self.book.get(incident.key) or incident
            if current.digest:
                digests.add(current.channel)
            elif current.root:
                await self._guard(self._publisher.update_root(current), "update_root", current)
            elif current.key in self._chains:
                self._dirty[current.key] = current  # root still on its way: next flush
        for channel in digests:
            await self._refresh_digest(channel)

    async def drain(self) -> None:
        await self.flush()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)

    # effects ---------------------------------------------------------------------

    async def _perform(self, effects: list[IncidentEffect]) -> None:
        for effect in effects:
            # One `opsbot.alert` span per incident change; the root post, chained
            # from inside it, becomes its child.
            effect_name = type(effect).__name__.lower()
            with self._tracer.span("opsbot.alert", **_incident_attributes(effect.incident, effect_name)):
                self._save(effect.incident)
                if isinstance(effect, Opened):
                    await self._open(effect.incident, effect.finding)
                elif isinstance(effect, Changed):
                    self._dirty[effect.incident.key] = effect.incident
                elif isinstance(effect, Reopened):
                    await self._reopen(effect.incident)
                elif isinstance(effect, Resolved):
                    await self._resolve(effect.incident)

    def _save(self, incident: Incident) -> None:
        self._store.put_incident(
            incident.id, incident.key, incident.state.value, incident.channel, incident.to_dict()
        )

    def _muted(self, incident: Incident) -> Mute | None:
        return self.mutes.muted(incident.key, self._clock.now())

    async def _open(self, incident: Incident, finding: Finding) -> None:
        kind = incident.kind.value
        self.incidents_opened[kind] = self.incidents_opened.get(kind, 0) + 1
        log.info(
            "incident_opened",
            incident=incident.id,
            kind=incident.kind.value,
            cluster=incident.cluster,
            namespace=incident.namespace,
            workload=str(incident.workload),
            channel=incident.channel,
        )
        if self._muted(incident):
            return
        channel = incident.channel
        if (
            self._publisher.backlog(channel) + self._roots_on_the_way.get(channel, 0)
            >= self._digest_threshold
        ):
            await self._fold_into_digest(incident)
            return
        self._roots_on_the_way[channel] = self._roots_on_the_way.get(channel, 0) + 1
        self._chain(incident.key, lambda: self._post_root(incident, finding))

    async def _post_root(self, incident: Incident, finding: Finding | None) -> None:
        with self._tracer.span("opsbot.alert.post_root", **_incident_attributes(incident, None)) as span:
            try:
                ts = None
                if finding is None:  # resumed after a restart: maybe it was posted already
                    ts = await self._guard(self._publisher.find_root(incident), "find_root", incident)
                    span.set(**{"opsbot.outcome": "found" if ts else None})
                if not ts:
                    ts = await self._guard(self._publisher.post_root(incident), "post_root", incident)
                    span.set(**{"opsbot.outcome": "posted" if ts else "failed"})
                    if not ts:
                        span.fail("the root message was not posted")
            finally:
                self._roots_on_the_way[incident.channel] -= 1
        if not ts:
            return
        current = self.book.get(incident.key)
        posted = replace(current if current and current.id == incident.id else incident, root=ts)
        self.book.replace(posted)
        self._save(posted)
        if current is not None and current != incident:
            self._dirty[incident.key] = posted  # it changed while the root was on its way
        if finding is not None and finding.subject_kind == "Pod":
            await self._enrich(posted, finding)

    async def _fold_into_digest(self, incident: Incident) -> None:
        now = self._clock.now()
        channel = incident.channel
        current = self._digests.get(channel)
        if current is not None and now - current[1] > timedelta(minutes=10):
            current = None
        if current is None:
            self._digests[channel] = ("", now, [incident.key])
            ts = await self._guard(self._publisher.post_digest(channel, [incident]), "post_digest", incident)
            self._digests[channel] = (ts or "", now, self._digests[channel][2])
        else:
            current[2].append(incident.key)
            ts = current[0]
            self._dirty[incident.key] = incident
        folded = replace(self.book.get(incident.key) or incident, digest=ts or "pending")
        self.book.replace(folded)
        self._save(folded)

    async def _refresh_digest(self, channel: str) -> None:
        current = self._digests.get(channel)
        if current is None or not current[0]:
            return
        incidents = [i for key in current[2] if (i := self.book.get(key)) is not None]
        await self._guard(
            self._publisher.update_digest(channel, current[0], incidents), "update_digest", None
        )

    async def _reopen(self, incident: Incident) -> None:
        log.info("incident_reopened", incident=incident.id, kind=incident.kind.value)
        self._chain(
            incident.key,
            lambda: self._announce(incident.key, f":rotating_light: Relapsed: {incident.reason} again."),
        )

    async def _resolve(self, incident: Incident) -> None:
        log.info(
            "incident_resolved",
            incident=incident.id,
            kind=incident.kind.value,
            duration_s=incident.duration.total_seconds(),
        )
        text = f":white_check_mark: Resolved after {since(incident.duration)}: every affected pod has recovered."
        self._chain(incident.key, lambda: self._announce(incident.key, text))

    async def _announce(self, key: str, text: str) -> None:
        """Update the root (or digest) and say `text` in the incident's thread."""
        incident = self.book.get(key)
        if incident is None:
            return
        if not incident.root:
            self._dirty[key] = incident
            return
        await self._guard(self._publisher.update_root(incident), "update_root", incident)
        if not self._muted(incident):
            await self._guard(self._publisher.reply(incident, text), "reply", incident)

    async def _enrich(self, incident: Incident, finding: Finding) -> None:
        if self._enrichment_lines <= 0:
            return
        kube = self._clusters.get(incident.cluster)
        previous = finding.kind in {AlertKind.CRASH_LOOP, AlertKind.OOM_KILLED}
        lines: list[str] = []
        note = ""
        try:
            text = await self._run_blocking(
                kube.read_pod_log,
                finding.namespace,
                finding.subject,
                container=finding.container,
                tail_lines=self._enrichment_lines,
                previous=previous,
                since_seconds=None,
                limit_bytes=64_000,
            )
            lines = str(text).splitlines()
        except Exception as exc:
            note = str(exc)[:300]
        events: list[KubeObject] = []
        try:
            selector = f"involvedObject.name={finding.subject},type=Warning"
            events = await self._run_blocking(kube.list_events, finding.namespace, field_selector=selector)
        except Exception as exc:
            log.info("enrichment_events_unavailable", error=str(exc)[:200])
        await self._guard(
            self._publisher.post_enrichment(incident, Enrichment(lines, note, events)), "enrich", incident
        )

    # mutes (called from buttons and commands) ----------------------------------------

    def mute(self, incident_id: str, hours: float, user: str) -> Mute | None:
        incident = self.book.by_id(incident_id)
        if incident is None:
            return None
        until = self._clock.now() + timedelta(hours=hours)
        label = (
            f"{incident.kind.value} {incident.workload} in {incident.namespace or '-'} on {incident.cluster}"
        )
        mute = self.mutes.add(incident.key, until, user, label)
        self._store.put_mute(mute.id, mute.pattern, until.timestamp(), mute.to_dict())
        log.info("incident_muted", incident=incident.id, until=until.isoformat(), user=user)
        return mute

    def open_incidents(self) -> list[Incident]:
        return self.book.open_incidents()

    def on_click(self, action_id: str, incident: Incident) -> ClickOutcome:
        """What a click on one of the incident card's buttons should do."""
        return on_click(action_id, incident)

    def incident(self, incident_id: str) -> Incident | None:
        return self.book.by_id(incident_id)

    def active_mutes(self) -> list[Mute]:
        return self.mutes.active(self._clock.now())

    def unmute(self, mute_id: str) -> Mute | None:
        mute = self.mutes.remove(mute_id)
        self._store.delete_mute(mute_id)
        return mute

    # helpers -----------------------------------------------------------------------

    def _chain(self, key: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` after everything already queued for this incident, without blocking the pipeline."""
        previous = self._chains.get(key)

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await step()

        task = asyncio.create_task(run(), name=f"incident:{key}")
        self._chains[key] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if self._chains.get(key) is finished:
                del self._chains[key]

        task.add_done_callback(done)

    async def _guard(self, awaitable: Any, what: str, incident: Incident | None) -> Any:
        try:
            return await awaitable
        except Exception as exc:
            log.error(
                "alert_publish_failed",
                what=what,
                incident=incident.id if incident else None,
                error=str(exc)[:300],
            )
            return None
