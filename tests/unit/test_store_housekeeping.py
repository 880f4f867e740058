"""Resolved incidents and approvals that are over are deleted once older than
`store.retention_days`, off the event loop, hourly; a store that cannot answer waits for the
next round."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from opsbot.approvals.machine import Status
from opsbot.errors import StoreUnavailable
from opsbot.store.housekeeping import DAY_SECONDS, prune_resolved, tidy_forever
from opsbot.store.protocol import FINAL_APPROVAL_STATUSES

NOW = 1_900_000_000.0


class Recording:
    def __init__(self, *failures: Exception) -> None:
        self.cuts: list[float] = []
        self.failures = list(failures)

    def prune_incidents(self, *, resolved_before: float) -> int:
        if self.failures:
            raise self.failures.pop(0)
        self.cuts.append(resolved_before)
        return 3

    def prune_approvals(self, *, over_before: float) -> int:
        self.cuts.append(over_before)
        return 2


def test_the_cut_is_keep_days_before_now_and_zero_keeps_everything() -> None:
    store = Recording()
    assert prune_resolved(store, 30, NOW) == 5
    assert store.cuts == [NOW - 30 * DAY_SECONDS] * 2
    assert prune_resolved(store, 0, NOW) == 0 and len(store.cuts) == 2


def test_the_final_statuses_the_store_prunes_are_the_approval_machines() -> None:
    assert set(FINAL_APPROVAL_STATUSES) == {status.value for status in Status if status.final}


async def test_the_loop_prunes_at_start_and_again_after_a_failure() -> None:
    store = Recording(StoreUnavailable("the shared store (Redis) is unavailable"))
    rounds = asyncio.Event()
    calls: list[str] = []

    async def in_pool(call: Callable[[], int]) -> int:
        calls.append("pool")
        try:
            return call()
        finally:
            if len(calls) == 3:
                rounds.set()

    task = asyncio.create_task(tidy_forever(store, 30, in_pool, every=0.001, clock=lambda: NOW))
    await asyncio.wait_for(rounds.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == ["pool"] * 3 and store.cuts == [NOW - 30 * DAY_SECONDS] * 4
