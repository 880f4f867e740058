"""In-process Slack emulator for end-to-end tests.

Why: opsbot talks to Slack only through slack_sdk / slack_bolt. Serving the Web
API, response_url endpoints and Socket Mode from one local aiohttp app lets the
real, unmodified clients run against it, so tests exercise the wire behaviour
(acks, redeliveries, reconnects, rate limits, Block Kit limits) without network.
Wire facts follow /work/shared/docs/slack-protocol.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import yaml
from aiohttp import WSCloseCode, WSMsgType, web

from tests.support.loopback import LoopbackSite

__all__ = [
    "Envelope",
    "Post",
    "Sent",
    "SlackEmulator",
    "UploadedFile",
]

_T = TypeVar("_T")

# Block Kit / message limits Slack enforces server side (see the protocol doc).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID_LENGTH = 255
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_MESSAGE_TEXT = 40000
# The websockets client refuses incoming messages over 1 MiB.
MAX_WS_MESSAGE = 1024 * 1024

APP_MANIFEST = Path(__file__).resolve().parents[2] / "slack-app-manifest.yaml"


@cache
def manifest_bot_scopes() -> frozenset[str]:
    """The bot scopes slack-app-manifest.yaml asks for: what an app installed from it has."""
    manifest = yaml.safe_load(APP_MANIFEST.read_text(encoding="utf-8"))
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


@dataclass
class Post:
    """One thing the bot "said" (a chat.* call, a response_url post or an ack payload).

    method is "chat.postMessage", "chat.update", "chat.postEphemeral",
    "response_url" or "ack" (text/blocks a slash command ack carried, which Slack
    shows to the user).
    """

    method: str
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    user: str | None
    args: dict[str, Any]


@dataclass
class UploadedFile:
    """A file the bot shared through files.getUploadURLExternal + completeUploadExternal."""

    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel: str | None
    thread_ts: str | None
    initial_comment: str | None


@dataclass
class Sent:
    """What a scenario call delivered, so a test can wait for its ack or replies.

    ts is the message ts for messages/mentions, the action_ts for clicks and the
    command time for slash commands; event_id is None for non-Events-API payloads.
    """

    envelope_id: str
    event_id: str | None
    ts: str
    channel: str
    response_url: str | None
    type: str = "events_api"
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Envelope:
    """Record of one Socket Mode envelope the emulator sent (for redelivery and asserts)."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int
    retry_reason: str
    connection_id: int
    channel: str | None
    user: str | None
    echo: bool = False  # Slack's echo of the bot's own activity


@dataclass(eq=False)
class _Connection:
    """An open Socket Mode websocket; draining ones got a disconnect and get no envelopes."""

    conn_id: int
    ws: web.WebSocketResponse
    draining: bool = False


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class _RateLimit:
    per_second: float
    burst: int


@dataclass
class _ResponseTarget:
    """Where a response_url leads: the originating channel, user and message."""

    channel: str
    user: str
    message_ts: str | None
    thread_ts: str | None


@dataclass
class _PendingUpload:
    file_id: str
    filename: str
    length: int
    content: bytes | None = None


