"""The world of the Alertmanager tests: the real Alertmanager sending to the bot's receiver, a
downstream system for signals, the Slack emulator and the fake API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsbot.alertmanager.receiver import WEBHOOK_PATH
from opsbot.alertmanager.secrets import AlertmanagerSecrets, Secret
from opsbot.app import Bot
from opsbot.config import Settings
from tests.support.alertmanager import WEBHOOK_TOKEN, Alertmanager
from tests.support.downstream import SECRET, Downstream
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALERTS, BotHarness, block_text, make_settings, running_bot
from tests.support.loopback import free_port
from tests.support.slack_emulator import Post, SlackEmulator

STATUS_TOKEN = "status-token-0123456789abcdef"
RULES: list[dict[str, Any]] = [
    {
        "name": "scale-api",
        "match": {"alertname": "ApiSaturated"},
        "command": "scale deploy/{labels.deployment} 3",
    },
    {
        "name": "failover",
        "match": {"alertname": "DatabaseDown"},
        "signal": {"target": "deploybot", "action": "failover {labels.instance}"},
        "approvers_role": "operator",
    },
]


def secrets() -> AlertmanagerSecrets:
    return AlertmanagerSecrets(
        webhook_token=Secret(WEBHOOK_TOKEN),
        signal_secrets={"deploybot": Secret(SECRET)},
        status_tokens={"deploybot": Secret(STATUS_TOKEN)},
    )


def am_settings(
    kubeconfig: Path,
    health_port: int,
    am_url: str,
    downstream_url: str,
    alerts: dict[str, Any] | None = None,
    **alertmanager: Any,
) -> Settings:
    options: dict[str, Any] = {
        "enabled": True,
        "url": am_url,
        "reconcile_minutes": 1,
        "signal_targets": {
            "deploybot": {
                "url": downstream_url,
                "backoff_seconds": 0.05,
                "max_attempts": 4,
                "timeout_seconds": 2,
            }
        },
        "remediations": RULES,
    }
    for name, target in (alertmanager.pop("signal_targets", None) or {}).items():
        options["signal_targets"][name] = {
            **options["signal_targets"].get(name, {}),
            **target,
            "url": downstream_url,
        }
    options.update(alertmanager)
    return make_settings(
        kubeconfig,
        alerts={"enabled": True, "default_channel": ALERTS, "cooldown_minutes": 10, **(alerts or {})},
        health={"host": "127.0.0.1", "port": health_port},
        alertmanager=options,
    )


@dataclass
class AmWorld:
    slack: SlackEmulator
    kube: FakeKubeServer
    am: Alertmanager
    downstream: Downstream
    settings: Settings
    health_port: int
    harness: BotHarness | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def bot(self) -> Bot:
        assert self.harness is not None
        return self.harness.bot

    @property
    def receiver(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    @asynccontextmanager
    async def running(self, settings: Settings | None = None) -> AsyncIterator[BotHarness]:
        async with running_bot(
            self.slack,
            self.kube,
            settings or self.settings,
            alert_flush_interval=0.2,
            alertmanager_secrets=secrets(),
        ) as bot:
            self.harness = BotHarness(self.slack, self.kube, bot)
            # The reconcile at start ran: what fires from now on comes through notifications.
            service = bot.alertmanager
            assert service is not None
            await asyncio.wait_for(service.first_reconcile.wait(), 15)
            try:
                yield self.harness
            finally:
                self.harness = None

    def roots(self, channel: str = ALERTS) -> list[Post]:
        return [
            p
            for p in self.slack.posts
            if p.method == "chat.postMessage" and p.channel == channel and p.thread_ts is None
        ]

    async def root(self, text: str, channel: str = ALERTS, timeout: float = 20.0) -> Post:
        return await self.slack.wait_for_post(
            lambda p: p.thread_ts is None and text in block_text(p),
            channel=channel,
            method="chat.postMessage",
            timeout=timeout,
        )

    async def card(self, root: Post, text: str, timeout: float = 20.0) -> Post:
        """The root's newest version once it says `text` (its post or an update)."""
        if text in block_text(self.current(root)):
            return self.current(root)
        return await self.slack.wait_for_post(
            lambda p: p.ts == root.ts and text in block_text(p), method="chat.update", timeout=timeout
        )

    def current(self, root: Post) -> Post:
        versions = [
            p for p in self.slack.posts if p.ts == root.ts and p.method in ("chat.postMessage", "chat.update")
        ]
        return versions[-1]

    async def reply(self, root: Post, text: str, timeout: float = 20.0) -> Post:
        return await self.slack.wait_for_post(
            lambda p: text in block_text(p), thread_ts=root.ts, method="chat.postMessage", timeout=timeout
        )

    @staticmethod
    def buttons(post: Post) -> list[str]:
        return [e["action_id"] for b in post.blocks if b.get("type") == "actions" for e in b["elements"]]

    def thread(self, root: Post) -> list[str]:
        return [
            block_text(p)
            for p in self.slack.posts
            if p.thread_ts == root.ts and p.method == "chat.postMessage"
        ]


@asynccontextmanager
async def am_world(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path, **alertmanager: Any
) -> AsyncIterator[AmWorld]:
    health_port = free_port()
    downstream = await Downstream().start()
    am = Alertmanager(tmp_path, f"http://127.0.0.1:{health_port}{WEBHOOK_PATH}", **alertmanager.pop("am", {}))
    try:
        await am.start()
        alerts = alertmanager.pop("alerts", None)
        settings = am_settings(kubeconfig, health_port, am.url, downstream.url, alerts, **alertmanager)
        yield AmWorld(slack, kube, am, downstream, settings, health_port)
    finally:
        await am.stop()
        await downstream.stop()
