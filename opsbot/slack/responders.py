"""Where answers go in Slack: the request's thread, an ephemeral reply, an approval's card."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_sdk.webhook.async_client import AsyncWebhookClient

from opsbot.approvals.cards import approval_card
from opsbot.approvals.machine import Approval
from opsbot.core.reply import Emphasis, Reply, Text
from opsbot.slack.outbox import Outbox
from opsbot.slack.render import mrkdwn, render

Respond = Callable[..., Awaitable[Any]]


class Responder(Protocol):
    """Where the answer to one request goes."""

    async def send(self, reply: Reply) -> str | None: ...


class ThreadResponder:
    """Mentions and DMs: answer in the thread of the request, through the outbox."""

    def __init__(self, outbox: Outbox, channel: str, thread_ts: str | None) -> None:
        self._outbox = outbox
        self._channel = channel
        self._thread_ts = thread_ts

    async def send(self, reply: Reply) -> str | None:
        rendered = render(reply)
        result = await self._outbox.post(
            self._channel, text=rendered.text, blocks=rendered.blocks, thread_ts=self._thread_ts
        )
        if reply.attachment is not None:
            await self._outbox.upload(
                self._channel,
                content=reply.attachment.content,
                filename=reply.attachment.filename,
                title=reply.attachment.title,
                thread_ts=self._thread_ts or result.get("ts"),
            )
        ts = result.get("ts")
        return ts if isinstance(ts, str) else None


class EphemeralResponder:
    """Slash commands: only the caller sees the answer (via response_url)."""

    def __init__(self, respond: Respond, response_url: str | None = None) -> None:
        self._respond = respond
        self.response_url = response_url

    async def send(self, reply: Reply) -> str | None:
        if reply.attachment is not None:
            note = Text(
                Emphasis(
                    "The full output is too long for a private reply; "
                    "mention @opsbot in a channel to get it as a file."
                )
            )
            reply = Reply(
                reply.title, (*reply.parts, note), reply.where, reply.tone, reply.attachment, reply.buttons
            )
        rendered = render(reply)
        await self._respond(
            text=rendered.text, blocks=rendered.blocks, response_type="ephemeral", replace_original=False
        )
        return None


class CardSurface:
    """Shows an approval: its card, private notices, its thread."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        respond: Respond | None = None,
        ephemeral_card: bool = False,
        clicked_channel: str | None = None,
        clicked_message_ts: str | None = None,
    ) -> None:
        self._outbox = outbox
        self._respond = respond
        self._ephemeral_card = ephemeral_card
        self._clicked_channel = clicked_channel
        self._clicked_message_ts = clicked_message_ts

    async def update_card(self, approval: Approval) -> None:
        rendered = render(approval_card(approval))
        if self._ephemeral_card and self._respond is not None:
            await self._respond(text=rendered.text, blocks=rendered.blocks, replace_original=True)
        elif approval.card or self._clicked_message_ts:
            # A click can arrive before the card's ts is recorded; Slack says which message it was.
            ts = approval.card or self._clicked_message_ts
            assert ts is not None
            await self._outbox.update(approval.channel, ts, text=rendered.text, blocks=rendered.blocks)
        elif approval.response_url:
            await AsyncWebhookClient(approval.response_url).send(
                text=rendered.text, blocks=rendered.blocks, replace_original=True
            )

    async def notify(self, user: str, text: Text) -> None:
        message = mrkdwn(text)
        if self._respond is not None and self._ephemeral_card:
            await self._respond(text=message, response_type="ephemeral", replace_original=False)
            return
        channel = self._clicked_channel
        if channel:
            await self._outbox.ephemeral(channel, user, text=message)

    async def tell_thread(self, approval: Approval, text: Text) -> None:
        message = mrkdwn(text)
        if self._ephemeral_card and self._respond is not None:
            await self._respond(text=message, response_type="ephemeral", replace_original=False)
            return
        if not approval.card and approval.response_url:
            # The card was private: so is everything said about it.
            await AsyncWebhookClient(approval.response_url).send(
                text=message, response_type="ephemeral", replace_original=False
            )
            return
        thread = approval.thread or approval.card or self._clicked_message_ts
        await self._outbox.post(approval.channel, text=message, thread_ts=thread)
