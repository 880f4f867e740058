"""A bounded wait for a condition that no event announces (leadership, counters)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def until(check: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Return once `check()` is truthy; AssertionError after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"not true after {timeout} s: {getattr(check, '__name__', check)}")
        await asyncio.sleep(interval)


def watches_synced(bot: Any) -> bool:
    """Every watch of a running bot has listed and is watching (its caches answer)."""
    runner = bot.watches
    return runner is not None and all(h.synced and h.state == "watching" for h in runner.health())
