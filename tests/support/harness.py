"""Start the real bot against the Slack emulator and the fake API server.

`BotHarness.ask` holds one exchange of a conversation: it mentions the bot and
awaits the bot's first answer in the thread of that mention.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsbot.alertmanager.secrets import AlertmanagerSecrets
from opsbot.app import Bot, Options, build_bot
from opsbot.config import Secrets, Settings, parse_settings
from opsbot.ports import Clock
from opsbot.telemetry import Telemetry
from tests.support.fake_kube import FakeKubeServer
from tests.support.slack_emulator import Post, Sent, SlackEmulator
from tests.support.slack_fixtures import settled

CHANNEL = "C0OPS0001"
ALICE = "U0ALICE01"
BOB = "U0BOB0001"
ALERTS = "C0ALERTS01"


def make_settings(kubeconfig: Path, **overrides: Any) -> Settings:
    data = base_config(kubeconfig, kubeconfig.parent / "opsbot.db")
    data.update(overrides)
    return parse_settings(data)


def base_config(kubeconfig: Path, store_path: Path) -> dict[str, Any]:
    """The tests' config as data: one cluster on the fake API server, fast pacing, grants."""
    return {
        "clusters": {
            "test": {"kubeconfig": str(kubeconfig), "context": "fake", "request_timeout_seconds": 3}
        },
        "default_cluster": "test",
        "default_namespace": "default",
        # Fast pacing so conversations are quick; pacing itself has its own tests.
        "outbox": {"per_channel_per_second": 50, "burst": 20},
        # Command tests see only their own API requests (no watches): alert tests turn alerts
        # on, cache tests the command cache.
        "alerts": {"enabled": False, "default_channel": ALERTS},
        "watch": {"cache": False},
        "store": {"path": str(store_path)},
        # Tests run many bots at once: any free loopback port.
        "health": {"host": "127.0.0.1", "port": 0},
        # Mutating commands need a grant (secure default): Alice is an admin, Bob an
        # operator, and everyone in the ops channel may read.
        "policy": {
            "bindings": [
                {"role": "admin", "users": [ALICE]},
                {"role": "operator", "users": [BOB]},
                {"role": "viewer", "channels": [CHANNEL]},
            ],
            "rate_limit": {"commands_per_minute": 600, "burst": 50},
        },
    }


class ShiftedClock:
    """The wall clock, moved forward on demand: a test skips a 5-minute threshold without
    waiting 5 minutes (the bot's ticker sees the new time at its next tick)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class BotHarness:
    slack: SlackEmulator
    kube: FakeKubeServer
    bot: Bot
    sent: list[Sent] = field(default_factory=list)

    async def mention(
        self, text: str, *, channel: str = CHANNEL, user: str = ALICE, thread_ts: str | None = None
    ) -> Sent:
        sent = await self.slack.mention(user, channel, text, thread_ts=thread_ts)
        self.sent.append(sent)
        return sent

    async def ask(
        self,
        text: str,
        *,
        channel: str = CHANNEL,
        user: str = ALICE,
        thread_ts: str | None = None,
        timeout: float = 10.0,
    ) -> Post:
        """Mention the bot and return its first reply in the request's thread."""
        before = len(self.slack.posts)
        sent = await self.mention(text, channel=channel, user=user, thread_ts=thread_ts)
        return await self.slack.wait_for_post(
            channel=channel,
            thread_ts=thread_ts or sent.ts,
            method="chat.postMessage",
            after=before,
            timeout=timeout,
        )

    async def settle(self, timeout: float = 15.0) -> None:
        """Until Slack has delivered everything and the bot has finished handling it,
        replies included; AssertionError after `timeout`. Await before asserting that
        something did NOT happen."""
        await settled(self.slack, self.bot.idle, timeout)

    async def click_button(self, card: Post, action_id: str, *, user: str = ALICE) -> None:
        """Click the card's button `action_id` as `user`, as Slack would send it."""
        await click_card(self.slack, card, action_id, user=user)


async def click_card(
    slack: SlackEmulator, card: Post, action_id: str, *, user: str = ALICE, only: int | None = None
) -> Sent:
    """Click the card's button `action_id` as `user`, as Slack would send it; `only`: the one
    Socket Mode connection (replica) the click is delivered to."""
    return await slack.click(
        user,
        channel=card.channel,
        message_ts=card.ts,
        action_id=action_id,
        value=button_value(card, action_id),
        thread_ts=card.thread_ts,
        avoid=set(slack.connection_ids) - {only} if only is not None else (),
    )


def crashloop_root_titles(slack: SlackEmulator) -> list[str]:
    """The texts of the crash-loop incidents' root messages in the alerts channel (storm tests)."""
    return [
        p.text
        for p in slack.posts
        if p.method == "chat.postMessage"
        and p.channel == ALERTS
        and p.thread_ts is None
        and "CrashLoopBackOff" in p.text
    ]


def block_text(post: Post) -> str:
    """Everything a person would read in a message: fallback text and every block's text."""
    return message_text(post.text, post.blocks)


def message_text(text: str, blocks: Any) -> str:
    """The fallback text and every `text` string inside the blocks, one per line."""
    parts = [text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(parts)


def button_value(post: Post, action_id: str) -> str:
    for block in post.blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no button {action_id} in {post.blocks}")


@asynccontextmanager
async def running_bot(
    slack: SlackEmulator,
    kube: FakeKubeServer,
    settings: Settings,
    *,
    alert_flush_interval: float = 2.0,
    approval_sweep_interval: float = 15.0,
    ping_interval: float = 10.0,
    telemetry: Telemetry | None = None,
    alertmanager_secrets: AlertmanagerSecrets | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Bot]:
    secrets = Secrets(bot_token=slack.bot_token, app_token=slack.app_token, slack_api_url=slack.base_url)
    options = Options(
        alert_flush_interval=alert_flush_interval,
        approval_sweep_interval=approval_sweep_interval,
        ping_interval=ping_interval,
        telemetry=telemetry,
        alertmanager_secrets=alertmanager_secrets,
        clock=clock,
    )
    bot = build_bot(settings, secrets, options)
    expected = slack.hello_count + 1
    await bot.start()
    try:
        await slack.wait_connected(expected)
        yield bot
    finally:
        await asyncio.wait_for(bot.stop(grace=5), timeout=15)
