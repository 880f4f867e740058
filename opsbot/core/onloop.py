"""Worker threads (command handlers) calling what lives on the event loop.

The alert pipeline, Alertmanager's silences and the store calls they make are coroutines on
the bot's loop; a command handler runs in the pool and must wait for an answer. `wait_on`
hands the coroutine to the loop and blocks this thread only, never the loop, for at most
`timeout` seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


def wait_on(
    loop: asyncio.AbstractEventLoop,
    call: Coroutine[Any, Any, _T],
    *,
    timeout: float,
    late: Callable[[], Exception],
) -> _T:
    """`call`'s result, run on `loop`; when it takes longer than `timeout`, it is cancelled
    and `late()` is raised. From the loop's own thread it would wait on itself: refused."""
    if _running_loop() is loop:
        call.close()
        raise RuntimeError("wait_on was called on the loop it waits for (a handler marked on_loop?)")
    future = asyncio.run_coroutine_threadsafe(call, loop)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise late() from None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
