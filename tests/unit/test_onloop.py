"""A worker thread waiting for a coroutine on the event loop: the answer, a bounded wait, and
a refusal (not a deadlock) when asked from the loop's own thread."""

from __future__ import annotations

import asyncio

import pytest

from opsbot.core.onloop import wait_on


class Late(Exception):
    pass


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


async def never() -> None:
    await asyncio.Event().wait()


async def test_a_worker_thread_gets_the_coroutines_answer() -> None:
    loop = asyncio.get_running_loop()
    got = await asyncio.to_thread(wait_on, loop, answer(), timeout=5, late=Late)
    assert got == 42


async def test_a_coroutine_that_takes_too_long_raises_the_callers_error_and_is_cancelled() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(Late):
        await asyncio.to_thread(wait_on, loop, never(), timeout=0.05, late=Late)


async def test_waiting_from_the_loops_own_thread_is_refused_at_once() -> None:
    with pytest.raises(RuntimeError, match="on the loop it waits for"):
        wait_on(asyncio.get_running_loop(), answer(), timeout=5, late=Late)
