"""Channel pacing shared by every replica: one token bucket per channel in Redis.

Why: each replica pacing on its own lets a channel take one message per second per
replica, over Slack's limit. The bucket lives in one Lua script (`scripts.TAKE_TOKEN`)
timed by Redis's clock, so replicas agree on it. When Redis is unavailable (the breaker
is open, a call failed, or Redis answered with an error) the post is paced by a bucket in this process instead: a
channel may then get more than its share for the length of the outage, which beats not
posting. A call waits at most the store's timeout, and not at all while the breaker is
open.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from redis.exceptions import RedisError

from opsbot.core.pacing import LocalBudget
from opsbot.errors import StoreUnavailable
from opsbot.store.redis import scripts
from opsbot.store.redis.client import Connection

log = structlog.get_logger("opsbot.outbox")


class RedisBudget:
    """`ChannelBudget` in Redis, falling back to `LocalBudget` (logged once per outage)."""

    def __init__(
        self,
        connection: Connection,
        *,
        rate: float,
        burst: int,
        key_prefix: str = "opsbot:",
        clock: Callable[[], float] | None = None,
    ) -> None:
        """`clock`: tests only, the time the script uses instead of Redis's TIME."""
        self._c = connection
        self._rate = repr(float(rate))
        self._burst = str(int(burst))
        self._prefix = key_prefix + "pace:"
        self._clock = clock
        self._script = connection.async_script(scripts.TAKE_TOKEN)
        self.local = LocalBudget(rate, burst)
        self.falling_back = False

    async def take(self, channel: str, now: float) -> float:
        args = [self._rate, self._burst]
        if self._clock is not None:
            args.append(repr(self._clock()))
        try:
            key = self._prefix + channel
            wait = float(await self._c.arun(lambda r: self._script(keys=[key], args=args, client=r), "pace"))
        except (StoreUnavailable, RedisError) as exc:
            if not self.falling_back:
                self.falling_back = True
                log.warning("pacing_local", reason=str(exc), note="pacing channels in this replica only")
            return self.local.spend(channel, now)
        if self.falling_back:
            self.falling_back = False
            log.info("pacing_shared_again")
        return wait
