"""A request as it arrived, whatever the front end (Slack, console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["mention", "dm", "slash", "console", "button", "alertmanager"]

MessageId = str
"""An opaque reference to a posted message, as the front end knows it (in Slack: its ``ts``).
The core only keeps these and hands them back: a thread is named by its first message."""


@dataclass(frozen=True)
class ChatRequest:
    """A command as it arrived, independent of Slack's payload shapes.

    ``thread``: the message whose thread the answer belongs in (None: a top-level
    request answered in a new thread, or a private one).
    """

    request_id: str
    user_id: str
    channel_id: str
    text: str
    source: Source
    thread: MessageId | None = None
    user_name: str = ""
    usergroups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ButtonClick:
    """A click on a message's button, whatever the front end: who, where, which button."""

    user_id: str
    channel_id: str
    message: MessageId | None
    action_id: str
    value: str
    usergroups: frozenset[str] = frozenset()
