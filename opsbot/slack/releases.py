"""Where a release's progress shows in Slack: a status message in the conversation's thread,
updated in place, the approval card (its last line), and the final message in the thread."""

from __future__ import annotations

from dataclasses import replace

import structlog

from opsbot.approvals.cards import approval_card
from opsbot.approvals.service import ApprovalService
from opsbot.core.reply import Reply, Text
from opsbot.releases.records import Release
from opsbot.slack.outbox import Outbox
from opsbot.slack.render import mrkdwn, render

log = structlog.get_logger("opsbot.slack")


class SlackReleaseNotices:
    """`opsbot.releases.notices.ReleaseNotices` over the outbox.

    The live status goes on the approval card (updated in place: Slack paces posts per
    channel, not updates); without a card (a private slash-command request) it is a
    status message in the thread, posted once and then updated. How it ended is a new
    message in the thread, sent first, so the one message people wait for is not queued
    behind the status.
    """

    def __init__(self, outbox: Outbox, approvals: ApprovalService | None = None) -> None:
        self._outbox = outbox
        self._approvals = approvals

    async def progress(self, release: Release, status: Text) -> str | None:
        if not release.channel:
            return None
        if await self._card(release, status):
            return None
        text = mrkdwn(status)
        if release.status_message:
            await self._outbox.update(release.channel, release.status_message, text=text)
            return release.status_message
        result = await self._outbox.post(release.channel, text=text, thread_ts=release.thread)
        ts = result.get("ts")
        return ts if isinstance(ts, str) else None

    async def finished(self, release: Release, reply: Reply, status: Text) -> None:
        if not release.channel:
            return
        rendered = render(reply)
        await self._outbox.post(
            release.channel,
            text=rendered.text,
            blocks=rendered.blocks,
            thread_ts=release.thread or release.status_message,
        )
        await self._card(release, status)
        if release.status_message:
            await self._outbox.update(release.channel, release.status_message, text=mrkdwn(status))

    async def _card(self, release: Release, status: Text) -> bool:
        """The approval card ends with the release's live status; False when there is no card."""
        if self._approvals is None or not release.card or not release.approval_id:
            return False
        approval = await self._approvals.get(release.approval_id)
        if approval is None:
            return False
        card = approval_card(approval)
        rendered = render(replace(card, parts=(*card.parts, status)))
        try:
            await self._outbox.update(
                release.channel, release.card, text=rendered.text, blocks=rendered.blocks
            )
        except Exception as exc:
            log.info("release_card_not_updated", release_id=release.id, error=repr(exc))
            return False
        return True
