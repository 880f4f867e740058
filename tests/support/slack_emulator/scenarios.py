"""Test driving: what users do (mention, dm, message, slash, click), redelivery, and faults.

Each scenario call stores what Slack would store, sends the envelope over Socket
Mode and returns a `Sent` a test can wait on. Fault injection makes Web API calls
fail, enforces rate limits or refuses new Socket Mode connections.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Collection
from typing import Any

from .records import Fault, RateLimit, ResponseTarget, Sent
from .socket_mode import SocketModeLink


class Scenarios(SocketModeLink):
    """What users (and Slack's faults) do to the bot."""

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        *,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail with `error` / HTTP `status`."""
        self._faults.setdefault(method, deque()).append(Fault(error, status, retry_after, times))

    def enforce_rate_limit(
        self, method: str = "chat.postMessage", *, per_second: float = 1.0, burst: int = 1
    ) -> None:
        """Per-channel token bucket for `method`; over it → 429 + Retry-After (whole seconds)."""
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be > 0 and burst >= 1")
        self._limits[method] = RateLimit(per_second, burst)
        for key in [k for k in self._buckets if k[0] == method]:
            del self._buckets[key]

    def disable_connections(self, error: str = "invalid_auth") -> None:
        """Make apps.connections.open fail (a disabled app / revoked token)."""
        self._connections_error = error

    def enable_connections(self) -> None:
        self._connections_error = None

    # ------------------------------------------------------------------ scenarios

    async def mention(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        also_message: bool = False,
        avoid: Collection[int] = (),
    ) -> Sent:
        """A user @-mentions the bot (app_mention); also_message adds the message event Slack
        sends too when the app subscribes to message.channels. `avoid`: as for `click`."""
        channel = self._ensure_channel(channel)
        self._ensure_user(user)
        if not text.startswith("<@"):
            text = f"<@{self.bot_user_id}> {text}"
        ts = self._next_ts()
        self._store_message(channel, ts, text=text, blocks=[], thread_ts=thread_ts, user=user)
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        sent = await self._deliver_event(event, channel=channel, user=user, avoid=avoid)
        if also_message:
            message = {k: v for k, v in event.items() if k != "type"}
            message.update(type="message", channel_type=self._channel_type(channel))
            await self._deliver_event(message, channel=channel, user=user)
        return sent

    async def dm(
        self, user: str, text: str, *, channel: str = "D0000001", thread_ts: str | None = None
    ) -> Sent:
        """A user writes to the bot in a DM (message event, channel_type "im")."""
        if channel not in self._channels:
            self.add_channel(channel, channel.lower(), is_im=True)
        return await self.message(user, channel, text, channel_type="im", thread_ts=thread_ts)

    async def message(
        self,
        user: str | None,
        channel: str,
        text: str,
        *,
        channel_type: str = "channel",
        thread_ts: str | None = None,
        bot_id: str | None = None,
        subtype: str | None = None,
    ) -> Sent:
        """A plain message event (user message, thread reply, or another bot's message)."""
        channel = self._ensure_channel(channel)
        if user is not None:
            self._ensure_user(user)
        ts = self._next_ts()
        self._store_message(channel, ts, text=text, blocks=[], thread_ts=thread_ts, user=user, bot_id=bot_id)
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": channel_type,
            "team": self.team_id,
        }
        if user is not None:
            event["user"] = user
        if subtype is not None:
            event["subtype"] = subtype
        if bot_id is not None:
            event["bot_id"] = bot_id
        if user is not None and bot_id is None and subtype is None:
            event["client_msg_id"] = str(uuid.uuid4())
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        return await self._deliver_event(event, channel=channel, user=user)

    async def slash(self, user: str, channel: str, text: str, *, command: str = "/opsbot") -> Sent:
        """A slash command (Socket Mode JSON form) with a response_url on the emulator."""
        channel = self._ensure_channel(channel)
        self._ensure_user(user)
        response_url = self._new_response_url(ResponseTarget(channel, user, None, None))
        ts = self._next_ts()
        payload: dict[str, Any] = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_name.lower(),
            "channel_id": channel,
            "channel_name": self._channels[channel]["name"],
            "user_id": user,
            "user_name": self._users[user]["name"],
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self._trigger_id(),
        }
        env = await self._deliver(
            "slash_commands", payload, accepts_response_payload=True, channel=channel, user=user
        )
        return Sent(env.envelope_id, None, ts, channel, response_url, env.type, payload)

    async def click(
        self,
        user: str,
        *,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str,
        block_id: str = "actions",
        thread_ts: str | None = None,
        ephemeral: bool = False,
        avoid: Collection[int] = (),
    ) -> Sent:
        """A button click (block_actions) on a message; carries the message if known.

        `avoid`: Socket Mode connection ids not to deliver it to (a click on another replica).

        `ephemeral=True` is a click on a message only the clicker sees (e.g. a slash
        command's answer): Slack then sends no message and only a response_url.
        """
        channel = self._ensure_channel(channel)
        self._ensure_user(user)
        stored = self._messages.get(channel, {}).get(message_ts)
        if thread_ts is None and stored is not None:
            thread_ts = stored["thread_ts"]
        response_url = self._new_response_url(ResponseTarget(channel, user, message_ts, thread_ts))
        action_ts = self._next_ts()
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        if thread_ts is not None:
            container["thread_ts"] = thread_ts
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "type": "button",
            "value": value,
            "action_ts": action_ts,
        }
        name = self._users[user]["name"]
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "container": container,
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_name.lower()},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self._channels[channel]["name"]},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if stored is not None and not ephemeral:
            payload["message"] = self._public_message(stored)
            button_text = self._find_button_text(stored["blocks"], action_id)
            if button_text is not None:
                action["text"] = button_text
        env = await self._deliver(
            "interactive", payload, accepts_response_payload=False, channel=channel, user=user, avoid=avoid
        )
        return Sent(env.envelope_id, None, action_ts, channel, response_url, env.type, payload)

    async def redeliver(self, sent: Sent) -> Sent:
        """Resend an envelope's payload as Slack does for unacked events (retry_attempt+1)."""
        old = self._envelopes_by_id.get(sent.envelope_id)
        if old is None:
            raise KeyError(f"unknown envelope {sent.envelope_id}")
        env = await self._deliver(
            old.type,
            old.payload,
            accepts_response_payload=old.accepts_response_payload,
            retry_attempt=old.retry_attempt + 1,
            retry_reason="timeout",
            channel=old.channel,
            user=old.user,
        )
        return Sent(
            env.envelope_id,
            sent.event_id,
            sent.ts,
            sent.channel,
            sent.response_url,
            env.type,
            env.payload,
        )

    # ------------------------------------------------------------------ helpers

    def _trigger_id(self) -> str:
        return f"{next(self._ids)}.{self.team_id[1:]}.{uuid.uuid4().hex}"

    def _new_response_url(self, target: ResponseTarget) -> str:
        rid = uuid.uuid4().hex
        self._responses[rid] = target
        return f"{self.http_url}/response/{rid}"

    @staticmethod
    def _find_button_text(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
        for block in blocks:
            elements = list(block.get("elements") or [])
            if isinstance(block.get("accessory"), dict):
                elements.append(block["accessory"])
            for element in elements:
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    text = element.get("text")
                    return dict(text) if isinstance(text, dict) else None
        return None
