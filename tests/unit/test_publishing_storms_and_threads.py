"""Publishing (opsbot.alerts.publishing) against a recording publisher: storms read as one story,
and every root gets its context once, also after a restart.

The publisher's backlog is set by the test, as the outbox would report it: a storm is a
channel with messages waiting.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from opsbot.alerts.digests import QUIET, WINDOW, digest_card
from opsbot.alerts.enrichment import Enrichment
from opsbot.alerts.findings import AlertKind, Finding, Observation, Severity, Workload
from opsbot.alerts.incidents import Incident, IncidentBook, IncidentPolicy, Opened
from opsbot.alerts.mutes import MuteList
from opsbot.alerts.pipeline import AlertPipeline
from opsbot.alerts.publishing import Publishing
from opsbot.console.render import render_text
from opsbot.core.reply import Text
from opsbot.telemetry import NOOP_ERRORS, NOOP_TRACER

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHANNEL = "C0ALERTS01"


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


class Store:
    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    async def put_incident(
        self, incident_id: str, key: str, state: str, channel: str, data: dict[str, Any]
    ) -> None:
        self.saved[incident_id] = data

    async def incidents(self, *, state: str | None = None) -> list[dict[str, Any]]:
        return list(self.saved.values())


class Recorder:
    """An AlertPublisher that records what it was asked to show."""

    def __init__(self) -> None:
        self.waiting = 0  # the channel's backlog, as the outbox would say
        self.roots: list[str] = []  # incident keys
        self.digests: list[tuple[list[str], list[str]]] = []  # every post/update: (folded, separate) keys
        self.contexts: list[str] = []
        self.replies: list[str] = []
        self.found_roots: dict[str, str] = {}
        self.found_contexts: dict[str, str] = {}
        self._ts = 0

    def _next(self) -> str:
        self._ts += 1
        return f"1700000000.{self._ts:06d}"

    def backlog(self, channel: str) -> int:
        return self.waiting

    async def post_root(self, incident: Incident) -> str | None:
        self.roots.append(incident.key)
        return self._next()

    async def find_root(self, incident: Incident) -> str | None:
        return self.found_roots.get(incident.id)

    async def update_root(self, incident: Incident) -> None:
        pass

    async def reply(self, incident: Incident, text: Text) -> None:
        self.replies.append(incident.key)

    async def post_enrichment(self, incident: Incident, enrichment: Enrichment) -> str | None:
        self.contexts.append(incident.key)
        return self._next()

    async def find_enrichment(self, incident: Incident) -> str | None:
        return self.found_contexts.get(incident.id)

    async def post_digest(self, channel: str, folded: list[Incident], separate: list[Incident]) -> str | None:
        self.digests.append(([i.key for i in folded], [i.key for i in separate]))
        return self._next()

    async def update_digest(
        self, channel: str, ts: str, folded: list[Incident], separate: list[Incident]
    ) -> None:
        self.digests.append(([i.key for i in folded], [i.key for i in separate]))


class Enricher:
    enabled = True

    async def gather(self, incident: Incident) -> Enrichment | None:
        return Enrichment(["panic"], "", [], container="app")


def world(threshold: int = 3) -> tuple[IncidentBook, Publishing, Recorder, Clock, Store]:
    book = IncidentBook(IncidentPolicy(), lambda finding: CHANNEL)
    recorder, clock, store = Recorder(), Clock(), Store()
    publishing = Publishing(
        book,
        cast(Any, store),
        recorder,
        clock,
        mutes=MuteList([]),
        enricher=cast(Any, Enricher()),
        digest_threshold=threshold,
        tracer=NOOP_TRACER,
        errors=NOOP_ERRORS,
    )
    return book, publishing, recorder, clock, store


def crash(workload: str) -> Observation:
    finding = Finding(
        kind=AlertKind.CRASH_LOOP,
        severity=Severity.CRITICAL,
        cluster="prod",
        namespace="web",
        workload=Workload("Deployment", workload),
        subject_kind="Pod",
        subject=f"{workload}-1",
        reason="Error",
        container="app",
        restart_count=2,
    )
    return Observation(
        "prod",
        "Pod",
        "web",
        f"{workload}-1",
        finding.workload,
        False,
        findings=(finding,),
        active=frozenset({AlertKind.CRASH_LOOP}),
    )


async def open_one(book: IncidentBook, publishing: Publishing, clock: Clock, workload: str) -> Incident:
    (effect,) = book.observe(crash(workload), clock.now())
    assert isinstance(effect, Opened)
    await publishing.save(effect.incident)
    await publishing.open(effect.incident)
    return effect.incident


def key(workload: str) -> str:
    return f"prod/web/Deployment/{workload}/CrashLoopBackOff"


# -- storms --------------------------------------------------------------------------------------


async def test_once_a_digest_is_open_new_incidents_join_it_until_the_channel_has_drained() -> None:
    book, publishing, recorder, clock, _ = world(threshold=3)
    recorder.waiting = 3  # backed up: the first incident opens a digest
    await open_one(book, publishing, clock, "a")
    recorder.waiting = 1  # below the threshold, but not drained: still the digest's
    await open_one(book, publishing, clock, "b")
    await publishing.drain()
    assert recorder.roots == []
    recorder.waiting = 0  # drained, and quiet for a while: the storm is over
    clock.at += QUIET + timedelta(seconds=1)
    await open_one(book, publishing, clock, "c")
    await publishing.drain()
    assert recorder.roots == [key("c")]
    assert recorder.digests[-1] == ([key("a"), key("b")], [])
    assert all(book.get(key(w)).digest for w in "ab")  # type: ignore[union-attr]


async def test_a_storm_that_pauses_for_a_moment_stays_one_digest() -> None:
    book, publishing, recorder, clock, _ = world(threshold=3)
    recorder.waiting = 3
    await open_one(book, publishing, clock, "a")
    recorder.waiting = 0  # Slack took everything, but the detections come in bursts
    clock.at += QUIET - timedelta(seconds=1)
    await open_one(book, publishing, clock, "b")
    clock.at += QUIET - timedelta(seconds=1)  # quiet is counted from the latest that joined
    await open_one(book, publishing, clock, "c")
    await publishing.drain()
    assert recorder.roots == []
    assert [folded for folded, _ in recorder.digests][-1] == [key("a"), key("b"), key("c")]


async def test_the_digest_lists_the_roots_of_its_storm_that_were_already_on_their_way() -> None:
    book, publishing, recorder, clock, _ = world(threshold=3)
    for workload in ("a", "b"):  # roots decided, not yet posted
        await open_one(book, publishing, clock, workload)
    recorder.waiting = 1  # + the two roots on their way = 3
    await open_one(book, publishing, clock, "c")
    await publishing.drain()
    assert recorder.digests[0] == ([key("c")], [key("a"), key("b")])
    assert recorder.roots == [key("a"), key("b")]


async def test_a_digest_older_than_its_window_takes_no_more() -> None:
    book, publishing, recorder, clock, _ = world(threshold=1)
    recorder.waiting = 1
    await open_one(book, publishing, clock, "a")
    clock.at += WINDOW + timedelta(seconds=1)
    await open_one(book, publishing, clock, "b")
    await publishing.drain()
    assert [folded for folded, _ in recorder.digests] == [[key("a")], [key("b")]]


def test_a_digest_of_one_says_one_and_every_incident_has_its_id() -> None:
    book, _, _, _, _ = world()
    (effect,) = book.observe(crash("a"), T0)
    text = render_text(digest_card([effect.incident]))
    assert text.splitlines()[0] == "! 1 new incident in web"
    assert "1 open" in text and "Too many" not in text
    assert effect.incident.ref in text
    (second,) = book.observe(crash("b"), T0)
    assert (
        render_text(digest_card([effect.incident], [second.incident])).splitlines()[0]
        == "! 2 new incidents in web"
    )


# -- context in the thread, once -----------------------------------------------------------------------


async def test_a_new_root_gets_its_context_once_and_the_incident_remembers() -> None:
    book, publishing, recorder, clock, store = world()
    incident = await open_one(book, publishing, clock, "a")
    await publishing.drain()
    assert recorder.contexts == [incident.key]
    assert book.get(incident.key).enrichment == "posted"  # type: ignore[union-attr]
    assert store.saved[incident.id]["enrichment"] == "posted"


async def test_a_root_found_again_after_a_crash_gets_its_thread() -> None:
    """The root went out just before a crash, its ts was never recorded: found, not re-posted, and
    its thread gets the context it never got."""
    book, publishing, recorder, clock, store = world()
    (effect,) = book.observe(crash("a"), clock.now())
    await publishing.save(effect.incident)  # saved, then the process died
    recorder.found_roots[effect.incident.id] = "1699999999.000001"
    restarted = await restart(store, recorder, clock)
    await restarted.drain()
    assert recorder.roots == [] and recorder.contexts == [effect.incident.key]
    assert restarted.book.get(effect.incident.key).enrichment == "posted"  # type: ignore[union-attr]


async def test_a_recorded_root_whose_context_never_went_out_gets_it_after_a_restart() -> None:
    book, publishing, recorder, clock, store = world()
    (effect,) = book.observe(crash("a"), clock.now())
    await publishing.save(replace(effect.incident, root="1699999999.000001"))  # crash before the context
    restarted = await restart(store, recorder, clock)
    await restarted.drain()
    assert recorder.contexts == [effect.incident.key]


async def test_a_context_already_in_the_thread_is_not_posted_twice() -> None:
    """Crash between posting the context and recording it: the thread says it is there."""
    book, publishing, recorder, clock, store = world()
    (effect,) = book.observe(crash("a"), clock.now())
    await publishing.save(replace(effect.incident, root="1699999999.000001"))
    recorder.found_contexts[effect.incident.id] = "1699999999.000002"
    restarted = await restart(store, recorder, clock)
    await restarted.drain()
    assert recorder.contexts == []
    assert restarted.book.get(effect.incident.key).enrichment == "posted"  # type: ignore[union-attr]


async def restart(store: Store, recorder: Recorder, clock: Clock) -> AlertPipeline:
    """A new process: its book restored from the store, unposted roots and threads resumed."""
    book = IncidentBook(IncidentPolicy(), lambda finding: CHANNEL)
    publishing = Publishing(
        book,
        cast(Any, store),
        recorder,
        clock,
        mutes=MuteList([]),
        enricher=cast(Any, Enricher()),
        digest_threshold=3,
        tracer=NOOP_TRACER,
        errors=NOOP_ERRORS,
    )
    pipeline = AlertPipeline(
        book,
        cast(Any, store),
        publishing,
        clock,
        enabled=frozenset(AlertKind),
        owners=None,
        flush_interval=1.0,
        tracer=NOOP_TRACER,
        errors=NOOP_ERRORS,
    )
    await pipeline.restore()
    pipeline.resume_unposted()
    return pipeline
