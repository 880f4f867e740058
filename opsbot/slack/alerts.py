"""AlertPublisher for Slack: incidents rendered with Block Kit, sent through the outbox
at alert priority (command replies go first)."""

from __future__ import annotations

from datetime import UTC, datetime

from opsbot.alerts.cards import digest_card, enrichment_reply, incident_card
from opsbot.alerts.incidents import Incident
from opsbot.alerts.service import Enrichment
from opsbot.slack.outbox import Outbox, Priority
from opsbot.slack.render import render


class SlackAlertPublisher:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def backlog(self, channel: str) -> int:
        return self._outbox.pending(channel)

    async def post_root(self, incident: Incident) -> str | None:
        rendered = render(incident_card(incident))
        result = await self._outbox.post(
            incident.channel, text=rendered.text, blocks=rendered.blocks, priority=Priority.ALERT
        )
        ts = result.get("ts")
        return ts if isinstance(ts, str) else None

    async def update_root(self, incident: Incident) -> None:
        if not incident.root_ts:
            return
        rendered = render(incident_card(incident))
        await self._outbox.update(
            incident.channel, incident.root_ts, text=rendered.text, blocks=rendered.blocks
        )

    async def reply(self, incident: Incident, text: str) -> None:
        await self._outbox.post(
            incident.channel, text=text, thread_ts=incident.root_ts, priority=Priority.ALERT
        )

    async def post_enrichment(self, incident: Incident, enrichment: Enrichment) -> None:
        container = incident.affected[0].container if incident.affected else None
        reply = enrichment_reply(
            incident,
            container,
            enrichment.log_lines,
            enrichment.log_note,
            enrichment.events,
            datetime.now(UTC),
        )
        rendered = render(reply)
        await self._outbox.post(
            incident.channel,
            text=rendered.text,
            blocks=rendered.blocks,
            thread_ts=incident.root_ts,
            priority=Priority.ALERT,
        )

    async def post_digest(self, channel: str, incidents: list[Incident]) -> str | None:
        rendered = render(digest_card(incidents))
        result = await self._outbox.post(
            channel, text=rendered.text, blocks=rendered.blocks, priority=Priority.ALERT
        )
        ts = result.get("ts")
        return ts if isinstance(ts, str) else None

    async def update_digest(self, channel: str, ts: str, incidents: list[Incident]) -> None:
        rendered = render(digest_card(incidents))
        await self._outbox.update(channel, ts, text=rendered.text, blocks=rendered.blocks)
