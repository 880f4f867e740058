"""Two replicas deciding one Alertmanager remediation at the same moment, on one Redis and on
one SQLite file: the compare-and-set on its revision lets one write win, the other is computed
again on what won, so the command runs once and the outcome is consistent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from opsbot.alertmanager.state import AlertmanagerStore
from opsbot.approvals.machine import Status
from opsbot.store.protocol import StateStore
from opsbot.store.sqlite import SqliteStore
from tests.contract.conftest import redis_store
from tests.support.redis_server import RedisServer
from tests.support.remediation_world import ALICE, BOB, NOW, World, remediation, subject, world


class WriteTogether:
    """The real store, except that each replica's first compare-and-set waits for the other's:
    both have read the proposal pending and decided on it before either writes."""

    def __init__(self, inner: StateStore, barrier: asyncio.Barrier) -> None:
        self._inner = inner
        self._barrier = barrier
        self._waited = False

    async def replace_remediation(self, *args: Any, **kwargs: Any) -> bool:
        if not self._waited:
            self._waited = True
            await asyncio.wait_for(self._barrier.wait(), timeout=10)
        return await self._inner.replace_remediation(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(params=["sqlite", "redis"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[StateStore, StateStore]:
    """Two replicas' handles on one state."""
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "o.db"), SqliteStore(tmp_path / "o.db")
    server: RedisServer = request.getfixturevalue("redis_server")
    return redis_store(server), redis_store(server)


async def replicas(stores: tuple[StateStore, StateStore]) -> tuple[World, World]:
    """A pending proposal, and a replica on each handle whose first write waits for the other's."""
    await (await world(stores[0])).state.put_remediation(remediation())
    barrier = asyncio.Barrier(2)
    one, two = [await world(cast(AlertmanagerStore, WriteTogether(s, barrier)), run_delay=0.01) for s in stores]
    return one, two


async def replica(w: World, step: Callable[[World], Any]) -> None:
    await step(w)
    await w.service.idle()


async def test_two_people_approving_on_two_replicas_run_the_command_once(
    two_stores: tuple[StateStore, StateStore],
) -> None:
    one, two = await replicas(two_stores)
    await asyncio.gather(
        replica(one, lambda w: w.service.decide("r1", True, subject(BOB), "C0ALERTS01")),
        replica(two, lambda w: w.service.decide("r1", True, subject(ALICE), "C0ALERTS01")),
    )
    assert len(one.runs) + len(two.runs) == 1
    final = await one.state.remediation("r1")
    assert final is not None and final.status is Status.SUCCEEDED and final.run == "done"
    assert any("already" in text for _user, text in one.notices + two.notices)


async def test_an_approval_racing_the_expiry_on_another_replica_either_runs_or_expires(
    two_stores: tuple[StateStore, StateStore],
) -> None:
    one, two = await replicas(two_stores)
    two.clock.at = NOW + timedelta(hours=2)  # the replica running the sweep sees it overdue
    await asyncio.gather(
        replica(one, lambda w: w.service.decide("r1", True, subject(BOB), "C0ALERTS01")),
        replica(two, lambda w: w.service.sweep()),
    )
    final = await one.state.remediation("r1")
    assert final is not None
    if one.runs:
        assert final.status is Status.SUCCEEDED and not final.closed.startswith("exp")
    else:
        assert final.closed == "expired" and final.status is Status.EXPIRED
        assert "already" in one.notices[-1][1]
    assert two.runs == []
