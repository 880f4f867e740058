"""Token bucket arithmetic (pure): the outbox paces channels with it, the policy rate-limits people."""

from __future__ import annotations

from opsbot.core.tokenbucket import TokenBucket


def test_bucket_allows_a_burst_then_one_per_interval() -> None:
    bucket = TokenBucket(rate=1.0, capacity=3, now=0.0)
    for _ in range(3):
        assert bucket.delay_for_next(0.0) == 0
        bucket.take(0.0)
    assert bucket.delay_for_next(0.0) == 1.0
    assert bucket.delay_for_next(0.5) == 0.5
    assert bucket.delay_for_next(1.0) == 0
    bucket.take(1.0)
    assert bucket.delay_for_next(1.0) == 1.0


def test_bucket_never_saves_more_than_its_capacity() -> None:
    bucket = TokenBucket(rate=2.0, capacity=2, now=0.0)
    bucket.take(100.0)
    bucket.take(100.0)
    assert bucket.delay_for_next(100.0) == 0.5


def test_try_take_spends_nothing_when_refused() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1, now=0.0)
    assert bucket.try_take(0.0) is None
    assert bucket.try_take(0.2) == 0.8
    assert bucket.try_take(0.6) == 0.4
    assert bucket.try_take(1.0) is None


def test_a_clock_going_backwards_refills_nothing() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1, now=10.0)
    bucket.take(10.0)
    assert bucket.delay_for_next(5.0) == 1.0
    assert bucket.full_at(11.0)
    assert not bucket.full_at(10.5)