class _ApiError(Exception):
    """A Slack Web API error reply ({"ok": false, "error": ...})."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)


def _truthy(value: Any) -> bool:
    """Slack booleans arrive as True, 1, "1" or "true" depending on the client."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return False


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _parse_json_arg(value: Any, error: str) -> Any:
    """Arguments like blocks/files may be a JSON string (forms) or a structure (JSON bodies)."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(error, "[ERROR] failed to parse JSON") from None
    return value


def _text_of(obj: Any) -> str:
    """The string inside a Block Kit text object (or "" if absent)."""
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return ""


def _check_len(value: str, limit: int, pointer: str) -> None:
    if len(value) > limit:
        raise _ApiError(
            "invalid_blocks",
            f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}]",
        )


def _validate_element(element: Any, pointer: str) -> None:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        raise _ApiError("invalid_blocks", f"[ERROR] missing required field: type [json-pointer:{pointer}]")
    action_id = element.get("action_id")
    if isinstance(action_id, str):
        _check_len(action_id, MAX_ID_LENGTH, f"{pointer}/action_id")
    if element["type"] == "button":
        _check_len(_text_of(element.get("text")), MAX_BUTTON_TEXT, f"{pointer}/text/text")
        value = element.get("value")
        if isinstance(value, str):
            _check_len(value, MAX_BUTTON_VALUE, f"{pointer}/value")
    confirm = element.get("confirm")
    if isinstance(confirm, dict):
        _check_len(_text_of(confirm.get("title")), MAX_CONFIRM_TITLE, f"{pointer}/confirm/title")
        _check_len(_text_of(confirm.get("text")), MAX_CONFIRM_TEXT, f"{pointer}/confirm/text")


def validate_blocks(raw: Any) -> list[dict[str, Any]]:
    """Parse and check blocks the way Slack does server side; raise _ApiError("invalid_blocks")."""
    if raw is None or raw == "":
        return []
    blocks = _parse_json_arg(raw, "invalid_blocks")
    if not isinstance(blocks, list):
        raise _ApiError("invalid_blocks", "[ERROR] blocks must be an array")
    if len(blocks) > MAX_BLOCKS:
        raise _ApiError(
            "invalid_blocks",
            f"[ERROR] must provide an array with no more than {MAX_BLOCKS} items [json-pointer:/blocks]",
        )
    result: list[dict[str, Any]] = []
    for i, block in enumerate(blocks):
        ptr = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _ApiError("invalid_blocks", f"[ERROR] missing required field: type [json-pointer:{ptr}]")
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            _check_len(block_id, MAX_ID_LENGTH, f"{ptr}/block_id")
        kind = block["type"]
        if kind == "section":
            fields = block.get("fields")
            if block.get("text") is None and not fields:
                raise _ApiError("invalid_blocks", f"[ERROR] must provide text or fields [json-pointer:{ptr}]")
            _check_len(_text_of(block.get("text")), MAX_SECTION_TEXT, f"{ptr}/text/text")
            if isinstance(fields, list):
                if len(fields) > MAX_SECTION_FIELDS:
                    raise _ApiError(
                        "invalid_blocks",
                        "[ERROR] must provide an array with no more than "
                        f"{MAX_SECTION_FIELDS} items [json-pointer:{ptr}/fields]",
                    )
                for j, fld in enumerate(fields):
                    _check_len(_text_of(fld), MAX_FIELD_TEXT, f"{ptr}/fields/{j}/text")
            accessory = block.get("accessory")
            if accessory is not None:
                _validate_element(accessory, f"{ptr}/accessory")
        elif kind == "header":
            text = _text_of(block.get("text"))
            if not text:
                raise _ApiError(
                    "invalid_blocks", f"[ERROR] missing required field: text [json-pointer:{ptr}]"
                )
            _check_len(text, MAX_HEADER_TEXT, f"{ptr}/text/text")
        elif kind in ("actions", "context"):
            elements = block.get("elements")
            limit = MAX_ACTIONS_ELEMENTS if kind == "actions" else MAX_CONTEXT_ELEMENTS
            if not isinstance(elements, list) or not elements or len(elements) > limit:
                raise _ApiError(
                    "invalid_blocks",
                    f"[ERROR] must provide an array with 1 to {limit} items [json-pointer:{ptr}/elements]",
                )
            if kind == "actions":
                for j, element in enumerate(elements):
                    _validate_element(element, f"{ptr}/elements/{j}")
        result.append(block)
    return result


class SlackEmulator:
    """A fake Slack (Web API + response_url + Socket Mode) on one 127.0.0.1 port.

    Runs on the caller's event loop; everything it sees is recorded (calls, posts,
    files, envelopes, acks) and every wait_* helper is event-driven.
    """

    def __init__(
        self,
        *,
        bot_user_id: str = "UBOT0001",
        bot_id: str = "BBOT0001",
        team_id: str = "T0000001",
        app_id: str = "A0000001",
        echo_bot_messages: bool = True,
        auto_create_channels: bool = True,
        bot_name: str = "opsbot",
        team_name: str = "Emulator",
        delivery_timeout: float = 5.0,
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.app_id = app_id
        self.team_name = team_name
        self.echo_bot_messages = echo_bot_messages
        self.auto_create_channels = auto_create_channels
        self.delivery_timeout = delivery_timeout
        suffix = uuid.uuid4().hex[:16]
        self.bot_token = f"xoxb-emulator-{suffix}"
        self.app_token = f"xapp-emulator-{suffix}"
        self.verification_token = f"emulator-verification-{suffix[:8]}"

        # What the tests inspect.
        self.posts: list[Post] = []
        self.files: list[UploadedFile] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.envelopes: list[Envelope] = []
        self.client_messages: list[Any] = []  # non-ack frames a client sent
        self.rate_limited = 0
        self.hello_count = 0

        # The "world".
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._uploads: dict[str, _PendingUpload] = {}
        self._responses: dict[str, _ResponseTarget] = {}
        self._envelopes_by_id: dict[str, Envelope] = {}

        # Transport and fault state.
        self._tickets: set[str] = set()
        self._conns: list[_Connection] = []
        self._conn_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._rr = 0
        self._last_ts_us = 0
        self._faults: dict[str, deque[_Fault]] = {}
        self._limits: dict[str, _RateLimit] = {}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._connections_error: str | None = None
        # Bot scopes of the installed app; Slack reports them in `x-oauth-scopes` on every
        # Web API response to a bot-token call. Assign a set to take some away.
        self.granted_scopes: set[str] = set(manifest_bot_scopes())
        self._cond = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._site = LoopbackSite(auto_decompress=True, shutdown_timeout=2.0)

        self.add_user(bot_user_id, bot_name, real_name=bot_name, is_bot=True)

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

    @property
    def port(self) -> int:
        if not self._site.started:
            raise RuntimeError("emulator not started")
        return self._site.port

    @property
    def http_url(self) -> str:
        """Root URL of the emulator, without trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for AsyncWebClient(base_url=...) (trailing slash included)."""
        return f"{self.http_url}/api/"

    @property
    def open_connections(self) -> int:
        return sum(1 for c in self._conns if not c.ws.closed)

    # ------------------------------------------------------------------ world

    def add_user(self, user_id: str, name: str, real_name: str = "", is_bot: bool = False) -> None:
        """Register a user so users.info and payloads carry its name."""
        real = real_name or name
        self._users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real,
            "deleted": False,
            "is_bot": is_bot,
            "is_admin": False,
            "tz": "UTC",
            "profile": {"real_name": real, "display_name": name, "team": self.team_id},
        }

    def add_usergroup(self, usergroup_id: str, users: list[str]) -> None:
        """A user group (S…) and its members, for usergroups.users.list."""
        self._usergroups[usergroup_id] = list(users)

    def add_channel(
        self, channel_id: str, name: str, *, is_private: bool = False, is_im: bool = False, member: bool = True
    ) -> None:
        """Register a channel (ids starting with "D" are DMs); `member`: is the bot in it
        (conversations.info's ``is_member``)."""
        is_im = is_im or channel_id.startswith("D")
        self._channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_im and not is_private,
            "is_group": is_private and not is_im,
            "is_im": is_im,
            "is_mpim": False,
            "is_private": is_private or is_im,
            "is_archived": False,
            "is_member": member,
            "created": int(time.time()),
        }
        self._messages.setdefault(channel_id, {})

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Current messages of a channel (after updates/deletes), oldest first."""
        result: list[dict[str, Any]] = []
        for msg in sorted(self._messages.get(channel, {}).values(), key=lambda m: m["ts"]):
            result.append(
                {
                    "ts": msg["ts"],
                    "text": msg["text"],
                    "blocks": copy.deepcopy(msg["blocks"]),
                    "thread_ts": msg["thread_ts"],
                    "user": msg["user"],
                    "bot_id": msg["bot_id"],
                    "reactions": list(msg["reactions"]),
                }
            )
        return result

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
        self._faults.setdefault(method, deque()).append(_Fault(error, status, retry_after, times))

    def enforce_rate_limit(
        self, method: str = "chat.postMessage", *, per_second: float = 1.0, burst: int = 1
    ) -> None:
        """Per-channel token bucket for `method`; over it → 429 + Retry-After (whole seconds)."""
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be > 0 and burst >= 1")
        self._limits[method] = _RateLimit(per_second, burst)
        for key in [k for k in self._buckets if k[0] == method]:
            del self._buckets[key]

    def disable_connections(self, error: str = "invalid_auth") -> None:
        """Make apps.connections.open fail (a disabled app / revoked token)."""
        self._connections_error = error

    def enable_connections(self) -> None:
        self._connections_error = None

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

    # ------------------------------------------------------------------ scenarios

    async def mention(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        also_message: bool = False,
    ) -> Sent:
        """A user @-mentions the bot (app_mention); also_message adds the message event Slack
        sends too when the app subscribes to message.channels."""
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
        sent = await self._deliver_event(event, channel=channel, user=user)
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
        response_url = self._new_response_url(_ResponseTarget(channel, user, None, None))
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
    ) -> Sent:
        """A button click (block_actions) on a message; carries the message if known.

        `ephemeral=True` is a click on a message only the clicker sees (e.g. a slash
        command's answer): Slack then sends no message and only a response_url.
        """
        channel = self._ensure_channel(channel)
        self._ensure_user(user)
        stored = self._messages.get(channel, {}).get(message_ts)
        if thread_ts is None and stored is not None:
            thread_ts = stored["thread_ts"]
        response_url = self._new_response_url(_ResponseTarget(channel, user, message_ts, thread_ts))
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
            "interactive", payload, accepts_response_payload=False, channel=channel, user=user
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

    # ------------------------------------------------------------------ waiting

    async def wait_for_post(
        self,
        predicate: Callable[[Post], bool] | None = None,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
        method: str | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> Post:
        """First post at index >= after matching every filter; AssertionError on timeout."""

        def matches(post: Post) -> bool:
            return (
                (channel is None or post.channel == channel)
                and (thread_ts is None or post.thread_ts == thread_ts)
                and (method is None or post.method == method)
                and (predicate is None or predicate(post))
            )

        def check() -> Post | None:
            return next((p for p in self.posts[after:] if matches(p)), None)

        def describe() -> str:
            wanted = f"channel={channel} thread_ts={thread_ts} method={method} after={after}"
            lines = [
                f"  [{i}] {p.method} channel={p.channel} ts={p.ts} thread_ts={p.thread_ts} "
                f"user={p.user} text={p.text[:120]!r}"
                for i, p in enumerate(self.posts)
            ]
            return f"no matching post within {timeout}s ({wanted}); posts so far:\n" + (
                "\n".join(lines) or "  (none)"
            )

        return await self._wait_until(check, timeout, describe)

    async def wait_for_file(
        self,
        *,
        channel: str | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> UploadedFile:
        """First uploaded file (optionally in `channel`); AssertionError on timeout."""

        def check() -> UploadedFile | None:
            return next((f for f in self.files[after:] if channel is None or f.channel == channel), None)

        def describe() -> str:
            listing = [f"  {f.file_id} {f.filename} channel={f.channel}" for f in self.files]
            return f"no file for channel={channel} within {timeout}s; files:\n" + (
                "\n".join(listing) or "  (none)"
            )

        return await self._wait_until(check, timeout, describe)

    async def wait_for_ack(
        self,
        envelope_id: str,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The ack frame a client sent for `envelope_id`."""
        return await self._wait_until(
            lambda: self.acks.get(envelope_id),
            timeout,
            lambda: f"no ack for envelope {envelope_id} within {timeout}s; acked: {sorted(self.acks)}",
        )

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        timeout: float = 5.0,
        after: int = 0,
    ) -> dict[str, Any]:
        """Args of the first handled Web API call to `method` (index >= after in calls)."""

        def check() -> dict[str, Any] | None:
            for name, args in self.calls[after:]:
                if name == method and (predicate is None or predicate(args)):
                    return args
            return None

        return await self._wait_until(
            check,
            timeout,
            lambda: f"no {method} call within {timeout}s; calls: {[m for m, _ in self.calls]}",
        )

    async def wait_for_envelope(
        self,
        predicate: Callable[[Envelope], bool] | None = None,
        *,
        kind: str | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> Envelope:
        """First envelope sent (index >= after in envelopes) of `kind` matching `predicate`."""

        def check() -> Envelope | None:
            for env in self.envelopes[after:]:
                if (kind is None or env.type == kind) and (predicate is None or predicate(env)):
                    return env
            return None

        return await self._wait_until(
            check,
            timeout,
            lambda: (
                f"no matching {kind or 'any'} envelope within {timeout}s; sent "
                f"{[(e.type, e.envelope_id) for e in self.envelopes]}"
            ),
        )

    async def wait_connected(
        self,
        count: int = 1,
        timeout: float = 10.0,
    ) -> None:
        """Until `count` sockets in total (since start) have been sent hello."""
        await self._wait_until(
            lambda: True if self.hello_count >= count else None,
            timeout,
            lambda: f"only {self.hello_count} of {count} connections within {timeout}s",
        )

    async def wait_disconnected(
        self,
        open_count: int = 0,
        timeout: float = 5.0,
    ) -> None:
        """Until at most `open_count` sockets remain open."""
        await self._wait_until(
            lambda: True if self.open_connections <= open_count else None,
            timeout,
            lambda: f"{self.open_connections} sockets still open after {timeout}s",
        )

    async def settle(self, timeout: float = 1.0) -> bool:
        """Wait until pending echoes are delivered and acked; False if that timed out.

        Why: a test usually ends right after the bot's last post, whose echo is still
        in flight; closing the client then makes it log failed acks. Call before closing.
        """
        try:
            await self._wait_until(
                lambda: (
                    True
                    if not self._tasks and all(e.envelope_id in self.acks for e in self.envelopes if e.echo)
                    else None
                ),
                timeout,
                lambda: "echoes not settled",
            )
        except AssertionError:
            return False
        return True

    async def _wait_until(
        self, check: Callable[[], _T | None], limit: float, describe: Callable[[], str]
    ) -> _T:
        """Re-run `check` whenever state changes (no polling) until it returns non-None."""
        async with self._cond:
            try:
                async with asyncio.timeout(limit):
                    while True:
                        result = check()
                        if result is not None:
                            return result
                        await self._cond.wait()
            except TimeoutError:
                raise AssertionError(describe()) from None

    async def _changed(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ helpers

    def _next_ts(self) -> str:
        """Unique, increasing Slack-style ts ("<seconds>.<6 digits>")."""
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(self._last_ts_us + 100, now_us)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _trigger_id(self) -> str:
        return f"{next(self._ids)}.{self.team_id[1:]}.{uuid.uuid4().hex}"

    def _new_response_url(self, target: _ResponseTarget) -> str:
        rid = uuid.uuid4().hex
        self._responses[rid] = target
        return f"{self.http_url}/response/{rid}"

    def _ensure_user(self, user: str) -> None:
        if user not in self._users:
            self.add_user(user, user.lower())

    def _ensure_channel(self, channel: str) -> str:
        """Scenario helpers are lenient: unknown channels are created on first use."""
        if channel not in self._channels:
            self.add_channel(channel, channel.lower(), is_private=channel.startswith("G"))
        return channel

    def _resolve_channel(self, value: Any) -> str:
        """Map a chat.* channel argument (id, name, #name or user id) to a channel id."""
        raw = _opt_str(value)
        if raw is None:
            raise _ApiError("channel_not_found")
        if raw in self._channels:
            return raw
        name = raw[1:] if raw.startswith("#") else raw
        for cid, info in self._channels.items():
            if info["name"] == name:
                return cid
        if raw[0] in "UW" and (raw in self._users or self.auto_create_channels):
            dm_id = f"D{raw[1:]}"
            if dm_id not in self._channels:
                self.add_channel(dm_id, dm_id.lower(), is_im=True)
            return dm_id
        if self.auto_create_channels and not raw.startswith("#"):
            return self._ensure_channel(raw)
        raise _ApiError("channel_not_found")

    def _channel_type(self, channel: str) -> str:
        info = self._channels.get(channel, {})
        if channel.startswith("D") or info.get("is_im"):
            return "im"
        if info.get("is_group"):
            return "group"
        return "channel"

    def _store_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        thread_ts: str | None,
        user: str | None,
        bot_id: str | None = None,
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "ts": ts,
            "text": text,
            "blocks": blocks,
            "thread_ts": thread_ts,
            "user": user,
            "bot_id": bot_id,
            "reactions": [],
        }
        self._messages.setdefault(channel, {})[ts] = msg
        return msg

    def _public_message(self, msg: dict[str, Any]) -> dict[str, Any]:
        """A stored message as Slack shows it in API replies and payloads."""
        out: dict[str, Any] = {
            "type": "message",
            "ts": msg["ts"],
            "text": msg["text"],
            "team": self.team_id,
        }
        if msg["blocks"]:
            out["blocks"] = copy.deepcopy(msg["blocks"])
        if msg["user"] is not None:
            out["user"] = msg["user"]
        if msg["bot_id"] is not None:
            out["bot_id"] = msg["bot_id"]
            if msg["bot_id"] == self.bot_id:
                out["app_id"] = self.app_id
        if msg["thread_ts"] is not None:
            out["thread_ts"] = msg["thread_ts"]
        if msg.get("edited") is not None:
            out["edited"] = dict(msg["edited"])
        if msg.get("metadata") is not None:
            out["metadata"] = copy.deepcopy(msg["metadata"])
        return out

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

    def _message_content(self, args: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Validate text/blocks/attachments the way chat.* does."""
        text = args.get("text")
        text = "" if text is None else str(text)
        blocks = validate_blocks(args.get("blocks"))
        attachments = _parse_json_arg(args.get("attachments"), "invalid_attachments")
        if not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if len(text) > MAX_MESSAGE_TEXT:
            raise _ApiError("msg_too_long")
        return text, blocks

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ Socket Mode

    def _candidates(self) -> list[_Connection] | None:
        live = [c for c in self._conns if not c.draining and not c.ws.closed]
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

    async def _deliver_event(self, event: dict[str, Any], *, channel: str, user: str | None) -> Sent:
        payload = self._event_callback(event)
        env = await self._deliver(
            "events_api", payload, accepts_response_payload=False, channel=channel, user=user
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
    ) -> Envelope:
        """Send one envelope to ONE open socket (round-robin), waiting for one if needed."""
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
                    self._candidates,
                    self.delivery_timeout,
                    lambda: (
                        f"no open Socket Mode connection within {self.delivery_timeout}s "
                        f"to deliver a {kind} envelope"
                    ),
                )
            else:
                maybe = self._candidates()
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
        await self._changed()
        return env

    async def _echo(self, event: dict[str, Any], channel: str) -> None:
        """Deliver the event Slack sends for the bot's own activity (bots must ignore it)."""
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

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        """The Socket Mode websocket: one-time ticket, hello, envelopes out, acks in."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or reused ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True, compress=False, timeout=2.0)
        await ws.prepare(request)
        conn = _Connection(next(self._conn_ids), ws)
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
        except _ApiError:
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

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    async def _read_args(request: web.Request) -> dict[str, Any]:
        """Merge query string + form + JSON body (clients use all three)."""
        args: dict[str, Any] = dict(request.query.items())
        if not request.body_exists:
            return args
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    args[key] = value.file.read()
                else:
                    args[key] = value
        return args

    def _token_error(self, token: str | None, method: str) -> str | None:
        wants_app = method == "apps.connections.open"
        if token == (self.app_token if wants_app else self.bot_token):
            return None
        if token in (self.app_token, self.bot_token):
            return "not_allowed_token_type"
        return "invalid_auth"

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        return fault

    def _rate_check(self, method: str, args: dict[str, Any]) -> int | None:
        """Token bucket per (method, channel); returns Retry-After seconds when over."""
        limit = self._limits.get(method)
        if limit is None:
            return None
        channel = str(args.get("channel") or args.get("channel_id") or "")
        now = time.monotonic()
        tokens, last = self._buckets.get((method, channel), (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - last) * limit.per_second)
        if tokens >= 1.0:
            self._buckets[(method, channel)] = (tokens - 1.0, now)
            return None
        self._buckets[(method, channel)] = (tokens, now)
        self.rate_limited += 1
        return max(1, math.ceil((1.0 - tokens) / limit.per_second))

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """/api/<method>: auth, fault injection, rate limits, then the method itself."""
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except ValueError:
            self.calls.append((method, {}))
            await self._changed()
            return self._json({"ok": False, "error": "invalid_json"})
        token = args.pop("token", None)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :].strip()
        try:
            handler = self._methods().get(method)
            if handler is None:
                return self._json({"ok": False, "error": "unknown_method"})
            token_error = self._token_error(_opt_str(token), method)
            if token_error is not None:
                return self._json({"ok": False, "error": token_error})
            scopes = (
                {"x-oauth-scopes": ",".join(sorted(self.granted_scopes))} if token == self.bot_token else {}
            )
            fault = self._take_fault(method)
            if fault is not None:
                headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                return self._json({"ok": False, "error": fault.error}, fault.status, {**headers, **scopes})
            retry_after = self._rate_check(method, args)
            if retry_after is not None:
                return self._json(
                    {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after), **scopes}
                )
            try:
                return self._json(await handler(args), headers=scopes)
            except _ApiError as e:
                body: dict[str, Any] = {"ok": False, "error": e.error}
                if e.messages:
                    body["response_metadata"] = {"messages": e.messages}
                return self._json(body, headers=scopes)
        finally:
            self.calls.append((method, args))
            await self._changed()

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]:
        return {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    async def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_name.lower()}.slack.com/",
            "team": self.team_name,
            "user": self._users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._connections_error is not None:
            raise _ApiError(self._connections_error)
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link?ticket={ticket}"}

    async def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        text, blocks = self._message_content(args)
        thread_ts = _opt_str(args.get("thread_ts"))
        ts = self._next_ts()
        msg = self._store_message(
            channel,
            ts,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            user=self.bot_user_id,
            bot_id=self.bot_id,
        )
        if args.get("metadata"):
            msg["metadata"] = _parse_json_arg(args["metadata"], "invalid_metadata_format")
        self.posts.append(Post("chat.postMessage", channel, ts, text, blocks, thread_ts, None, args))
        public = self._public_message(msg)
        if self.echo_bot_messages:
            event = dict(public, channel=channel, event_ts=ts, channel_type=self._channel_type(channel))
            if thread_ts is not None and _truthy(args.get("reply_broadcast")):
                event["subtype"] = "thread_broadcast"
            self._spawn(self._echo(event, channel))
        return {"ok": True, "channel": channel, "ts": ts, "message": public}

    def _bot_message(self, channel_arg: Any, ts_arg: Any) -> tuple[str, dict[str, Any]]:
        raw = _opt_str(channel_arg)
        if raw is None or raw not in self._channels:
            raise _ApiError("channel_not_found")
        msg = self._messages.get(raw, {}).get(str(ts_arg or ""))
        if msg is None:
            raise _ApiError("message_not_found")
        return raw, msg

    async def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, msg = self._bot_message(args.get("channel"), args.get("ts"))
        if msg["bot_id"] != self.bot_id:
            raise _ApiError("cant_update_message")
        text, blocks = self._message_content(args)
        previous = self._public_message(msg)
        if "text" in args:
            msg["text"] = text
        if "blocks" in args:
            msg["blocks"] = blocks
        edit_ts = self._next_ts()
        msg["edited"] = {"user": self.bot_user_id, "ts": edit_ts}
        ts = msg["ts"]
        self.posts.append(
            Post("chat.update", channel, ts, msg["text"], msg["blocks"], msg["thread_ts"], None, args)
        )
        public = self._public_message(msg)
        if self.echo_bot_messages:
            event = {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel,
                "channel_type": self._channel_type(channel),
                "ts": edit_ts,
                "event_ts": edit_ts,
                "message": public,
                "previous_message": previous,
            }
            self._spawn(self._echo(event, channel))
        return {"ok": True, "channel": channel, "ts": ts, "text": msg["text"], "message": public}

    async def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, msg = self._bot_message(args.get("channel"), args.get("ts"))
        if msg["bot_id"] != self.bot_id:
            raise _ApiError("cant_delete_message")
        del self._messages[channel][msg["ts"]]
        return {"ok": True, "channel": channel, "ts": msg["ts"]}

    async def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        user = _opt_str(args.get("user"))
        if user is None:
            raise _ApiError("user_not_found")
        text, blocks = self._message_content(args)
        thread_ts = _opt_str(args.get("thread_ts"))
        ts = self._next_ts()
        self.posts.append(Post("chat.postEphemeral", channel, ts, text, blocks, thread_ts, user, args))
        return {"ok": True, "message_ts": ts}

    def _reaction_target(self, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        raw = _opt_str(args.get("channel"))
        msg = self._messages.get(raw or "", {}).get(str(args.get("timestamp") or ""))
        if msg is None:
            raise _ApiError("message_not_found")
        name = _opt_str(args.get("name"))
        if name is None:
            raise _ApiError("invalid_name")
        return msg, name.strip(":")

    async def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        msg, name = self._reaction_target(args)
        if name in msg["reactions"]:
            raise _ApiError("already_reacted")
        msg["reactions"].append(name)
        return {"ok": True}

    async def _reactions_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        msg, name = self._reaction_target(args)
        if name not in msg["reactions"]:
            raise _ApiError("no_reaction")
        msg["reactions"].remove(name)
        return {"ok": True}

    async def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup") or "")
        if group not in self._usergroups:
            raise _ApiError("no_such_subteam")
        return {"ok": True, "users": list(self._usergroups[group])}

    async def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(args.get("user") or ""))
        if user is None:
            raise _ApiError("user_not_found")
        return {"ok": True, "user": copy.deepcopy(user)}

    async def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        info = self._channels.get(str(args.get("channel") or ""))
        if info is None:
            raise _ApiError("channel_not_found")
        return {"ok": True, "channel": dict(info)}

    async def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel not in self._channels:
            raise _ApiError("channel_not_found")
        limit = int(args.get("limit") or 100)
        oldest = float(args.get("oldest") or 0)
        top = [
            m
            for m in self._messages[channel].values()
            if m["thread_ts"] in (None, m["ts"]) and float(m["ts"]) >= oldest
        ]
        top.sort(key=lambda m: m["ts"], reverse=True)
        return {
            "ok": True,
            "messages": [self._public_message(m) for m in top[:limit]],
            "has_more": len(top) > limit,
        }

    async def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel not in self._channels:
            raise _ApiError("channel_not_found")
        ts = str(args.get("ts") or "")
        thread = [m for m in self._messages[channel].values() if m["ts"] == ts or m["thread_ts"] == ts]
        if not thread:
            raise _ApiError("thread_not_found")
        thread.sort(key=lambda m: m["ts"])
        return {
            "ok": True,
            "messages": [self._public_message(m) for m in thread],
            "has_more": False,
        }

    async def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = _opt_str(args.get("filename"))
        try:
            length = int(args.get("length") or -1)
        except (TypeError, ValueError):
            length = -1
        if filename is None or length < 0:
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._ids):09d}"
        self._uploads[file_id] = _PendingUpload(file_id, filename, length)
        return {"ok": True, "upload_url": f"{self.http_url}/upload/{file_id}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The raw upload URL (no auth, like files.slack.com/upload/v1/...)."""
        pending = self._uploads.get(request.match_info["file_id"])
        if pending is None:
            return web.Response(status=404, text="file_not_found")
        pending.content = await request.read()
        await self._changed()
        return web.Response(text=f"OK - {len(pending.content)}")

    async def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = _parse_json_arg(args.get("files"), "invalid_arguments")
        if not isinstance(items, list) or not items:
            raise _ApiError("invalid_arguments")
        channel_arg = _opt_str(args.get("channel_id")) or _opt_str(
            str(args.get("channels") or "").split(",")[0]
        )
        channel = None if channel_arg is None else self._resolve_channel(channel_arg)
        thread_ts = _opt_str(args.get("thread_ts"))
        comment = _opt_str(args.get("initial_comment"))
        uploads: list[tuple[_PendingUpload, str | None]] = []
        for item in items:
            file_id = str(item.get("id") or "") if isinstance(item, dict) else ""
            pending = self._uploads.get(file_id)
            if pending is None or pending.content is None:
                raise _ApiError("file_not_found")
            title = _opt_str(item.get("title")) if isinstance(item, dict) else None
            uploads.append((pending, title))
        now = int(time.time())
        files: list[dict[str, Any]] = []
        for pending, title in uploads:
            del self._uploads[pending.file_id]
            content = pending.content or b""
            self.files.append(
                UploadedFile(pending.file_id, pending.filename, title, content, channel, thread_ts, comment)
            )
            files.append(
                {
                    "id": pending.file_id,
                    "created": now,
                    "timestamp": now,
                    "name": pending.filename,
                    "title": title or pending.filename,
                    "mimetype": "text/plain",
                    "filetype": "text",
                    "user": self.bot_user_id,
                    "size": len(content),
                    "channels": [channel] if channel is not None else [],
                }
            )
        return {"ok": True, "files": files}

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        """response_url posts (AsyncWebhookClient / Bolt respond()): reply 200 "ok"."""
        target = self._responses.get(request.match_info["rid"])
        if target is None:
            return web.Response(status=404, text="no_service")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        text = str(body.get("text") or "")
        try:
            blocks = validate_blocks(body.get("blocks"))
        except _ApiError as e:
            return web.Response(status=400, text=e.error)
        stored = (
            self._messages.get(target.channel, {}).get(target.message_ts)
            if target.message_ts is not None
            else None
        )
        thread_ts = _opt_str(body.get("thread_ts")) or target.thread_ts
        ts: str
        if _truthy(body.get("delete_original")):
            ts = target.message_ts or self._next_ts()
            if stored is not None:
                del self._messages[target.channel][stored["ts"]]
        elif _truthy(body.get("replace_original")) and target.message_ts is not None:
            ts = target.message_ts
            if stored is not None:
                stored["text"] = text
                stored["blocks"] = blocks
        else:
            if not text and not blocks and not body.get("attachments"):
                return web.Response(status=400, text="no_text")
            ts = self._next_ts()
            if body.get("response_type") == "in_channel":
                self._store_message(
                    target.channel,
                    ts,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread_ts,
                    user=self.bot_user_id,
                    bot_id=self.bot_id,
                )
        self.posts.append(
            Post("response_url", target.channel, ts, text, blocks, thread_ts, target.user, body)
        )
        await self._changed()
        return web.Response(text="ok")
