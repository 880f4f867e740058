"""The emulator's state: the Slack "world" (users, channels, messages), what tests
inspect (posts, calls, acks, envelopes), and the event-driven wait every helper uses.

The other modules add behaviour on top of this state: `socket_mode` (the websocket
link), `chat` and `web_api` (the Web API), `scenarios` and `waiting` (test driving).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.support.loopback import LoopbackSite

from .records import Connection, Envelope, Fault, PendingUpload, Post, RateLimit, ResponseTarget, UploadedFile
from .wire import ApiError, opt_str

_T = TypeVar("_T")

APP_MANIFEST = Path(__file__).resolve().parents[3] / "slack-app-manifest.yaml"


@cache
def manifest_bot_scopes() -> frozenset[str]:
    """The bot scopes slack-app-manifest.yaml asks for: what an app installed from it has."""
    manifest = yaml.safe_load(APP_MANIFEST.read_text(encoding="utf-8"))
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


class EmulatorCore:
    """State shared by every part of the emulator, plus the helpers they all use."""

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
        self.retry_unacked_after: float | None = None
        """As Slack does: an Events API envelope not acked within this many seconds is sent
        again (same event_id, retry_attempt + 1, up to MAX_EVENT_RETRIES times) on an open
        connection. None (the default): tests redeliver by hand (`redeliver`)."""
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
        self._uploads: dict[str, PendingUpload] = {}
        self._responses: dict[str, ResponseTarget] = {}
        self._envelopes_by_id: dict[str, Envelope] = {}

        # Transport and fault state.
        self._tickets: set[str] = set()
        self._conns: list[Connection] = []
        self._conn_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._rr = 0
        self._last_ts_us = 0
        self._faults: dict[str, deque[Fault]] = {}
        self._limits: dict[str, RateLimit] = {}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._connections_error: str | None = None
        self._echoes = 0  # echoes spawned and not yet delivered (or dropped)
        # Bot scopes of the installed app; Slack reports them in `x-oauth-scopes` on every
        # Web API response to a bot-token call. Assign a set to take some away.
        self.granted_scopes: set[str] = set(manifest_bot_scopes())
        self._cond = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._site = LoopbackSite(auto_decompress=True, shutdown_timeout=2.0)

        self.add_user(bot_user_id, bot_name, real_name=bot_name, is_bot=True)

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

    # ------------------------------------------------------------------ waiting primitives

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
        raw = opt_str(value)
        if raw is None:
            raise ApiError("channel_not_found")
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
        raise ApiError("channel_not_found")

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

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
