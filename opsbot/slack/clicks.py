"""A button click as Slack delivers it (``block_actions``), read once (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Click:
    user: str
    channel: str
    action_id: str
    value: str
    message_ts: str | None
    """The message the button is on."""
    thread: str | None
    """Where answers to the click go: the thread the message is in, else its own thread."""
    ephemeral: bool
    """A message only the clicker sees (a slash command's answer): answer privately."""
    response_url: str | None


def clicked(body: dict[str, Any]) -> Click:
    action = (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    message_ts = str(container.get("message_ts") or "") or None
    return Click(
        user=str((body.get("user") or {}).get("id", "")),
        channel=str(container.get("channel_id") or (body.get("channel") or {}).get("id", "")),
        action_id=str(action.get("action_id", "")),
        value=str(action.get("value", "")),
        message_ts=message_ts,
        thread=str(container.get("thread_ts") or "") or message_ts,
        ephemeral=bool(container.get("is_ephemeral")),
        response_url=str(body.get("response_url") or "") or None,
    )
