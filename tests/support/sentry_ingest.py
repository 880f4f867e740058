"""A loopback Sentry ingest: what sentry.io would receive from opsbot.

Why: the error-reporting tests must run the real sentry-sdk transport (envelopes,
gzip, the worker thread, flush on close) and inspect the exact bytes that would
leave the process, to prove tokens are scrubbed. It accepts
``POST /api/<project>/envelope/`` (and the legacy ``/store/``), decompresses by
Content-Encoding, splits envelopes into items and keeps the error events. The DSN
to use is :attr:`SentryIngest.dsn`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.loopback import LoopbackSite, decompress


@dataclass(frozen=True)
class EnvelopeItem:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type", ""))

    def json(self) -> Any:
        return json.loads(self.payload)


class SentryIngest:
    def __init__(self, project: str = "1", public_key: str = "public") -> None:
        self.project = project
        self.public_key = public_key
        self.raw: list[bytes] = []  # every request body, decompressed: what left the process
        self.items: list[EnvelopeItem] = []
        self.events: list[dict[str, Any]] = []
        self._site = LoopbackSite()
        self._arrived = asyncio.Event()

    @property
    def dsn(self) -> str:
        return f"http://{self.public_key}@127.0.0.1:{self._site.port}/{self.project}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{project}/envelope/", self._envelope)
        app.router.add_post("/api/{project}/store/", self._store)
        await self._site.start(app)

    async def stop(self) -> None:
        await self._site.stop()

    async def wait_for_event(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first error event matching `predicate`; AssertionError after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = next((e for e in self.events if predicate is None or predicate(e)), None)
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no matching event within {timeout}s; items: {[i.type for i in self.items]}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def _body(self, request: web.Request) -> bytes:
        if request.match_info["project"] != self.project:
            raise web.HTTPNotFound(text="unknown project")
        auth = request.headers.get("X-Sentry-Auth", "")
        if f"sentry_key={self.public_key}" not in auth:
            raise web.HTTPUnauthorized(text="missing or wrong sentry_key")
        body = decompress(await request.read(), request.headers.get("Content-Encoding", ""))
        self.raw.append(body)
        return body

    async def _envelope(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        for item in parse_envelope(body):
            self.items.append(item)
            if item.type == "event":
                self.events.append(item.json())
        self._arrived.set()
        return web.json_response({})

    async def _store(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        event = json.loads(body)
        self.items.append(EnvelopeItem({"type": "event"}, body))
        self.events.append(event)
        self._arrived.set()
        return web.json_response({"id": event.get("event_id", "")})


def parse_envelope(body: bytes) -> list[EnvelopeItem]:
    """Envelope: a header line, then per item a header line and a payload of `length`
    bytes (or up to the next newline when the header gives no length)."""
    _header, _, rest = body.partition(b"\n")
    items: list[EnvelopeItem] = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        headers = json.loads(line)
        length = headers.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:]
            rest = rest.removeprefix(b"\n")
        items.append(EnvelopeItem(headers, payload))
    return items

