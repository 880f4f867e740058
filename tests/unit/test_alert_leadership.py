"""Whose incidents a replica holds with `ha:` on (opsbot.alerts.service.AlertService): a
cluster's leader holds that cluster's own incidents, the replica running the Alertmanager
loops holds every Alertmanager incident, whatever its cluster. Two services on one real
SQLite store stand for two replicas; no network, no Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from opsbot.alerts.findings import AlertKind, Observation, Severity, Workload
from opsbot.alerts.incidents import Affected, Incident, IncidentBook, IncidentPolicy, IncidentState
from opsbot.alerts.mutes import MuteList
from opsbot.alerts.service import AlertService
from opsbot.store.sqlite import SqliteStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHANNEL = "C0ALERTS01"


class Clock:
    def now(self) -> datetime:
        return NOW


class Publisher:
    """Records which incidents' roots were looked up (resumed) or posted; finds none."""

    def __init__(self) -> None:
        self.looked_up: list[str] = []
        self.posted: list[str] = []

    def backlog(self, channel: str) -> int:
        return 0

    async def find_root(self, incident: Incident) -> str | None:
        self.looked_up.append(incident.key)
        return None

    async def post_root(self, incident: Incident) -> str | None:
        self.posted.append(incident.key)
        return f"{len(self.posted)}.000"

    async def find_enrichment(self, incident: Incident) -> str | None:
        return None

    async def post_enrichment(self, incident: Incident, enrichment: Any) -> str | None:
        return None

    async def update_root(self, incident: Incident) -> None: ...

    async def reply(self, incident: Incident, text: Any) -> None: ...


def incident(key: str, kind: AlertKind, cluster: str, *, root: str | None = "1.000") -> Incident:
    subject_kind = "Alert" if kind is AlertKind.ALERTMANAGER else "Pod"
    return Incident(
        id=f"{key}@{NOW.isoformat()}",
        key=key,
        kind=kind,
        severity=Severity.WARNING,
        cluster=cluster,
        namespace="shop",
        workload=Workload("Alert" if kind is AlertKind.ALERTMANAGER else "Deployment", "web"),
        subject_kind=subject_kind,
        channel=CHANNEL,
        opened_at=NOW,
        updated_at=NOW,
        affected=(Affected(name="web-1" if subject_kind == "Pod" else "fp1"),),
        root=root,
        enrichment="none",
    )


CRASH_X = incident("x/shop/web/crash", AlertKind.CRASH_LOOP, "x")
CRASH_Y = incident("y/shop/web/crash", AlertKind.CRASH_LOOP, "y")
GROUP_X = incident("opsbot/{alertname=HighLatency}", AlertKind.ALERTMANAGER, "x")
GROUP_Y = incident("opsbot/{alertname=DiskFull}", AlertKind.ALERTMANAGER, "y", root=None)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """What the last leaders saved: each cluster's own incident and an Alertmanager group's."""
    made = SqliteStore(tmp_path / "shared.db")
    for saved in (CRASH_X, CRASH_Y, GROUP_X, GROUP_Y):
        await made.put_incident(saved.id, saved.key, saved.state.value, saved.channel, saved.to_dict())
    yield made
    made.close()


def replica(store: SqliteStore) -> tuple[AlertService, Publisher]:
    publisher = Publisher()
    service = AlertService(
        IncidentBook(IncidentPolicy(), lambda finding: CHANNEL),
        store,
        cast(Any, publisher),  # no digests here
        cast(Any, None),
        Clock(),
        mutes=MuteList([]),
        enabled=frozenset(AlertKind),
        run_blocking=cast(Any, None),
        enrichment_lines=0,
    )
    service.gate()
    return service, publisher


def held(service: AlertService) -> set[str]:
    return {i.key for i in service.book.all()}


