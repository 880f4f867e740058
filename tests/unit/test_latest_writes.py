"""Writes of one record reach the store in order, the newest last; a write still waiting is
replaced by a newer one; a failed write is retried by the next writer of that record."""

from __future__ import annotations

import asyncio

import pytest

from opsbot.core.writes import LatestWrites


class SlowStore:
    """Each write waits until the test lets it through, so writes can pile up."""

    def __init__(self) -> None:
        self.written: list[tuple[str, int]] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.fail_next = False

    async def write(self, key: str, value: int) -> None:
        self.started.set()
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("store away")
        self.written.append((key, value))


async def test_writes_of_one_record_land_in_order_and_a_waiting_one_is_replaced_by_a_newer() -> None:
    store = SlowStore()
    writes: LatestWrites[str, int] = LatestWrites(store.write)
    first = asyncio.create_task(writes("i1", 1))
    await store.started.wait()  # 1 is being written
    later = [asyncio.create_task(writes("i1", n)) for n in (2, 3)]
    other = asyncio.create_task(writes("i2", 9))  # another record does not wait for i1
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, *later, other)
    assert [v for k, v in store.written if k == "i1"] == [1, 3]  # 2 was still waiting when 3 came
    assert ("i2", 9) in store.written
    assert writes.keys_in_use == 0


async def test_a_failed_write_is_tried_again_by_the_next_writer_of_that_record() -> None:
    store = SlowStore()
    writes: LatestWrites[str, int] = LatestWrites(store.write)
    store.fail_next = True
    first = asyncio.create_task(writes("i1", 1))
    await store.started.wait()
    second = asyncio.create_task(writes("i1", 2))
    await asyncio.sleep(0)
    store.gate.set()
    with pytest.raises(ConnectionError):
        await first  # it wrote 2 (the newest), which failed: 2 goes back to the queue
    await second
    assert store.written == [("i1", 2)]
    assert writes.keys_in_use == 0


async def test_a_failed_write_nobody_waits_on_is_not_kept() -> None:
    store = SlowStore()
    store.gate.set()
    writes: LatestWrites[str, int] = LatestWrites(store.write)
    store.fail_next = True
    with pytest.raises(ConnectionError):
        await writes("i1", 1)
    await writes("i2", 5)
    assert store.written == [("i2", 5)] and writes.keys_in_use == 0
