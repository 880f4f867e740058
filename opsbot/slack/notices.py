"""Small Slack services other features talk to through neutral calls: a private notice to one
person, and a link to a thread (chat.getPermalink, cached)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from opsbot.core.reply import Text
from opsbot.slack.outbox import Outbox
from opsbot.slack.render import mrkdwn

MAX_CACHED_LINKS = 5000


class SlackNotices:
    def __init__(self, outbox: Outbox, client: AsyncWebClient) -> None:
        self._outbox = outbox
        self._client = client
        self._links: dict[tuple[str, str], str] = {}

    async def notify(self, channel: str, user: str, text: Text) -> None:
        """Only `user` sees it, in `channel`."""
        if channel and user:
            await self._outbox.ephemeral(channel, user, text=mrkdwn(text))

    async def thread_link(self, channel: str, ts: str | None) -> str:
        """A link people can open: the message's permalink, or a description when Slack has none."""
        if not ts:
            return f"Slack channel {channel}"
        cached = self._links.get((channel, ts))
        if cached is not None:
            return cached
        try:
            response = await self._client.chat_getPermalink(channel=channel, message_ts=ts)
            link = str(response.get("permalink") or "")
        except (SlackApiError, SlackRequestError, OSError, TimeoutError):
            link = ""
        if not link:
            return f"Slack channel {channel}, thread {ts}"
        if len(self._links) > MAX_CACHED_LINKS:
            self._links.clear()
        self._links[(channel, ts)] = link
        return link
