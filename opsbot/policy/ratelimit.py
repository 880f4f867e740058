"""Token buckets: the per-user command rate limit (and the outbox's per-channel pacing)."""

from __future__ import annotations

import math

from opsbot.core.tokenbucket import TokenBucket
from opsbot.policy.settings import RateLimitSettings


class RateLimiter:
    """Per-user token bucket. Holds up to ``burst`` commands, refills ``commands_per_minute``.

    Pure apart from its own counters: the caller passes the (monotonic) time. A refused
    command costs nothing, so waiting the returned seconds always succeeds.
    """

    def __init__(self, settings: RateLimitSettings, max_users: int = 10_000) -> None:
        self.capacity = float(settings.burst)
        self.per_second = settings.commands_per_minute / 60.0
        self.max_users = max_users
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, user_id: str, now: float) -> float | None:
        """Take one token: ``None`` when allowed, else the seconds until the next one."""
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.max_users:
                self._prune(now)
            bucket = self._buckets[user_id] = TokenBucket(self.per_second, self.capacity, now)
        return bucket.try_take(now)

    def _prune(self, now: float) -> None:
        """Forget users whose bucket has refilled (they are indistinguishable from new users)."""
        for user in [user for user, bucket in self._buckets.items() if bucket.full_at(now)]:
            del self._buckets[user]
        if len(self._buckets) >= self.max_users:  # still full of busy users: drop the stalest
            stalest = min(self._buckets, key=lambda user: self._buckets[user].updated)
            del self._buckets[stalest]

    def __len__(self) -> int:
        return len(self._buckets)


def rate_limited_message(seconds: float) -> str:
    """A friendly, user-facing line for a rate-limited command."""
    wait = max(1, math.ceil(seconds - 1e-9))
    if wait < 90:
        when = "a second" if wait == 1 else f"{wait} seconds"
    else:
        when = f"about {math.ceil(wait / 60)} minutes"
    return f"Easy there! You're sending commands faster than I can take them. Please try again in {when}."
