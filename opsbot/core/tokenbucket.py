"""One token bucket for everything that paces: people's commands and posts to a channel."""

from __future__ import annotations

_EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up; starts full.

    Pure: the caller passes the (monotonic) time to every call. A clock that goes
    backwards refills nothing.
    """

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)

    def delay_for_next(self, now: float) -> float:
        """Seconds until a token is available (0 if one is there now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 - _EPSILON else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend a token (after waiting `delay_for_next`)."""
        self._refill(now)
        self.tokens = max(0.0, self.tokens - 1.0)

    def try_take(self, now: float) -> float | None:
        """Spend a token if there is one: None, else the seconds until the next (nothing spent)."""
        delay = self.delay_for_next(now)
        if delay > 0:
            return delay
        self.tokens = max(0.0, self.tokens - 1.0)
        return None

    def full_at(self, now: float) -> bool:
        """Would the bucket be full at ``now``? (Then it is indistinguishable from a new one.)"""
        return self.tokens + max(0.0, now - self.updated) * self.rate >= self.capacity
