"""The Socket Mode link: one-time tickets, the websocket, hello, envelopes out, acks in.

Each envelope goes to ONE open socket (round-robin); a socket that got a
`disconnect` is draining and gets no more. Slack echoes the bot's own activity
back as events (bots must ignore them); those echoes are delivered here too.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Collection
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .blocks import validate_blocks
from .core import EmulatorCore
from .records import Connection, Envelope, Post, Sent
from .wire import ApiError

# The websockets client refuses incoming messages over 1 MiB.
MAX_WS_MESSAGE = 1024 * 1024
# Slack retries an unacknowledged event up to three times.
MAX_EVENT_RETRIES = 3


class SocketModeLink(EmulatorCore):
    """Serves /link and delivers envelopes to the connected Socket Mode clients."""

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send a disconnect message to every open socket; clients should reconnect."""
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "emulator"}})
        for conn in list(self._conns):
            if conn.ws.closed:
                continue
            conn.draining = True
            with contextlib.suppress(ConnectionError):
                await conn.ws.send_str(message)
        await self._changed()

    async def close_connections(self, code: int = WSCloseCode.OK) -> None:
        """Close every socket with a close frame (what a Slack backend restart looks like)."""
        for conn in list(self._conns):
            conn.draining = True
            if not conn.ws.closed:
                await conn.ws.close(code=code, message=b"emulator closing")
        await self._changed()

    @property
    def connection_ids(self) -> list[int]:
        """The open Socket Mode connections that take envelopes (for `avoid`)."""
        return [c.conn_id for c in self._candidates() or []]

    def _candidates(self, avoid: Collection[int] = ()) -> list[Connection] | None:
        live = [c for c in self._conns if not c.draining and not c.ws.closed and c.conn_id not in avoid]
        return live or None

    def _event_callback(self, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):010d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    async def _deliver_event(
        self, event: dict[str, Any], *, channel: str, user: str | None, avoid: Collection[int] = ()
    ) -> Sent:
        payload = self._event_callback(event)
        env = await self._deliver(
            "events_api", payload, accepts_response_payload=False, channel=channel, user=user, avoid=avoid
        )
        return Sent(env.envelope_id, payload["event_id"], event["ts"], channel, None, env.type, payload)

    async def _deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        channel: str | None,
        user: str | None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        wait: bool = True,
        echo: bool = False,
        avoid: Collection[int] = (),
    ) -> Envelope:
        """Send one envelope to ONE open socket (round-robin), waiting for one if needed;
        never to the connections in `avoid` (a test sends a click to another replica)."""
        envelope_id = str(uuid.uuid4())
        message = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        data = json.dumps(message)
        if len(data.encode()) > MAX_WS_MESSAGE:
            raise ValueError(f"envelope is {len(data.encode())} bytes; clients refuse over 1 MiB")
        while True:
            if wait:
                candidates = await self._wait_until(
                    lambda: self._candidates(avoid),
                    self.delivery_timeout,
                    lambda: (
                        f"no open Socket Mode connection within {self.delivery_timeout}s "
                        f"to deliver a {kind} envelope"
                    ),
                )
            else:
                maybe = self._candidates(avoid)
                if maybe is None:
                    raise ConnectionError("no open Socket Mode connection")
                candidates = maybe
            conn = candidates[self._rr % len(candidates)]
            self._rr += 1
            try:
                await conn.ws.send_str(data)
            except ConnectionError:
                conn.draining = True
                continue
            break
        env = Envelope(
            envelope_id=envelope_id,
            type=kind,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            connection_id=conn.conn_id,
            channel=channel,
            user=user,
            echo=echo,
        )
        self.envelopes.append(env)
        self._envelopes_by_id[envelope_id] = env
        retry_after = self.retry_unacked_after
        if (
            kind == "events_api"
            and not echo
            and retry_after is not None
            and retry_attempt < MAX_EVENT_RETRIES
        ):
            self._spawn(self._retry_unacked(env, retry_after))
        await self._changed()
        return env

    async def _retry_unacked(self, env: Envelope, after: float) -> None:
        """Send `env` again if no ack came within `after` seconds (its socket may be gone)."""
        with contextlib.suppress(AssertionError):
            await self._wait_until(lambda: True if env.envelope_id in self.acks else None, after, str)
            return
        with contextlib.suppress(AssertionError, ConnectionError):
            await self._deliver(
                env.type,
                env.payload,
                accepts_response_payload=env.accepts_response_payload,
                channel=env.channel,
                user=env.user,
                retry_attempt=env.retry_attempt + 1,
                retry_reason="timeout",
            )

    def _spawn_echo(self, event: dict[str, Any], channel: str) -> None:
        """Echo the bot's own activity in the background (counted until it is on its way)."""
        self._echoes += 1
        self._spawn(self._echo(event, channel))

    async def _echo(self, event: dict[str, Any], channel: str) -> None:
        """Deliver the event Slack sends for the bot's own activity (bots must ignore it)."""
        try:
            if self.hello_count == 0:
                return  # no Socket Mode client in this test
            # If nobody connects in time the echo is dropped, as Slack drops it after retries.
            with contextlib.suppress(AssertionError, ConnectionError):
                await self._deliver(
                    "events_api",
                    self._event_callback(event),
                    accepts_response_payload=False,
                    channel=channel,
                    user=self.bot_user_id,
                    echo=True,
                )
        finally:
            self._echoes -= 1
            await self._changed()

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        """The Socket Mode websocket: one-time ticket, hello, envelopes out, acks in."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or reused ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True, compress=False, timeout=2.0)
        await ws.prepare(request)
        conn = Connection(next(self._conn_ids), ws)
        self._conns.append(conn)
        try:
            hello = {
                "type": "hello",
                "num_connections": self.open_connections,
                "debug_info": {
                    "host": f"emulator-{conn.conn_id}",
                    "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
            await ws.send_str(json.dumps(hello))
            self.hello_count += 1
            await self._changed()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_client_frame(str(msg.data))
                elif msg.type == WSMsgType.BINARY:
                    await self._on_client_frame(bytes(msg.data).decode("utf-8", "replace"))
        finally:
            conn.draining = True
            self._conns.remove(conn)
            await self._changed()
        return ws

    async def _on_client_frame(self, data: str) -> None:
        """Record acks; a slash command ack with text/blocks is shown to the user (a Post)."""
        try:
            msg = json.loads(data)
        except ValueError:
            self.client_messages.append(data)
            return
        envelope_id = msg.get("envelope_id") if isinstance(msg, dict) else None
        if not isinstance(envelope_id, str):
            self.client_messages.append(msg)
            return
        self.acks[envelope_id] = msg
        env = self._envelopes_by_id.get(envelope_id)
        payload = msg.get("payload")
        if (
            env is not None
            and env.type == "slash_commands"
            and isinstance(payload, dict)
            and (payload.get("text") or payload.get("blocks"))
        ):
            self._record_ack_post(env, payload)
        await self._changed()

    def _record_ack_post(self, env: Envelope, payload: dict[str, Any]) -> None:
        channel = env.channel or ""
        text = str(payload.get("text") or "")
        try:
            blocks = validate_blocks(payload.get("blocks"))
        except ApiError:
            blocks = []
        ts = self._next_ts()
        in_channel = payload.get("response_type") == "in_channel"
        if in_channel:
            self._store_message(
                channel,
                ts,
                text=text,
                blocks=blocks,
                thread_ts=None,
                user=self.bot_user_id,
                bot_id=self.bot_id,
            )
        self.posts.append(
            Post("ack", channel, ts, text, blocks, None, None if in_channel else env.user, payload)
        )
