"""The outbox's default budget: one token bucket per channel, in this process (pure)."""

from __future__ import annotations

from opsbot.core.pacing import LocalBudget


async def test_local_budget_lets_a_burst_through_then_says_how_long_to_wait() -> None:
    budget = LocalBudget(rate=2.0, burst=2)
    assert await budget.take("C1", 0.0) == 0
    assert await budget.take("C1", 0.0) == 0
    assert await budget.take("C1", 0.0) == 0.5
    assert await budget.take("C1", 0.25) == 0.25
    assert await budget.take("C1", 0.5) == 0


async def test_local_budget_paces_each_channel_apart() -> None:
    budget = LocalBudget(rate=1.0, burst=1)
    assert await budget.take("C1", 0.0) == 0
    assert await budget.take("C1", 0.0) == 1.0
    assert await budget.take("C2", 0.0) == 0
