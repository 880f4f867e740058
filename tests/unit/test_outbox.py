"""Outbox pacing arithmetic (pure; the end-to-end pacing test uses the emulator)."""

from __future__ import annotations

from opsbot.slack.outbox import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_one_per_interval() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, capacity=3, clock=clock)
    for _ in range(3):
        assert bucket.delay_for_next() == 0
        bucket.take()
    assert bucket.delay_for_next() == 1.0
    clock.now = 0.5
    assert bucket.delay_for_next() == 0.5
    clock.now = 1.0
    assert bucket.delay_for_next() == 0
    bucket.take()
    assert bucket.delay_for_next() == 1.0


def test_bucket_never_saves_more_than_its_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, capacity=2, clock=clock)
    clock.now = 100.0
    bucket.take()
    bucket.take()
    assert bucket.delay_for_next() == 0.5
