"""A downstream system for `signal` actions: verifies Standard Webhooks signatures (its own
implementation, not opsbot's), counts deliveries by webhook id, and answers as scripted."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.loopback import LoopbackSite

SECRET_BYTES = b"downstream-test-secret-0123456789"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()


@dataclass
class Received:
    webhook_id: str
    idempotency_key: str
    timestamp: int
    valid: bool
    body: dict[str, Any]
    status: int


@dataclass
class Downstream:
    """POST /signal. `answers`: statuses for the next requests (then 200)."""

    secret_bytes: bytes = SECRET_BYTES
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    site: LoopbackSite = field(default_factory=LoopbackSite)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.site.port}/signal"

    def verify(self, request_headers: Any, raw: bytes) -> bool:
        message_id = request_headers.get("webhook-id", "")
        stamp = request_headers.get("webhook-timestamp", "")
        signed = f"{message_id}.{stamp}.".encode() + raw
        expected = base64.b64encode(hmac.new(self.secret_bytes, signed, hashlib.sha256).digest()).decode()
        offered = [
            item.split(",", 1)[1]
            for item in request_headers.get("webhook-signature", "").split()
            if "," in item
        ]
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 300
        return fresh and any(hmac.compare_digest(expected, value) for value in offered)

    async def _signal(self, request: web.Request) -> web.Response:
        raw = await request.read()
        status = self.answers.pop(0) if self.answers else 200
        self.received.append(
            Received(
                webhook_id=request.headers.get("webhook-id", ""),
                idempotency_key=request.headers.get("Idempotency-Key", ""),
                timestamp=int(request.headers.get("webhook-timestamp", "0") or 0),
                valid=self.verify(request.headers, raw),
                body=json.loads(raw),
                status=status,
            )
        )
        self.changed.set()
        return web.json_response({"ok": status < 300}, status=status)

    async def start(self) -> Downstream:
        app = web.Application()
        app.router.add_post("/signal", self._signal)
        await self.site.start(app)
        return self

    async def stop(self) -> None:
        await self.site.stop()

    def delivered(self) -> dict[str, Received]:
        """Accepted deliveries (2xx, valid signature), by webhook id: what the system acted on."""
        return {r.webhook_id: r for r in self.received if r.valid and r.status < 300}

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Until `count` requests (any answer) arrived."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.changed.clear()
                await self.changed.wait()
        return list(self.received)


def sign(secret_bytes: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Headers a downstream system sends with a status update (its own signing)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(secret_bytes, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
        "Content-Type": "application/json",
    }
