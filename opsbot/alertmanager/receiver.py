"""The HTTP side on the internal port (the health server's): Alertmanager's webhook and the
downstream systems' status updates.

    POST /alertmanager/webhook                 bearer token (ALERTMANAGER_WEBHOOK_TOKEN)
    POST /alertmanager/actions/{id}/status     Standard Webhooks signature with the target's
                                               secret, or its bearer token (status_token_env)
    POST /alertmanager/handoff/...             between replicas (`ha:`): a click, silence
                                               notes, signed with the replicas' key
                                               (opsbot.alertmanager.handoff)

Answers: 200 done (also for a repeat: nothing changes), 400 malformed (with the reason, logged
once per reason and minute), 401 bad credentials, 404 unknown action, 409 already final,
503 not started yet (Alertmanager retries 5xx).

With several replicas (`ha:`) only the lease cluster's leader takes these requests. Another
replica checks the credentials itself (a bad token is a 401 there, never forwarded: for a
status update, "signed with some signal target's secret, or holding its token"; the leader
checks the action's own), then hands the raw body and `RELAYED_HEADERS` to its `Relay`
(opsbot.ha.forwarding), which forwards them to the leader once; the caller gets the leader's
answer, or a 503 saying why it could not be had (no leader known, unreachable, 5xx).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from opsbot.alertmanager.payload import Notification, PayloadError, parse_notification
from opsbot.alertmanager.remediation import STATES, StatusUpdate
from opsbot.alertmanager.signing import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

log = structlog.get_logger("opsbot.alertmanager")

WEBHOOK_PATH = "/alertmanager/webhook"
STATUS_PATH = "/alertmanager/actions/{id}/status"
MAX_BODY_BYTES = 16 * 1024 * 1024
LOG_EVERY_SECONDS = 60.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Relay = Callable[[str, bytes, Mapping[str, str]], Awaitable[tuple[int, bytes, str] | str | None]]
"""(path, body, headers) → the leader's (status, body, content type); a reason to answer 503
with; or None: this replica answers itself (it leads, or cannot forward)."""
RELAYED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    ID_HEADER,
    TIMESTAMP_HEADER,
    SIGNATURE_HEADER,
)
STARTING = "opsbot is starting; retry"


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


async def _relayed(
    relay: Relay | None, refusals: Refusals, request: web.Request, body: bytes
) -> web.Response | None:
    """The leader's answer, a 503 saying why there is none, or None: answer here."""
    if relay is None:
        return None
    answer = await relay(request.rel_url.raw_path, body, request.headers)
    if answer is None:
        return None
    if isinstance(answer, str):
        return _refuse(refusals, request, 503, answer)
    status, content, content_type = answer
    return web.Response(status=status, body=content, content_type=content_type or "application/json")


def webhook_handler(
    token: Callable[[], str],
    ready: Callable[[], bool],
    notify: Callable[[Notification], Awaitable[bool]],
    refusals: Refusals,
    relay: Relay | None = None,
) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if not bearer_ok(request, token()):
            return _refuse(refusals, request, 401, "missing or wrong bearer token")
        try:
            body, data = await _json_body(request)
            notification = parse_notification(data)
        except PayloadError as exc:
            return _refuse(refusals, request, 400, str(exc))
        if not ready():
            relayed = await _relayed(relay, refusals, request, body)
            return relayed if relayed is not None else _refuse(refusals, request, 503, STARTING)
        fresh = await notify(notification)
        return web.json_response({"status": "ok" if fresh else "repeat"})

    return handle


def status_handler(
    authorised: Callable[[str, web.Request, bytes], Awaitable[str | None]],
    ready: Callable[[], bool],
    apply: Callable[[str, StatusUpdate, str], Awaitable[tuple[int, str]]],
    refusals: Refusals,
    now: Callable[[], Any],
    relay: Relay | None = None,
    authenticated: Callable[[web.Request, bytes], str | None] | None = None,
) -> Handler:
    """`authorised(id, request, body)`: None when allowed, else why not (401; an unknown id: 404
    is only said to an authenticated caller). `authenticated(request, body)`: the same without
    an action (some signal target's credentials), checked before relaying."""

    async def handle(request: web.Request) -> web.StreamResponse:
        remediation_id = request.match_info.get("id", "")[:64]
        try:
            body, data = await _json_body(request)
        except PayloadError as exc:
            return _refuse(refusals, request, 400, str(exc))
        if not ready() and relay is not None and authenticated is not None:
            who = authenticated(request, body)
            if who is not None:
                return _refuse(refusals, request, 401, who)
            relayed = await _relayed(relay, refusals, request, body)
            if relayed is not None:
                return relayed
        problem = await authorised(remediation_id, request, body)
        if problem == "unknown":
            return _refuse(refusals, request, 404, "unknown action id")
        if problem is not None:
            return _refuse(refusals, request, 401, problem)
        if not ready():
            return _refuse(refusals, request, 503, STARTING)
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


def handoff_handler(
    verified: Callable[[web.Request, bytes], str | None],
    ready: Callable[[], bool],
    take: Callable[[Any], Awaitable[None]],
    refusals: Refusals,
) -> Handler:
    """What another replica passed on (opsbot.alertmanager.handoff): `verified(request, body)` is
    None when it is signed with the replicas' key; `take` parses (PayloadError: 400) and applies
    it. Never passed on again: a replica not running the loops answers 503."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body, data = await _json_body(request)
        except PayloadError as exc:
            return _refuse(refusals, request, 400, str(exc))
        problem = verified(request, body)
        if problem is not None:
            return _refuse(refusals, request, 401, problem)
        if not ready():
            return _refuse(refusals, request, 503, "this replica does not run the Alertmanager loops")
        try:
            await take(data)
        except PayloadError as exc:
            return _refuse(refusals, request, 400, str(exc))
        return web.json_response({"status": "ok"})

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
