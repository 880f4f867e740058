"""Replicas share each channel's pace through Redis (a real redis-server), and pace alone
while it is away."""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from typing import Any

import redis
from structlog.testing import capture_logs

from opsbot.core.pacing import LocalBudget
from opsbot.store.redis import Connection
from opsbot.store.redis.pacing import RedisBudget
from tests.support.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

RATE, BURST = 1.0, 3


class Clock:
    """The time every replica's script uses (Redis's TIME is replaced by it in tests)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def connect(server: RedisServer, clock: Clock | None = None) -> Connection:
    if clock is None:
        return Connection.from_url(server.url, password=None, timeout=0.5, retry_after=2.0)
    return Connection.from_url(server.url, password=None, timeout=0.5, retry_after=2.0, clock=clock)


async def posts_over(budgets: list[RedisBudget] | list[LocalBudget], clock: Clock, seconds: float) -> int:
    """Every replica asks for channel C1 as fast as it can, every 10 ms for `seconds`."""
    taken = 0
    end = clock.now + seconds
    while clock.now <= end + 1e-9:
        for budget in budgets:
            while await budget.take("C1", clock.now) == 0:
                taken += 1
        clock.now = round(clock.now + 0.01, 6)
    return taken


def pacing_events(logs: list[MutableMapping[str, Any]]) -> list[object]:
    return [entry["event"] for entry in logs if str(entry["event"]).startswith("pacing")]


async def test_three_replicas_share_one_channels_pace(redis_server: RedisServer) -> None:
    clock = Clock()
    budgets = [
        RedisBudget(connect(redis_server), rate=RATE, burst=BURST, key_prefix="t:", clock=clock) for _ in range(3)
    ]
    taken = await posts_over(budgets, clock, 3.0)
    # A full bucket, then one token a second: what one replica alone would send.
    assert taken == BURST + math.floor(3.0 * RATE)
    assert not any(budget.falling_back for budget in budgets)


async def test_three_replicas_pacing_alone_send_three_times_as_much() -> None:
    """The problem the shared budget solves (and proof that `posts_over` can count more)."""
    clock = Clock()
    taken = await posts_over([LocalBudget(RATE, BURST) for _ in range(3)], clock, 3.0)
    assert taken == 3 * (BURST + math.floor(3.0 * RATE))


async def test_a_replica_waits_as_long_as_the_shared_bucket_says(redis_server: RedisServer) -> None:
    clock = Clock()
    one, other = (RedisBudget(connect(redis_server), rate=2.0, burst=1, key_prefix="t:", clock=clock) for _ in range(2))
    assert await one.take("C1", 0.0) == 0
    assert await other.take("C1", 0.0) == 0.5
    clock.now += 0.2
    assert math.isclose(await one.take("C1", 0.0), 0.3, abs_tol=1e-6)
    assert await other.take("C2", 0.0) == 0  # another channel, another bucket


async def test_an_idle_channels_bucket_expires_once_it_would_be_full(redis_server: RedisServer) -> None:
    budget = RedisBudget(connect(redis_server), rate=RATE, burst=BURST, key_prefix="t:")
    assert await budget.take("C1", 0.0) == 0
    with redis.Redis.from_url(redis_server.url) as client:
        ttl_ms = client.pttl("t:pace:C1")
    # One token spent: full again after 1 s; the key lives that long plus a second.
    assert 1000 < ttl_ms <= 2000


async def test_redis_time_paces_replicas_whose_clocks_are_never_asked(redis_server: RedisServer) -> None:
    """Without a test clock the script reads Redis's TIME: the burst, then a wait."""
    budgets = [RedisBudget(connect(redis_server), rate=RATE, burst=BURST, key_prefix="t:") for _ in range(3)]
    waits = [await budget.take("C1", 0.0) for budget in budgets for _ in range(2)]
    assert waits[:BURST] == [0.0] * BURST
    assert all(0.5 < wait <= 1.0 for wait in waits[BURST:])


async def test_without_redis_a_replica_paces_alone_and_says_so_once(redis_server: RedisServer) -> None:
    breaker_clock = Clock()
    budget = RedisBudget(connect(redis_server, breaker_clock), rate=RATE, burst=1, key_prefix="t:")
    assert await budget.take("C1", 0.0) == 0
    redis_server.stop()
    with capture_logs() as logs:
        # The local bucket starts full: one post now, then a wait of its own.
        assert await budget.take("C1", 10.0) == 0
        assert await budget.take("C1", 10.0) == 1.0
        assert await budget.take("C1", 10.5) == 0.5
    assert budget.falling_back
    assert pacing_events(logs) == ["pacing_local"]
    redis_server.start()
    breaker_clock.now += 60  # the breaker lets a probe through again
    with capture_logs() as logs:
        assert await budget.take("C1", 11.0) == 0  # the shared bucket refilled meanwhile
    assert not budget.falling_back
    assert pacing_events(logs) == ["pacing_shared_again"]
