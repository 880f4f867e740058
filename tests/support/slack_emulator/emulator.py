"""SlackEmulator: the parts of the emulator put together, and their lifecycle."""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiohttp import WSCloseCode, web

from .scenarios import Scenarios
from .waiting import Waiting
from .web_api import WebApi


class SlackEmulator(Scenarios, Waiting, WebApi):
    """A fake Slack (Web API + response_url + Socket Mode) on one 127.0.0.1 port.

    Runs on the caller's event loop; everything it sees is recorded (calls, posts,
    files, envelopes, acks) and every wait_* helper is event-driven.
    """

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1:0 and serve; the port is known afterwards."""
        if self._site.started:
            raise RuntimeError("emulator already started")
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/response/{rid}", self._handle_response_url)
        app.router.add_get("/link", self._handle_link)
        await self._site.start(app)

    async def stop(self) -> None:
        """Close sockets (with a close frame), cancel background work, stop serving."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.close_connections(code=WSCloseCode.GOING_AWAY)
        await self._site.stop()

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
