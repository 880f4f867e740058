"""The HTTP side on the internal port (the health server's): Alertmanager's webhook and the
downstream systems' status updates.

    POST /alertmanager/webhook                 bearer token (ALERTMANAGER_WEBHOOK_TOKEN)
    POST /alertmanager/actions/{id}/status     Standard Webhooks signature with the target's
                                               secret, or its bearer token (status_token_env)

Answers: 200 done (also for a repeat: nothing changes), 400 malformed (with the reason, logged
once per reason and minute), 401 bad credentials, 404 unknown action, 409 already final,
503 not started yet (Alertmanager retries 5xx).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from opsbot.alertmanager.payload import Notification, PayloadError, parse_notification
from opsbot.alertmanager.remediation import STATES, StatusUpdate
from opsbot.alertmanager.signing import ID_HEADER, verify

log = structlog.get_logger("opsbot.alertmanager")

WEBHOOK_PATH = "/alertmanager/webhook"
STATUS_PATH = "/alertmanager/actions/{id}/status"
MAX_BODY_BYTES = 16 * 1024 * 1024
LOG_EVERY_SECONDS = 60.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refusals:
    """One log line per distinct refusal reason and minute (a misconfigured sender retries a lot)."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def note(self, status: int, reason: str, peer: str) -> None:
        key = f"{status}:{reason}"
        self.counts[str(status)] = self.counts.get(str(status), 0) + 1
        now = time.monotonic()
        if now - self._last.get(key, -LOG_EVERY_SECONDS * 2) < LOG_EVERY_SECONDS:
            return
        self._last[key] = now
        if len(self._last) > 1000:
            self._last.clear()
        log.warning("alertmanager_request_refused", status=status, reason=reason, peer=peer)


def bearer_ok(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, offered = header.partition(" ")
    return (
        scheme.lower() == "bearer"
        and bool(token)
        and hmac.compare_digest(offered.strip().encode(), token.encode())
    )


def _refuse(refusals: Refusals, request: web.Request, status: int, reason: str) -> web.Response:
    refusals.note(status, reason, request.remote or "")
    return web.json_response({"status": "refused", "error": reason}, status=status)


async def _json_body(request: web.Request) -> tuple[bytes, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadError(f"body larger than {MAX_BODY_BYTES} bytes")
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        return body, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("body is not JSON") from None


def webhook_handler(
    token: Callable[[], str],
    ready: Callable[[], bool],
    notify: Callable[[Notification], Awaitable[bool]],
    refusals: Refusals,
) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if not bearer_ok(request, token()):
            return _refuse(refusals, request, 401, "missing or wrong bearer token")
        try:
            _, data = await _json_body(request)
            notification = parse_notification(data)
        except PayloadError as exc:
            return _refuse(refusals, request, 400, str(exc))
        if not ready():
            return _refuse(refusals, request, 503, "opsbot is starting; retry")
        fresh = await notify(notification)
        return web.json_response({"status": "ok" if fresh else "repeat"})

    return handle


def status_handler(
    authorised: Callable[[str, web.Request, bytes], str | None],
    ready: Callable[[], bool],
    apply: Callable[[str, StatusUpdate, str], Awaitable[tuple[int, str]]],
    refusals: Refusals,
    now: Callable[[], Any],
) -> Handler:
    """`authorised(id, request, body)`: None when allowed, else why not (401; an unknown id: 404
    is only said to an authenticated caller)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        remediation_id = request.match_info.get("id", "")[:64]
        try:
            body, data = await _json_body(request)
        except PayloadError as exc:
            return _refuse(refusals, request, 400, str(exc))
        problem = authorised(remediation_id, request, body)
        if problem == "unknown":
            return _refuse(refusals, request, 404, "unknown action id")
        if problem is not None:
            return _refuse(refusals, request, 401, problem)
        if not ready():
            return _refuse(refusals, request, 503, "opsbot is starting; retry")
        try:
            update = parse_status(data, now())
        except PayloadError as exc:
            return _refuse(refusals, request, 400, str(exc))
        delivery_id = request.headers.get(ID_HEADER) or request.headers.get("Idempotency-Key") or ""
        status, message = await apply(remediation_id, update, delivery_id[:200])
        if status >= 400:
            return _refuse(refusals, request, status, message)
        return web.json_response({"status": message})

    return handle


def parse_status(data: Any, at: Any) -> StatusUpdate:
    if not isinstance(data, dict):
        raise PayloadError("expected a JSON object")
    state = data.get("state", data.get("status"))
    if state not in STATES:
        raise PayloadError(f"state: expected one of {', '.join(sorted(STATES))}")
    message = data.get("message", "")
    url = data.get("url", "")
    if not isinstance(message, str) or not isinstance(url, str):
        raise PayloadError("message and url must be strings")
    return StatusUpdate(
        state, message[:1000], at, "", url[:1000] if url.startswith(("http://", "https://")) else ""
    )


def signed_or_bearer(
    request: web.Request, body: bytes, secret: str | None, token: str | None, now: float
) -> str | None:
    if token and bearer_ok(request, token):
        return None
    if secret is None:
        return "not signed with this action's secret"
    headers = {key.lower(): value for key, value in request.headers.items()}
    return verify(secret, headers, body, now)
