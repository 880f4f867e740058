"""What the store no longer needs, deleted: resolved incidents after `store.keep_resolved_days`.

Why: nothing else deletes them, so the store would grow with every incident ever opened (in
Redis, memory), and each new leader reads every incident when it takes a cluster over. Every
replica may run it; deleting what another replica deleted already is a no-op.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

log = structlog.get_logger("opsbot.store")

EVERY_SECONDS = 3600.0
DAY_SECONDS = 86_400.0


class Prunable(Protocol):
    def prune_incidents(self, *, resolved_before: float) -> int: ...


def prune_resolved(store: Prunable, keep_days: float, now: float) -> int:
    """Delete the incidents resolved more than `keep_days` ago (0: keep them all); how many."""
    if keep_days <= 0:
        return 0
    removed = store.prune_incidents(resolved_before=now - keep_days * DAY_SECONDS)
    if removed:
        log.info("resolved_incidents_deleted", removed=removed, keep_days=keep_days)
    return removed


async def tidy_forever(
    store: Prunable,
    keep_days: float,
    run_blocking: Callable[[Callable[[], int]], Awaitable[int]],
    *,
    every: float = EVERY_SECONDS,
    clock: Callable[[], float] = time.time,
) -> None:
    """At start, then every `every` seconds, off the event loop; a failure waits for the next."""
    while True:
        try:
            await run_blocking(lambda: prune_resolved(store, keep_days, clock()))
        except Exception as exc:  # the store is away, or a bug: try again next time
            log.warning("store_housekeeping_failed", error=str(exc)[:200])
        await asyncio.sleep(every)
