"""How many posts a channel may take: the question the outbox asks before each paced post.

Why a protocol: one replica paces a channel on its own (`LocalBudget`, in memory), but
several replicas posting to one channel must share one budget, or Slack sees one
message per second per replica. `opsbot.store.redis.pacing` answers the same question
from Redis; the outbox neither knows nor cares which it has.
"""

from __future__ import annotations

from typing import Protocol

from opsbot.core.tokenbucket import TokenBucket


class ChannelBudget(Protocol):
    async def take(self, channel: str, now: float) -> float:
        """Spend one post of `channel`'s budget: 0 when spent, else the seconds to wait
        before asking again (nothing spent). `now` is `time.monotonic()`."""
        ...


class LocalBudget:
    """One token bucket per channel, in this process: `rate` posts a second, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    async def take(self, channel: str, now: float) -> float:
        return self.spend(channel, now)

    def spend(self, channel: str, now: float) -> float:
        """`take`, for a caller that cannot wait (the shared budget's fallback)."""
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = TokenBucket(self.rate, self.burst, now)
        wait = bucket.try_take(now)
        return 0.0 if wait is None else wait
