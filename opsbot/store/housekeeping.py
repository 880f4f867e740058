"""What the store no longer needs, deleted: resolved incidents and approvals that are over,
`store.retention_days` after their last change.

Why: nothing else deletes them, so the store would grow with every incident and approval
ever made (in Redis, memory), and each new leader reads every incident when it takes a
cluster over. Every replica may run it; deleting what another replica deleted already is a
no-op. The audit trail has its own limit and keeps what was decided.
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

    def prune_approvals(self, *, over_before: float) -> int: ...


def prune_resolved(store: Prunable, keep_days: float, now: float) -> int:
    """Delete the incidents resolved, and the approvals over, more than `keep_days` ago (0:
    keep them all); how many."""
    if keep_days <= 0:
        return 0
    cut = now - keep_days * DAY_SECONDS
    incidents = store.prune_incidents(resolved_before=cut)
    approvals = store.prune_approvals(over_before=cut)
    if incidents or approvals:
        log.info("store_pruned", incidents=incidents, approvals=approvals, keep_days=keep_days)
    return incidents + approvals


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
