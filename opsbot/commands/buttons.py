"""Buttons that run a command, as if the person who clicks had typed it.

A front end turns a click on one into a request with the button's command as its text,
answered in the same thread: the command goes through the same parsing, policy and
approvals as a typed one, so a button can never do more than typing could. Slack wants
the action ids of one message to differ, hence the index.
"""

from __future__ import annotations

import re
from typing import Literal

from opsbot.core.reply import Button

RUN_PREFIX = "opsbot:run:"
RUN_ACTION = re.compile(r"^opsbot:run:\d{1,2}$")


def run_button(
    label: str, command: str, index: int, *, style: Literal["primary", "danger"] | None = None
) -> Button:
    return Button(label, f"{RUN_PREFIX}{index}", command, style=style)


def run_buttons(*choices: tuple[str, str]) -> tuple[Button, ...]:
    """(label, command) pairs → buttons (the first one primary)."""
    return tuple(
        run_button(label, command, index, style="primary" if index == 0 else None)
        for index, (label, command) in enumerate(choices)
    )
