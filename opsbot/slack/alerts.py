"""AlertPublisher for Slack: incidents rendered with Block Kit, sent through the outbox
at alert priority (command replies go first)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from opsbot.alerts.cards import incident_card
from opsbot.alerts.digests import digest_card
from opsbot.alerts.incidents import Incident
from opsbot.alerts.service import Enrichment
from opsbot.alerts.thread import enrichment_reply
from opsbot.core.reply import Reply, TextLike
from opsbot.errors import ChatError
from opsbot.slack.outbox import Outbox, OutboxClosedError, Priority
from opsbot.slack.render import mrkdwn, render

ROOT_EVENT_TYPE = "opsbot_incident"
CONTEXT_EVENT_TYPE = "opsbot_incident_context"

# What Slack or the network does to a call that is not opsbot's fault (the outbox has
# already retried what was worth retrying), and the outbox refusing work at shutdown.
_OPERATIONAL: tuple[type[Exception], ...] = (
    SlackApiError,
    SlackRequestError,
    aiohttp.ClientError,
    TimeoutError,
    ConnectionError,
    OutboxClosedError,
)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _operational(call: Callable[_P, Awaitable[_R]]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """Operational failures leave as ChatError: the alert pipeline logs them in one line and
    reports anything else as a bug."""

    @functools.wraps(call)
    async def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await call(*args, **kwargs)
        except _OPERATIONAL as exc:
            raise ChatError(f"Slack call failed: {exc}") from exc

    return wrapped


async def _plain_card(incident: Incident) -> Reply:
    return incident_card(incident)


class SlackAlertPublisher:
    def __init__(self, outbox: Outbox, client: AsyncWebClient) -> None:
        self._outbox = outbox
        self._client = client
        self.card: Callable[[Incident], Awaitable[Reply]] = _plain_card
        """How a root looks; a feature with incidents of its own (Alertmanager) puts its renderer here."""

    def backlog(self, channel: str) -> int:
        return self._outbox.pending(channel)

    @_operational
    async def post_root(self, incident: Incident) -> str | None:
        rendered = render(await self.card(incident))
        result = await self._outbox.post(
            incident.channel,
            text=rendered.text,
            blocks=rendered.blocks,
            priority=Priority.ALERT,
            # Lets a restarted bot recognise a root it posted but did not get to record.
            metadata={"event_type": ROOT_EVENT_TYPE, "event_payload": {"incident_id": incident.id}},
            # Not journaled at shutdown: the incident store re-posts a root it has no ts for.
            durable=False,
        )
        ts = result.get("ts")
        return ts if isinstance(ts, str) else None

    @_operational
    async def find_root(self, incident: Incident) -> str | None:
        """The ts of this incident's root if it is already in the channel, else None."""
        response = await self._client.conversations_history(
            channel=incident.channel,
            oldest=f"{incident.opened_at.timestamp() - 60:.6f}",
            limit=200,
            include_all_metadata=True,
        )
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == ROOT_EVENT_TYPE and payload.get("incident_id") == incident.id:
                ts = message.get("ts")
                return ts if isinstance(ts, str) else None
        return None

    @_operational
    async def update_root(self, incident: Incident) -> None:
        if not incident.root:
            return
        rendered = render(await self.card(incident))
        await self._outbox.update(incident.channel, incident.root, text=rendered.text, blocks=rendered.blocks)

    @_operational
    async def reply(self, incident: Incident, text: TextLike) -> None:
        """A line in the incident's thread (neutral text)."""
        await self._outbox.post(
            incident.channel, text=mrkdwn(text), thread_ts=incident.root, priority=Priority.ALERT
        )

    @_operational
    async def post_enrichment(self, incident: Incident, enrichment: Enrichment) -> str | None:
        rendered = render(enrichment_reply(incident, enrichment, datetime.now(UTC)))
        result = await self._outbox.post(
            incident.channel,
            text=rendered.text,
            blocks=rendered.blocks,
            thread_ts=incident.root,
            priority=Priority.ALERT,
            # Lets a restarted bot see that the thread already has its context.
            metadata={"event_type": CONTEXT_EVENT_TYPE, "event_payload": {"incident_id": incident.id}},
        )
        ts = result.get("ts")
        return ts if isinstance(ts, str) else None

    @_operational
    async def find_enrichment(self, incident: Incident) -> str | None:
        """The ts of the context reply in this incident's thread, if it is there already."""
        if not incident.root:
            return None
        response = await self._client.conversations_replies(
            channel=incident.channel, ts=incident.root, limit=200, include_all_metadata=True
        )
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == CONTEXT_EVENT_TYPE and payload.get("incident_id") == incident.id:
                ts = message.get("ts")
                return ts if isinstance(ts, str) else None
        return None

    @_operational
    async def post_digest(self, channel: str, folded: list[Incident], separate: list[Incident]) -> str | None:
        rendered = render(digest_card(folded, separate))
        result = await self._outbox.post(
            channel, text=rendered.text, blocks=rendered.blocks, priority=Priority.ALERT
        )
        ts = result.get("ts")
        return ts if isinstance(ts, str) else None

    @_operational
    async def update_digest(
        self, channel: str, ts: str, folded: list[Incident], separate: list[Incident]
    ) -> None:
        rendered = render(digest_card(folded, separate))
        await self._outbox.update(channel, ts, text=rendered.text, blocks=rendered.blocks)
