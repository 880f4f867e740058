"""A bot on Redis says on /metrics how its store calls go, and when Redis went away."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_health import get, metric_value, wait_for_status
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import BotHarness, make_settings, running_bot
from tests.support.redis_server import RedisServer, redis_server
from tests.support.slack_emulator import SlackEmulator

__all__ = ["redis_server"]

REDIS_URL = "OPSBOT_TEST_REDIS_URL"


async def test_metrics_show_store_calls_and_an_outage(
    slack: SlackEmulator,
    kube: FakeKubeServer,
    kubeconfig: Path,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REDIS_URL, redis_server.url)
    settings = make_settings(kubeconfig, store={"backend": "redis", "redis": {"url_env": REDIS_URL}})
    async with running_bot(slack, kube, settings) as bot:
        await BotHarness(slack, kube, bot).ask("help")
        _, text = await get(bot, "/metrics")
        assert metric_value(text, "opsbot_store_up") == 1.0
        # At start the bot took the outbox journal; the reply was paced in Redis.
        assert metric_value(text, 'opsbot_store_call_seconds_count{operation="take_unsent"}') == 1.0
        assert metric_value(text, 'opsbot_store_call_seconds_count{operation="pace"}') >= 1.0
        assert metric_value(text, 'opsbot_store_errors_total{kind="unavailable"}') == 0.0

        redis_server.stop()
        await wait_for_status(bot, "/readyz", 503)
        _, text = await get(bot, "/metrics")
        assert metric_value(text, "opsbot_store_up") == 0.0
        assert metric_value(text, 'opsbot_store_errors_total{kind="unavailable"}') >= 1.0


async def test_a_bot_on_sqlite_has_no_store_metrics(harness: BotHarness) -> None:
    _, text = await get(harness.bot, "/metrics")
    assert "opsbot_store_" not in text
    assert "opsbot_outbox_depth" in text  # the scrape itself worked
