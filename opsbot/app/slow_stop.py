"""When stopping takes too long: say which step it is in, and where every task and thread is.

Kubernetes kills the pod `terminationGracePeriodSeconds` (30 s) after SIGTERM, and a stop
that hangs until then leaves nothing to read. After `after` seconds this logs the step
`Bot.stop` is in and the innermost frame of each asyncio task; a few seconds later (even
if the event loop itself is stuck in a call) faulthandler writes every thread's stack to
stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog

log = structlog.get_logger("opsbot")

SLOW_STOP_SECONDS = 25.0
THREADS_AFTER_SECONDS = 3.0
MAX_TASKS_SHOWN = 50


@contextlib.asynccontextmanager
async def reporting_a_slow_stop(step: Callable[[], str], after: float = SLOW_STOP_SECONDS) -> AsyncIterator[None]:
    """Around a stop: `step()` says what it is doing now."""
    with contextlib.suppress(ValueError, RuntimeError, AttributeError):  # stderr without a file descriptor
        faulthandler.dump_traceback_later(after + THREADS_AFTER_SECONDS, exit=False, file=sys.stderr)
    report = asyncio.create_task(_report(step, after), name="slow-stop-report")
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        report.cancel()
        await asyncio.gather(report, return_exceptions=True)


async def _report(step: Callable[[], str], after: float) -> None:
    await asyncio.sleep(after)
    me = asyncio.current_task()
    tasks = sorted(f"{task.get_name()}: {innermost(task)}" for task in asyncio.all_tasks() if task is not me)
    log.warning("stop_is_slow", seconds=after, step=step(), tasks=tasks[:MAX_TASKS_SHOWN])


def innermost(task: asyncio.Task[Any]) -> str:
    """Where a suspended task waits: the innermost coroutine it awaits (`get_stack` gives the
    outermost frame only)."""
    coroutine: Any = task.get_coro()
    while True:
        inner = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
        if inner is None or not (hasattr(inner, "cr_frame") or hasattr(inner, "gi_frame")):
            break
        coroutine = inner
    frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
    if frame is None:
        return repr(coroutine)[:200]
    return f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})"
