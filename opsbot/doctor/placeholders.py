"""The Slack ids a config names, and which of them are still the example's placeholders.

Pure. config.example.yaml and the manifests' configs ship ids like ``CEXAMPLEALERTS``,
``UEXAMPLEADMIN`` and ``SEXAMPLESRE``: valid in shape (so the file loads), but marked by
``EXAMPLE`` after the type letter, which no id Slack hands out looks like. `opsbot
check-config` fails on every one left in, naming its key path, instead of calling an
unedited copy valid. tests/unit/test_doctor_placeholders.py holds the shipped files to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from opsbot.config import Settings

IdKind = Literal["channel", "user", "user group"]

PLACEHOLDER = re.compile(r"^[CGDUWS]EXAMPLE[A-Z0-9]*$")

_WHERE_TO_FIND: dict[IdKind, str] = {
    "channel": "in Slack, the channel's name → About → Channel ID",
    "user": "in Slack, the person's profile → ⋮ → Copy member ID",
    "user group": "the S… id in the group's address in Slack's web client, or usergroups.list",
}


@dataclass(frozen=True)
class SlackId:
    """One Slack id in the config, and where: ``alerts.rules.0.channel``."""

    path: str
    value: str
    kind: IdKind


def is_placeholder(value: str) -> bool:
    return bool(PLACEHOLDER.match(value))


def slack_ids(settings: Settings) -> list[SlackId]:
    """Every Slack channel, user and user group id the config names, in config order."""
    found = [SlackId(f"channels.{channel}", channel, "channel") for channel in settings.channels]
    if settings.approvals.audit_channel:
        found.append(SlackId("approvals.audit_channel", settings.approvals.audit_channel, "channel"))
    if settings.alerts.default_channel:
        found.append(SlackId("alerts.default_channel", settings.alerts.default_channel, "channel"))
    found.extend(
        SlackId(f"alerts.rules.{index}.channel", rule.channel, "channel")
        for index, rule in enumerate(settings.alerts.rules)
    )
    for index, binding in enumerate(settings.policy.bindings):
        path = f"policy.bindings.{index}"
        found.extend(SlackId(f"{path}.users", user, "user") for user in binding.users)
        found.extend(SlackId(f"{path}.usergroups", group, "user group") for group in binding.usergroups)
        found.extend(SlackId(f"{path}.channels", channel, "channel") for channel in binding.channels)
    found.extend(
        SlackId(f"policy.channels.{channel}", channel, "channel") for channel in settings.policy.channels
    )
    return found


def placeholders(settings: Settings) -> list[SlackId]:
    return [slack_id for slack_id in slack_ids(settings) if is_placeholder(slack_id.value)]


def placeholder_fix(kind: IdKind) -> str:
    return f"replace it with your own {kind} id ({_WHERE_TO_FIND[kind]})"
