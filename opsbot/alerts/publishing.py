"""Showing incidents: root messages, digests, thread replies, in an order that loses nothing.

- an incident is saved before its root is posted and again with the root's ts;
- updates to a root are coalesced (at most one per incident per flush);
- when a channel already has a backlog, new roots fold into one digest message;
- the steps of one incident run one after the other (a chain per incident key),
  without holding up the pipeline.

A failed publisher call never stops the pipeline (:meth:`Publishing._guard`): an
operational failure (an :class:`~opsbot.errors.OpsbotError`, e.g. Slack refused or
could not be reached after the outbox's retries) is one warning line; anything else
is a bug, logged with its traceback and reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import structlog

from opsbot.alerts.enrichment import Enricher, Enrichment
from opsbot.alerts.findings import Finding
from opsbot.alerts.incidents import Incident, IncidentBook
from opsbot.alerts.mutes import Mute, MuteList
from opsbot.core.durations import since
from opsbot.core.reply import Icon, Text
from opsbot.errors import OpsbotError
from opsbot.ports import Clock, Store
from opsbot.telemetry import Attribute, ErrorReporter, Tracer

log = structlog.get_logger("opsbot.alerts")

DIGEST_WINDOW = timedelta(minutes=10)  # a digest older than this takes no more incidents

_T = TypeVar("_T")


class AlertPublisher(Protocol):
    """Where incidents are shown (Slack). Operational failures raise an OpsbotError."""

    def backlog(self, channel: str) -> int: ...

    async def post_root(self, incident: Incident) -> str | None: ...

    async def find_root(self, incident: Incident) -> str | None: ...

    async def update_root(self, incident: Incident) -> None: ...

    async def reply(self, incident: Incident, text: Text) -> None: ...

    async def post_enrichment(self, incident: Incident, enrichment: Enrichment) -> None: ...

    async def post_digest(self, channel: str, incidents: list[Incident]) -> str | None: ...

    async def update_digest(self, channel: str, ts: str, incidents: list[Incident]) -> None: ...


@dataclass
class Digest:
    """The one message a channel's new incidents fold into while the channel has a backlog."""

    opened: datetime
    keys: list[str]  # the incidents folded in, by key
    ts: str = ""  # "" while its post is on its way, or when that failed


def incident_attributes(incident: Incident, effect: str | None) -> dict[str, Attribute | None]:
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


