"""A stop that hangs says where: the step, and what each task waits on."""

from __future__ import annotations

import asyncio

import structlog.testing

from opsbot.app.slow_stop import innermost, reporting_a_slow_stop
from tests.support.polling import until


async def stuck_in_a_drain(gate: asyncio.Event) -> None:
    await gate.wait()


async def test_a_stop_that_hangs_reports_its_step_and_where_each_task_waits() -> None:
    gate = asyncio.Event()
    stuck = asyncio.create_task(stuck_in_a_drain(gate), name="request:abc123")
    with structlog.testing.capture_logs() as logs:
        async with reporting_a_slow_stop(lambda: "finishing the requests in flight", after=0.01):
            await until(lambda: any(e["event"] == "stop_is_slow" for e in logs), timeout=5)
    gate.set()
    await stuck
    (report,) = [e for e in logs if e["event"] == "stop_is_slow"]
    assert report["step"] == "finishing the requests in flight"
    assert any(t.startswith("request:abc123: wait (") for t in report["tasks"]), report["tasks"]


async def test_a_stop_in_time_reports_nothing() -> None:
    with structlog.testing.capture_logs() as logs:
        async with reporting_a_slow_stop(lambda: "flushing the outbox", after=0.05):
            pass
        await asyncio.sleep(0.1)  # past `after`: the report must have been cancelled
    assert [e for e in logs if e["event"] == "stop_is_slow"] == []


async def test_innermost_names_the_coroutine_a_task_is_suspended_in() -> None:
    gate = asyncio.Event()
    task = asyncio.create_task(stuck_in_a_drain(gate))
    await asyncio.sleep(0)
    assert innermost(task).startswith("wait (")
    gate.set()
    await task
