"""Pytest fixtures and helpers around the Slack emulator.

Why: every end-to-end test needs a started emulator, and Bolt's Socket Mode
handler leaves background tasks behind unless they are awaited after close;
keeping that in one place stops tests from leaking tasks or sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest_asyncio
from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from tests.support.slack_emulator import SlackEmulator

__all__ = [
    "bolt_app",
    "close_socket_mode_handler",
    "settled",
    "slack",
    "socket_mode_app",
]


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """A started SlackEmulator on the test's event loop, stopped afterwards."""
    emulator = SlackEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


def bolt_app(emulator: SlackEmulator, **kwargs: Any) -> AsyncApp:
    """A bare AsyncApp whose Web API client points at the emulator."""
    client = AsyncWebClient(token=emulator.bot_token, base_url=emulator.base_url)
    return AsyncApp(client=client, **kwargs)


async def settled(
    emulator: SlackEmulator, idle: Callable[[], Awaitable[None]], timeout: float = 15.0
) -> None:
    """Wait until the app has received, acked and finished handling everything Slack sent.

    `idle` is the app's own "finished handling" signal (e.g. `Bot.idle`). Handling can
    post, and Slack echoes posts back, so this repeats until the emulator has nothing
    unacked or on its way and the app stays idle. Why: a negative assertion ("nothing
    was posted") made any earlier passes whether or not the bot would have posted.
    Raises AssertionError after `timeout` seconds, so a hang fails the test.
    """
    try:
        async with asyncio.timeout(timeout):
            while True:
                await emulator.wait_delivered(timeout)
                sent = len(emulator.envelopes)
                await idle()
                if emulator.delivered() and len(emulator.envelopes) == sent:
                    return
    except TimeoutError:
        raise AssertionError(
            f"not settled within {timeout}s: delivered={emulator.delivered()}, "
            f"envelopes={len(emulator.envelopes)}, acks={len(emulator.acks)}"
        ) from None


async def close_socket_mode_handler(handler: AsyncSocketModeHandler) -> None:
    """Close the handler and await the client's background tasks so none outlive the test.

    The receiver and monitor are stopped first: otherwise the receiver sees the
    socket close under it and logs a spurious ConnectionClosedOK error.
    """
    client = handler.client
    readers = [t for t in (client.message_receiver, client.current_session_monitor) if t]
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    close: Callable[[], Awaitable[None]] = handler.close_async  # unannotated in Bolt
    await close()
    client.message_processor.cancel()
    await asyncio.gather(client.message_processor, return_exceptions=True)


@asynccontextmanager
async def socket_mode_app(
    emulator: SlackEmulator, app: AsyncApp, *, ping_interval: float = 10
) -> AsyncIterator[AsyncSocketModeHandler]:
    """Connect `app` over Socket Mode (websockets adapter) and wait for the emulator's hello."""
    handler = AsyncSocketModeHandler(app, emulator.app_token, ping_interval=ping_interval)
    expected = emulator.hello_count + 1
    try:
        connect: Callable[[], Awaitable[None]] = handler.connect_async  # unannotated in Bolt
        await connect()
        await emulator.wait_connected(expected)
        yield handler
    finally:
        await emulator.settle()
        await close_socket_mode_handler(handler)