async def test_leading_a_cluster_loads_its_own_incidents_not_its_alertmanager_groups(store: SqliteStore) -> None:
    service, publisher = replica(store)
    assert await service.lead("x") == 1
    assert held(service) == {CRASH_X.key}
    assert await service.lead("y") == 1
    # GROUP_Y has no root on record: leading its cluster does not resume it either.
    await service.drain()
    assert held(service) == {CRASH_X.key, CRASH_Y.key}
    assert publisher.looked_up == [] and publisher.posted == []


async def test_the_alertmanager_loops_load_every_group_whatever_its_cluster_and_resume_unposted_roots(
    store: SqliteStore,
) -> None:
    """(And only they: leading the group's cluster resumes nothing of it.)"""
    service, publisher = replica(store)
    assert await service.load_alertmanager_incidents() == 2
    assert held(service) == {GROUP_X.key, GROUP_Y.key}
    await service.lead("y")  # leading the group's cluster resumes nothing more of it
    await service.drain()
    # GROUP_Y's root may have been posted before a crash: looked up first, then posted once.
    assert (publisher.looked_up, publisher.posted) == ([GROUP_Y.key], [GROUP_Y.key])


async def test_stepping_down_from_a_cluster_keeps_its_alertmanager_groups(store: SqliteStore) -> None:
    service, _ = replica(store)
    await service.load_alertmanager_incidents()
    await service.lead("x")
    await service.lead("y")
    await service.step_down("x")
    assert held(service) == {CRASH_Y.key, GROUP_X.key, GROUP_Y.key}
    assert await service.incident(GROUP_X.ref or GROUP_X.id) is not None
    # The group's bookkeeping is whole: Alertmanager's "resolved" still reaches it.
    assert service.book.clear(GROUP_X.key, ["fp1"], NOW) != []
    assert service.book.resolve_now(GROUP_X.key, NOW)[0].incident.state is IncidentState.RESOLVED
    await service.step_down("y")
    assert held(service) == {GROUP_X.key, GROUP_Y.key}


async def test_losing_the_alertmanager_loops_forgets_their_groups_and_keeps_the_clusters_led(
    store: SqliteStore,
) -> None:
    service, _ = replica(store)
    await service.load_alertmanager_incidents()
    await service.lead("x")
    await service.forget_alertmanager_incidents()
    assert held(service) == {CRASH_X.key}
    # The store keeps them for the next replica to run the loops.
    assert {d["key"] for d in await store.incidents()} >= {GROUP_X.key, GROUP_Y.key}
    # A pod of cluster x still ends its own incident (its subject index survived the forget).
    healthy = Observation("x", "Pod", "shop", "web-1", Workload("Deployment", "web"), healthy=True)
    service.book.observe(healthy, NOW)
    (crash,) = service.book.all()
    assert crash.affected[0].healthy_since == NOW


async def test_two_replicas_never_both_hold_an_alertmanager_group(store: SqliteStore) -> None:
    """a leads cluster x, b runs the Alertmanager loops; then the loops move to a."""
    a, _ = replica(store)
    b, _ = replica(store)
    await a.lead("x")
    await b.lead("y")
    await b.load_alertmanager_incidents()
    assert held(a) == {CRASH_X.key}
    assert held(b) == {CRASH_Y.key, GROUP_X.key, GROUP_Y.key}
    await b.forget_alertmanager_incidents()
    await a.load_alertmanager_incidents()
    assert held(a) == {CRASH_X.key, GROUP_X.key, GROUP_Y.key}
    assert held(b) == {CRASH_Y.key}
    await a.drain()


async def test_a_mute_made_on_one_replica_is_removed_on_another_at_once(store: SqliteStore) -> None:
    """The removing replica reads the store first: no waiting for its copy to refresh."""
    a, _ = replica(store)
    b, _ = replica(store)
    await a.lead("x")
    await b.lead("y")  # b's copy of the mutes is read now, before the mute exists
    mute = await a.mute(CRASH_X.id, 1.0, "U0ALICE01")
    assert mute is not None
    removed = await b.unmute(mute.id)
    assert removed is not None and removed.id == mute.id
    assert await store.mutes(now=NOW.timestamp()) == []
