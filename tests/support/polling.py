"""A bounded wait for a condition that no event announces (leadership, counters)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(check: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Return once `check()` is truthy; AssertionError after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"not true after {timeout} s: {getattr(check, '__name__', check)}")
        await asyncio.sleep(interval)
