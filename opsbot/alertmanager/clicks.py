"""Approve / Reject clicks handed from replica to replica: the request, its check, the hand-off.

With several replicas (`ha:`), Slack hands a click to any of them, but only the replica running
the Alertmanager loops holds the group's thread and card: a decision taken elsewhere would be
stored but never said there. So a replica not running the loops passes the click on (one hop,
over the internal port, by `opsbot.ha.forwarding`) and the one running them decides, runs and
says so. The click is signed (Standard Webhooks headers) with a key derived from the Slack bot
token, which every replica holds and nothing else in the cluster does: whoever else reaches
the internal port cannot approve anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from opsbot.alertmanager.payload import PayloadError
from opsbot.alertmanager.receiver import Handler, Refusals, Relay, click_handler
from opsbot.alertmanager.secrets import Secret
from opsbot.alertmanager.signing import signed_headers, verify
from opsbot.core.reply import Text
from opsbot.core.request import ButtonClick

log = structlog.get_logger("opsbot.alertmanager")

CLICK_PATH = "/alertmanager/clicks"
_KEY_CONTEXT = b"opsbot: Alertmanager clicks between replicas"
_SLACK_ID = re.compile(r"^[A-Z0-9]{1,30}$")
MAX_USERGROUPS = 200


def replica_key(bot_token: str) -> Secret:
    """The same on every replica of one Slack app, and not the token itself."""
    return Secret(hmac.new(bot_token.encode(), _KEY_CONTEXT, hashlib.sha256).hexdigest())


def click_request(click: ButtonClick, key: Secret, now: float) -> tuple[bytes, dict[str, str]]:
    """The body and signed headers that carry `click` to another replica."""
    body = json.dumps(
        {
            "user_id": click.user_id,
            "channel_id": click.channel_id,
            "action_id": click.action_id,
            "value": click.value,
            "usergroups": sorted(click.usergroups),
        },
        separators=(",", ":"),
    ).encode()
    return body, signed_headers(key.reveal(), "click_" + secrets.token_hex(12), int(now), body)


def parse_click(data: Any, actions: re.Pattern[str]) -> ButtonClick:
    """The click a replica passed on; `actions`: the Approve / Reject action ids."""
    if not isinstance(data, dict):
        raise PayloadError("expected a JSON object")
    user, channel = data.get("user_id"), data.get("channel_id")
    action, value, groups = data.get("action_id"), data.get("value"), data.get("usergroups", [])
    if not isinstance(user, str) or not _SLACK_ID.match(user):
        raise PayloadError("user_id: expected a Slack user id")
    if not isinstance(channel, str) or not _SLACK_ID.match(channel):
        raise PayloadError("channel_id: expected a Slack channel id")
    if not isinstance(action, str) or not actions.match(action):
        raise PayloadError("action_id: not an Approve / Reject button")
    if not isinstance(value, str) or len(value) > 300:
        raise PayloadError("value: expected a string of at most 300 characters")
    if not isinstance(groups, list) or len(groups) > MAX_USERGROUPS or not all(
        isinstance(g, str) and _SLACK_ID.match(g) for g in groups
    ):
        raise PayloadError("usergroups: expected a list of Slack user group ids")
    return ButtonClick(user, channel, None, action, value, frozenset(groups))


class ClickHandoff:
    """A replica's `on_click`: decided here when this replica runs the loops (or clicks cannot
    be passed on: no `ha:`, no address), else passed on to the one that does."""

    def __init__(
        self,
        key: Secret | None,
        actions: re.Pattern[str],
        *,
        running: Callable[[], bool],
        decide: Callable[[ButtonClick], Awaitable[None]],
        notify: Callable[[str, str, Text], Awaitable[None]],
    ) -> None:
        self._key = key
        self._actions = actions
        self._running = running
        self._decide = decide
        self._notify = notify
        self.relay: Relay | None = None
        """How this replica reaches the one running the loops (set with the routes)."""

    async def __call__(self, click: ButtonClick) -> None:
        if self._running() or self.relay is None or self._key is None:
            await self._decide(click)
            return
        body, headers = click_request(click, self._key, time.time())
        answer = await self.relay(CLICK_PATH, body, headers)
        if answer is None:  # this replica leads (its loops are starting), or cannot pass it on
            await self._decide(click)
            return
        if isinstance(answer, tuple) and answer[0] == 200:
            return
        why = answer if isinstance(answer, str) else f"it answered HTTP {answer[0]}"
        log.warning("click_not_passed_on", action=click.action_id[:64], why=why[:200])
        await self._notify(
            click.channel_id,
            click.user_id,
            Text(
                "Nothing was changed: the opsbot replica running Alertmanager could not take this "
                f"click ({why}). Try again in a moment."
            ),
        )

    def route(self, refusals: Refusals) -> tuple[str, str, Handler] | None:
        """The internal route other replicas pass clicks to (none without the replicas' key)."""
        key = self._key
        if key is None:
            return None

        def verified(request: web.Request, body: bytes) -> str | None:
            headers = {name.lower(): value for name, value in request.headers.items()}
            return verify(key.reveal(), headers, body, time.time())

        handler = click_handler(
            verified, self._running, lambda data: parse_click(data, self._actions), self._decide, refusals
        )
        return "POST", CLICK_PATH, handler
