"""What the emulator records and tracks: posts, files, envelopes, and its internal bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


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
class Connection:
    """An open Socket Mode websocket; draining ones got a disconnect and get no envelopes."""

    conn_id: int
    ws: web.WebSocketResponse
    draining: bool = False


@dataclass
class Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class RateLimit:
    per_second: float
    burst: int


@dataclass
class ResponseTarget:
    """Where a response_url leads: the originating channel, user and message."""

    channel: str
    user: str
    message_ts: str | None
    thread_ts: str | None


@dataclass
class PendingUpload:
    file_id: str
    filename: str
    length: int
    content: bytes | None = None
