"""Showing incidents: root messages, digests, thread replies, in an order that loses nothing.

- an incident is saved before its root is posted and again with the root's ts;
- updates to a root are coalesced (at most one per incident per flush);
- when a channel already has a backlog, new incidents fold into one digest message, and
  keep joining it until the storm is over (digests.py);
- a root's thread gets its context (enrichment) once, also when the root was found again
  after a restart: ``Incident.enrichment`` says whether it is still due;
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
from dataclasses import replace
from typing import Protocol, TypeVar

import structlog

from opsbot.alerts.digests import Digest
from opsbot.alerts.enrichment import CAUSE, Enricher, Enrichment, wants_enrichment
from opsbot.alerts.incidents import Incident, IncidentBook
from opsbot.alerts.mutes import Mute, MuteList
from opsbot.alerts.thread import relapse_text, resolved_text
from opsbot.core.reply import Text
from opsbot.core.writes import LatestWrites
from opsbot.errors import OpsbotError
from opsbot.ports import Clock, Store
from opsbot.telemetry import Attribute, ErrorReporter, Tracer

log = structlog.get_logger("opsbot.alerts")

_T = TypeVar("_T")


class AlertPublisher(Protocol):
    """Where incidents are shown (Slack). Operational failures raise an OpsbotError."""

    def backlog(self, channel: str) -> int: ...

    async def post_root(self, incident: Incident) -> str | None: ...

    async def find_root(self, incident: Incident) -> str | None: ...

    async def update_root(self, incident: Incident) -> None: ...

    async def reply(self, incident: Incident, text: Text) -> None: ...

    async def post_enrichment(self, incident: Incident, enrichment: Enrichment) -> str | None: ...

    async def find_enrichment(self, incident: Incident) -> str | None: ...

    async def post_digest(
        self, channel: str, folded: list[Incident], separate: list[Incident]
    ) -> str | None: ...

    async def update_digest(
        self, channel: str, ts: str, folded: list[Incident], separate: list[Incident]
    ) -> None: ...


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
        self._saves: LatestWrites[str, Incident] = LatestWrites(self._put)
        self._dirty: dict[str, Incident] = {}  # roots to update at the next flush, by key
        self._digests: dict[str, Digest] = {}  # by channel
        self._tasks: set[asyncio.Task[None]] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}
        # Roots decided but not yet handed to the publisher count as backlog too (by channel).
        self._roots_on_the_way: dict[str, set[str]] = {}

    async def save(self, incident: Incident) -> None:
        """Written through; two tasks saving one incident reach the store in order."""
        await self._saves(incident.id, incident)

    async def _put(self, incident_id: str, incident: Incident) -> None:
        await self._store.put_incident(
            incident_id, incident.key, incident.state.value, incident.channel, incident.to_dict()
        )

    async def refresh_mutes(self) -> None:
        """Replicas: the shared mutes, if due (see `MuteList.refresh`)."""
        await self._mutes.refresh()

    def muted(self, incident: Incident) -> Mute | None:
        return self._mutes.muted(incident.key, self._clock.now())

    def backlog(self, channel: str) -> int:
        return self._publisher.backlog(channel) + len(self._roots_on_the_way.get(channel, ()))

    # what the book decided -----------------------------------------------------------

    async def open(self, incident: Incident) -> None:
        """A new incident: its root, or a line in the channel's digest while the channel is backed up."""
        log.info(
            "incident_opened",
            incident=incident.id,
            ref=incident.ref,
            kind=incident.kind.value,
            cluster=incident.cluster,
            namespace=incident.namespace,
            workload=str(incident.workload),
            channel=incident.channel,
        )
        if self.muted(incident):
            return
        channel = incident.channel
        backlog = self.backlog(channel)
        digest = self._digests.get(channel)
        if digest is not None and not digest.takes(self._clock.now(), backlog):
            del self._digests[channel]  # the storm is over: roots of their own again
            digest = None
        if digest is not None or backlog >= self._digest_threshold:
            await self._fold_into_digest(incident, digest)
            return
        self._post_later(incident, resumed=False)

    def resume(self, incident: Incident) -> None:
        """An incident saved before a crash whose root may or may not be in the channel."""
        self._post_later(incident, resumed=True)

    def resume_enrichment(self, incident: Incident) -> None:
        """An incident whose root is known but whose thread may still lack its context."""
        self._chain(incident.key, lambda: self._enrich(incident.key, resumed=True))

    def changed(self, incident: Incident) -> None:
        """Its root (or digest) shows the change at the next flush."""
        self._dirty[incident.key] = incident

    async def reopen(self, incident: Incident) -> None:
        log.info("incident_reopened", incident=incident.id, kind=incident.kind.value)
        self._chain(incident.key, lambda: self._announce(incident.key, relapse_text(incident)))

    async def resolve(self, incident: Incident, text: Text | None = None) -> None:
        """`text`: what the thread says (a source that resolves incidents itself words it)."""
        log.info(
            "incident_resolved",
            incident=incident.id,
            kind=incident.kind.value,
            duration_s=incident.duration.total_seconds(),
            exact=incident.since_exact,
        )
        said = text if text is not None else resolved_text(incident)
        self._chain(incident.key, lambda: self._announce(incident.key, said))

    def announce(self, key: str, text: Text | None = None) -> None:
        """After the incident's earlier steps: update its root now and, with `text`, say it in
        its thread (a source outside the book, e.g. Alertmanager, changed what the card shows)."""
        self._chain(key, lambda: self._announce(key, text))

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
            if current.root and any(current.key in d.separate for d in self._digests.values()):
                digests.add(current.channel)
        for channel in digests:
            await self._refresh_digest(channel)

    async def drain(self) -> None:
        await self.flush()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)

    async def forget(self, keys: set[str]) -> None:
        """Stop showing these incidents (their cluster is led elsewhere now): steps not yet
        done are cancelled and awaited, coalesced updates dropped. A Slack call already on
        the wire completes; nothing new starts for them after this returns."""
        self._dirty = {key: incident for key, incident in self._dirty.items() if key not in keys}
        chains = [task for key, task in self._chains.items() if key in keys]
        for task in chains:
            task.cancel()
        await asyncio.gather(*chains, return_exceptions=True)
        for on_the_way in self._roots_on_the_way.values():
            on_the_way -= keys
        self._digests = {ch: d for ch, d in self._digests.items() if not set(d.keys) <= keys}

    # roots -------------------------------------------------------------------------------

    def _post_later(self, incident: Incident, *, resumed: bool) -> None:
        self._roots_on_the_way.setdefault(incident.channel, set()).add(incident.key)
        self._chain(incident.key, lambda: self._post_root(incident, resumed=resumed))

    async def _post_root(self, incident: Incident, *, resumed: bool) -> None:
        """Post the root (resumed after a restart: look for it first), record its ts, then its context."""
        with self._tracer.span("opsbot.alert.post_root", **incident_attributes(incident, None)) as span:
            try:
                ts = None
                if resumed:  # maybe it was posted already
                    ts = await self._guard(self._publisher.find_root(incident), "find_root", incident)
                    span.set(**{"opsbot.outcome": "found" if ts else None})
                if not ts:
                    ts = await self._guard(self._publisher.post_root(incident), "post_root", incident)
                    span.set(**{"opsbot.outcome": "posted" if ts else "failed"})
                    if not ts:
                        span.fail("the root message was not posted")
            finally:
                self._roots_on_the_way.get(incident.channel, set()).discard(incident.key)
        if not ts:
            return
        current = self._book.get(incident.key)
        posted = replace(current if current and current.id == incident.id else incident, root=ts)
        if posted.enrichment == "pending" and not self._wants_context(posted):
            posted = replace(posted, enrichment="none")  # recorded with the root: one write
        self._book.replace(posted)
        await self.save(posted)
        if current is not None and current != incident:
            self._dirty[incident.key] = posted  # it changed while the root was on its way
        await self._enrich(incident.key, resumed=resumed)

    async def _enrich(self, key: str, *, resumed: bool) -> None:
        """Give the root's thread its context, once: what the incident's state says is still due."""
        incident = self._book.get(key)
        if incident is None or not incident.root or incident.enrichment != "pending":
            return
        if not self._wants_context(incident):
            await self._record(replace(incident, enrichment="none"))
            return
        if resumed:
            found = await self._guard(self._publisher.find_enrichment(incident), "find_enrichment", incident)
            if found:
                await self._record(replace(incident, enrichment="posted"))
                return
        enrichment = await self._enricher.gather(incident)
        if enrichment is None:
            await self._record(replace(incident, enrichment="none"))
            return
        posted = await self._guard(self._publisher.post_enrichment(incident, enrichment), "enrich", incident)
        current = self._book.get(key) or incident
        facts = {
            **current.facts,
            **enrichment.facts,
            **({CAUSE: enrichment.cause} if enrichment.cause else {}),
        }
        updated = replace(current, facts=facts, enrichment="posted" if posted else current.enrichment)
        await self._record(updated)
        if facts != current.facts:
            self._dirty[key] = updated  # the card shows what the context told

    def _wants_context(self, incident: Incident) -> bool:
        return self._enricher.enabled and wants_enrichment(incident)

    async def _record(self, incident: Incident) -> None:
        self._book.replace(incident)
        await self.save(incident)

    async def _announce(self, key: str, text: Text | None) -> None:
        """Update the root (or digest) and say `text` (if any) in the incident's thread."""
        incident = self._book.get(key)
        if incident is None:
            return
        if not incident.root:
            self._dirty[key] = incident
            return
        await self._guard(self._publisher.update_root(incident), "update_root", incident)
        if text is not None and not self.muted(incident):
            await self._guard(self._publisher.reply(incident, text), "reply", incident)

    # digests -----------------------------------------------------------------------------

    async def _fold_into_digest(self, incident: Incident, digest: Digest | None) -> None:
        channel = incident.channel
        if digest is None:
            separate = sorted(self._roots_on_the_way.get(channel, set()))
            digest = self._digests[channel] = Digest(
                channel, self._clock.now(), keys=[incident.key], separate=separate
            )
            folded, others = self._digest_incidents(digest)
            ts = await self._guard(
                self._publisher.post_digest(channel, folded, others), "post_digest", incident
            )
            digest.ts = ts or ""
        else:
            digest.join(incident.key, self._clock.now())
            ts = digest.ts
            self._dirty[incident.key] = incident
        folded_in = replace(self._book.get(incident.key) or incident, digest=ts or "pending")
        self._book.replace(folded_in)
        await self.save(folded_in)

    def _digest_incidents(self, digest: Digest) -> tuple[list[Incident], list[Incident]]:
        folded = [i for key in digest.keys if (i := self._book.get(key)) is not None]
        separate = [i for key in digest.separate if (i := self._book.get(key)) is not None]
        return folded, separate

    async def _refresh_digest(self, channel: str) -> None:
        digest = self._digests.get(channel)
        if digest is None or not digest.ts:
            return
        folded, separate = self._digest_incidents(digest)
        await self._guard(
            self._publisher.update_digest(channel, digest.ts, folded, separate), "update_digest", None
        )

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