class Publishing:
    """Performs what the incident book decided, through an :class:`AlertPublisher`."""

    def __init__(
        self,
        book: IncidentBook,
        store: Store,
        publisher: AlertPublisher,
        clock: Clock,
        *,
        mutes: MuteList,
        enricher: Enricher,
        digest_threshold: int,
        tracer: Tracer,
        errors: ErrorReporter,
    ) -> None:
        self._book = book
        self._store = store
        self._publisher = publisher
        self._clock = clock
        self._mutes = mutes
        self._enricher = enricher
        self._digest_threshold = digest_threshold
        self._tracer = tracer
        self._errors = errors
        self._dirty: dict[str, Incident] = {}  # roots to update at the next flush, by key
        self._digests: dict[str, Digest] = {}  # by channel
        self._tasks: set[asyncio.Task[None]] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}
        # Roots decided but not yet handed to the publisher count as backlog too.
        self._roots_on_the_way: dict[str, int] = {}

    def save(self, incident: Incident) -> None:
        self._store.put_incident(
            incident.id, incident.key, incident.state.value, incident.channel, incident.to_dict()
        )

    def muted(self, incident: Incident) -> Mute | None:
        return self._mutes.muted(incident.key, self._clock.now())

    # what the book decided -----------------------------------------------------------

    async def open(self, incident: Incident, finding: Finding) -> None:
        """A new incident: its root, or a line in the channel's digest when the channel is backed up."""
        log.info(
            "incident_opened",
            incident=incident.id,
            kind=incident.kind.value,
            cluster=incident.cluster,
            namespace=incident.namespace,
            workload=str(incident.workload),
            channel=incident.channel,
        )
        if self.muted(incident):
            return
        channel = incident.channel
        if (
            self._publisher.backlog(channel) + self._roots_on_the_way.get(channel, 0)
            >= self._digest_threshold
        ):
            await self._fold_into_digest(incident)
            return
        self._post_later(incident, finding)

    def resume(self, incident: Incident) -> None:
        """An incident saved before a crash whose root may or may not be in the channel."""
        self._post_later(incident, None)

    def changed(self, incident: Incident) -> None:
        """Its root (or digest) shows the change at the next flush."""
        self._dirty[incident.key] = incident

    async def reopen(self, incident: Incident) -> None:
        log.info("incident_reopened", incident=incident.id, kind=incident.kind.value)
        self._chain(
            incident.key,
            lambda: self._announce(incident.key, Text(Icon.ALERT, f" Relapsed: {incident.reason} again.")),
        )

    async def resolve(self, incident: Incident) -> None:
        log.info(
            "incident_resolved",
            incident=incident.id,
            kind=incident.kind.value,
            duration_s=incident.duration.total_seconds(),
        )
        text = Text(Icon.SUCCESS, f" Resolved after {since(incident.duration)}: every affected pod has recovered.")
        self._chain(incident.key, lambda: self._announce(incident.key, text))

    async def flush(self) -> None:
        """Update every root (and digest) whose incident changed since the last flush."""
        dirty, self._dirty = self._dirty, {}
        digests: set[str] = set()
        for incident in dirty.values():
            current = self._book.get(incident.key) or incident
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

    # roots -------------------------------------------------------------------------------

    def _post_later(self, incident: Incident, finding: Finding | None) -> None:
        channel = incident.channel
        self._roots_on_the_way[channel] = self._roots_on_the_way.get(channel, 0) + 1
        self._chain(incident.key, lambda: self._post_root(incident, finding))

    async def _post_root(self, incident: Incident, finding: Finding | None) -> None:
        """Post the root (``finding`` None: resumed after a restart, look for it first), record its ts."""
        with self._tracer.span("opsbot.alert.post_root", **incident_attributes(incident, None)) as span:
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
        current = self._book.get(incident.key)
        posted = replace(current if current and current.id == incident.id else incident, root=ts)
        self._book.replace(posted)
        self.save(posted)
        if current is not None and current != incident:
            self._dirty[incident.key] = posted  # it changed while the root was on its way
        if finding is not None:
            enrichment = await self._enricher.gather(finding)
            if enrichment is not None:
                await self._guard(self._publisher.post_enrichment(posted, enrichment), "enrich", posted)

    async def _announce(self, key: str, text: Text) -> None:
        """Update the root (or digest) and say `text` in the incident's thread."""
        incident = self._book.get(key)
        if incident is None:
            return
        if not incident.root:
            self._dirty[key] = incident
            return
        await self._guard(self._publisher.update_root(incident), "update_root", incident)
        if not self.muted(incident):
            await self._guard(self._publisher.reply(incident, text), "reply", incident)

    # digests -----------------------------------------------------------------------------

    async def _fold_into_digest(self, incident: Incident) -> None:
        now = self._clock.now()
        channel = incident.channel
        digest = self._digests.get(channel)
        if digest is not None and now - digest.opened > DIGEST_WINDOW:
            digest = None
        if digest is None:
            digest = self._digests[channel] = Digest(opened=now, keys=[incident.key])
            ts = await self._guard(self._publisher.post_digest(channel, [incident]), "post_digest", incident)
            digest.ts = ts or ""
        else:
            digest.keys.append(incident.key)
            ts = digest.ts
            self._dirty[incident.key] = incident
        folded = replace(self._book.get(incident.key) or incident, digest=ts or "pending")
        self._book.replace(folded)
        self.save(folded)

    async def _refresh_digest(self, channel: str) -> None:
        digest = self._digests.get(channel)
        if digest is None or not digest.ts:
            return
        incidents = [i for key in digest.keys if (i := self._book.get(key)) is not None]
        await self._guard(self._publisher.update_digest(channel, digest.ts, incidents), "update_digest", None)

    # helpers -----------------------------------------------------------------------------

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

    async def _guard(self, call: Awaitable[_T], what: str, incident: Incident | None) -> _T | None:
        """The result of a publisher call, or None when it failed (logged; reported if a bug)."""
        try:
            return await call
        except OpsbotError as exc:
            log.warning(
                "alert_publish_failed",
                what=what,
                incident=incident.id if incident else None,
                error=str(exc)[:300],
            )
        except Exception as exc:
            log.exception("alert_publish_failed", what=what, incident=incident.id if incident else None)
            self._errors.capture(
                exc, where="alert_publish", what=what, incident=incident.id if incident else None
            )
        return None
