"""What a replica hands to the one running the Alertmanager loops: Approve / Reject clicks and
the card notes of the silences it made or ended.

With several replicas (`ha:`), Slack hands a click or a command to any of them, but only the
replica running the Alertmanager loops holds the groups, their threads and cards: a decision
taken elsewhere would be stored but never said there, a silence never noted on its card. So a
replica not running the loops passes these on (one hop, over the internal port, by
`opsbot.ha.forwarding`) and the one running them applies them. Each is signed (Standard
Webhooks headers) with a key derived from the Slack bot token, which every replica holds and
nothing else in the cluster does: whoever else reaches the internal port cannot approve or
note anything.

    POST /alertmanager/handoff/click      {user_id, channel_id, action_id, value, usergroups}
    POST /alertmanager/handoff/silences   {made: [[silence id, fingerprint]…], user_id, user_name,
                                           until, channel_id, thread} or {ended: [ids], by}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from opsbot.alertmanager.payload import PayloadError
from opsbot.alertmanager.receiver import Handler, Refusals, Relay, handoff_handler
from opsbot.alertmanager.secrets import Secret
from opsbot.alertmanager.signing import signed_headers, verify
from opsbot.core.reply import Text
from opsbot.core.request import ButtonClick

log = structlog.get_logger("opsbot.alertmanager")

CLICK_PATH = "/alertmanager/handoff/click"
SILENCES_PATH = "/alertmanager/handoff/silences"
_KEY_CONTEXT = b"opsbot: Alertmanager hand-offs between replicas"
_SLACK_ID = re.compile(r"^[A-Z0-9]{1,30}$")
_SILENCE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
MAX_ITEMS = 200


def replica_key(bot_token: str) -> Secret:
    """The same on every replica of one Slack app, and not the token itself."""
    return Secret(hmac.new(bot_token.encode(), _KEY_CONTEXT, hashlib.sha256).hexdigest())


def signed_request(document: Mapping[str, Any], key: Secret, now: float) -> tuple[bytes, dict[str, str]]:
    """The body and signed headers that carry `document` to another replica."""
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, signed_headers(key.reveal(), "handoff_" + secrets.token_hex(12), int(now), body)


def click_document(click: ButtonClick) -> dict[str, Any]:
    return {
        "user_id": click.user_id,
        "channel_id": click.channel_id,
        "action_id": click.action_id,
        "value": click.value,
        "usergroups": sorted(click.usergroups),
    }


def _slack_id(data: Mapping[str, Any], name: str, *, optional: bool = False) -> str:
    value = data.get(name, "" if optional else None)
    if optional and value == "":
        return ""
    if not isinstance(value, str) or not _SLACK_ID.match(value):
        raise PayloadError(f"{name}: expected a Slack id")
    return value


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise PayloadError("expected a JSON object")
    return data


def parse_click(data: Any, actions: re.Pattern[str]) -> ButtonClick:
    """The click a replica passed on; `actions`: the Approve / Reject action ids."""
    data = _object(data)
    user, channel = _slack_id(data, "user_id"), _slack_id(data, "channel_id")
    action, value, groups = data.get("action_id"), data.get("value"), data.get("usergroups", [])
    if not isinstance(action, str) or not actions.match(action):
        raise PayloadError("action_id: not an Approve / Reject button")
    if not isinstance(value, str) or len(value) > 300:
        raise PayloadError("value: expected a string of at most 300 characters")
    if not isinstance(groups, list) or len(groups) > MAX_ITEMS or not all(
        isinstance(g, str) and _SLACK_ID.match(g) for g in groups
    ):
        raise PayloadError("usergroups: expected a list of Slack user group ids")
    return ButtonClick(user, channel, None, action, value, frozenset(groups))


def made_document(
    made: list[tuple[str, str]], user_id: str, user_name: str, until: datetime, channel: str, thread: str | None
) -> dict[str, Any]:
    return {
        "made": [list(pair) for pair in made],
        "user_id": user_id,
        "user_name": user_name,
        "until": until.isoformat(),
        "channel_id": channel,
        "thread": thread or "",
    }


class SilencesMade:
    """Silences a replica made: (silence id, fingerprint) each, by whom, until when, asked where."""

    def __init__(self, data: Any) -> None:
        data = _object(data)
        made = data.get("made")
        if not isinstance(made, list) or not made or len(made) > MAX_ITEMS:
            raise PayloadError("made: expected a list of [silence id, fingerprint]")
        self.made: list[tuple[str, str]] = []
        for pair in made:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                raise PayloadError("made: expected a list of [silence id, fingerprint]")
            if not _SILENCE_ID.match(pair[0]) or not _FINGERPRINT.match(pair[1]):
                raise PayloadError("made: not a silence id and a fingerprint")
            self.made.append((pair[0], pair[1]))
        self.user_id = _slack_id(data, "user_id")
        self.channel = _slack_id(data, "channel_id")
        name, thread, until = data.get("user_name"), data.get("thread"), data.get("until")
        if not isinstance(name, str) or len(name) > 200 or not isinstance(thread, str) or len(thread) > 40:
            raise PayloadError("user_name, thread: expected short strings")
        self.user_name, self.thread = name, thread or None
        try:
            self.until = datetime.fromisoformat(str(until))
        except ValueError:
            raise PayloadError("until: expected an ISO 8601 time") from None


def parse_ended(data: Any) -> tuple[set[str], str]:
    """(silence ids, who ended them) from {ended: [...], by}."""
    data = _object(data)
    ended = data.get("ended")
    if not isinstance(ended, list) or not ended or len(ended) > MAX_ITEMS or not all(
        isinstance(i, str) and _SILENCE_ID.match(i) for i in ended
    ):
        raise PayloadError("ended: expected a list of silence ids")
    return set(ended), _slack_id(data, "by", optional=True)


class Handoff:
    """Decided or applied here when this replica runs the loops (or cannot pass things on: no
    `ha:`, no address), else passed on to the one that does."""

    def __init__(
        self,
        key: Secret | None,
        actions: re.Pattern[str],
        *,
        running: Callable[[], bool],
        decide: Callable[[ButtonClick], Awaitable[None]],
        notify: Callable[[str, str, Text], Awaitable[None]],
        note_silences: Callable[[SilencesMade], Awaitable[None]],
        end_silences: Callable[[set[str], str], Awaitable[None]],
    ) -> None:
        self._key = key
        self._actions = actions
        self._running = running
        self._decide = decide
        self._notify = notify
        self._note_silences = note_silences
        self._end_silences = end_silences
        self.relay: Relay | None = None
        """How this replica reaches the one running the loops (set with the routes)."""

    @property
    def passing_on(self) -> bool:
        """Whether what the loops apply is passed on from here (else applied here)."""
        return not self._running() and self.relay is not None and self._key is not None

    async def pass_on(self, path: str, document: Mapping[str, Any]) -> str | None:
        """None once the replica running the loops took it (or it is applied here: this replica
        leads and its loops are starting); else why it could not be passed on."""
        if not self.passing_on or self.relay is None or self._key is None:
            return None
        body, headers = signed_request(document, self._key, time.time())
        answer = await self.relay(path, body, headers)
        if answer is None or (isinstance(answer, tuple) and answer[0] == 200):
            return None
        why = answer if isinstance(answer, str) else f"it answered HTTP {answer[0]}"
        log.warning("handoff_failed", path=path, why=why[:200])
        return why

    async def click(self, click: ButtonClick) -> None:
        """A replica's `on_click` for Approve / Reject."""
        if not self.passing_on:
            await self._decide(click)
            return
        why = await self.pass_on(CLICK_PATH, click_document(click))
        if why is not None:
            text = Text(
                "Nothing was changed: the opsbot replica running Alertmanager could not take this "
                f"click ({why}). Try again in a moment."
            )
            await self._notify(click.channel_id, click.user_id, text)

    def routes(self, refusals: Refusals) -> list[tuple[str, str, Handler]]:
        """The internal routes other replicas pass things on to (none without the key)."""
        key = self._key
        if key is None:
            return []

        def verified(request: web.Request, body: bytes) -> str | None:
            headers = {name.lower(): value for name, value in request.headers.items()}
            return verify(key.reveal(), headers, body, time.time())

        async def click(data: Any) -> None:
            await self._decide(parse_click(data, self._actions))

        async def silences(data: Any) -> None:
            if "ended" in _object(data):
                await self._end_silences(*parse_ended(data))
            else:
                await self._note_silences(SilencesMade(data))

        return [
            ("POST", CLICK_PATH, handoff_handler(verified, self._running, click, refusals)),
            ("POST", SILENCES_PATH, handoff_handler(verified, self._running, silences, refusals)),
        ]
