"""A bound on big reads running at once (whole-cluster lists): during an incident everybody
asks "what's broken?" together, and the bot must answer them in turn, not run out of memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from opsbot.core.reply import Reply, Strong, Text

OnWait = Callable[[Reply], Awaitable[None]]


class HeavyReads:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self.waiting = 0
        self.running = 0

    @asynccontextmanager
    async def slot(self, on_wait: OnWait | None = None) -> AsyncIterator[None]:
        """Hold one of the slots while the body runs; when all are taken, say so through
        `on_wait` (once) and wait in line."""
        if self._slots.locked():
            ahead = self.waiting
            self.waiting += 1
            try:
                if on_wait is not None:
                    await on_wait(busy_reply(self.running, ahead))
                await self._slots.acquire()
            finally:
                self.waiting -= 1
        else:
            await self._slots.acquire()
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()


def busy_reply(running: int, ahead: int) -> Reply:
    big = "1 big request" if running == 1 else f"{running} big requests"
    line = "you're next" if ahead == 0 else f"{ahead} ahead of you"
    return Reply(
        "Busy, you're in line",
        (Text("I'm answering ", Strong(big), f" for others right now; {line}. The answer comes here."),),
        tone="info",
    )
