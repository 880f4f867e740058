"""Big reads take turns; whoever waits is told once, with their place in line."""

from __future__ import annotations

import asyncio

from opsbot.commands.heavy import HeavyReads
from opsbot.core.reply import Reply
from opsbot.slack.render import mrkdwn


async def test_reads_beyond_the_limit_wait_and_are_told_their_place() -> None:
    reads = HeavyReads(limit=1)
    release = asyncio.Event()
    order: list[str] = []
    notices: dict[str, list[Reply]] = {"b": [], "c": []}

    async def read(name: str) -> None:
        async def told(reply: Reply) -> None:
            notices[name].append(reply)

        async with reads.slot(told if name in notices else None):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(read("a"))
    await asyncio.sleep(0)
    second = asyncio.create_task(read("b"))
    await asyncio.sleep(0)
    third = asyncio.create_task(read("c"))
    await asyncio.sleep(0)
    assert order == ["a"] and reads.waiting == 2
    assert "you're next" in mrkdwn(notices["b"][0].parts[0])  # type: ignore[arg-type]
    assert "1 ahead of you" in mrkdwn(notices["c"][0].parts[0])  # type: ignore[arg-type]
    release.set()
    await asyncio.gather(first, second, third)
    assert order == ["a", "b", "c"] and reads.waiting == 0 and reads.running == 0
    assert [len(n) for n in notices.values()] == [1, 1]


async def test_a_free_slot_says_nothing() -> None:
    reads = HeavyReads(limit=2)
    told: list[Reply] = []

    async def notice(reply: Reply) -> None:
        told.append(reply)

    async with reads.slot(notice), reads.slot(notice):
        assert reads.running == 2
    assert told == []
