"""The internal HTTP port: /healthz, /readyz and /metrics against the running bot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from opsbot.app import Bot
from opsbot.health import readiness_problems
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import ALERTS, BotHarness, make_settings, running_bot
from tests.support.slack_emulator import SlackEmulator


async def get(bot: Bot, path: str) -> tuple[int, str]:
    assert bot.health is not None and bot.health.port
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{bot.health.port}{path}") as response,
    ):
        return response.status, await response.text()


async def wait_for_status(bot: Bot, path: str, status: int, timeout: float = 10.0) -> str:
    """Poll `path` until it answers `status`; return that answer's body."""
    last: tuple[int, str] = (0, "")
    for _ in range(int(timeout / 0.05)):
        last = await get(bot, path)
        if last[0] == status:
            return last[1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} stayed {last[0]} ({last[1]!r}), expected {status}")


def metric_value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {sample} in:\n{text}")


async def test_healthz_answers_and_metrics_count_commands(harness: BotHarness) -> None:
    status, body = await get(harness.bot, "/healthz")
    assert status == 200 and '"ok"' in body
    await harness.ask("help")
    status, text = await get(harness.bot, "/metrics")
    assert status == 200
    assert metric_value(text, 'opsbot_commands_total{command="help",outcome="ok"}') == 1.0
    assert metric_value(text, 'opsbot_command_duration_seconds_count{command="help"}') == 1.0
    assert metric_value(text, "opsbot_outbox_depth") == 0.0
    assert metric_value(text, "opsbot_outbox_oldest_age_seconds") == 0.0
    assert metric_value(text, 'opsbot_slack_api_calls_total{method="chat.postMessage"}') >= 1.0
    assert metric_value(text, "opsbot_slack_api_rate_limited_total") == 0.0
    assert metric_value(text, "opsbot_socket_mode_connected") == 1.0
    assert metric_value(text, "opsbot_socket_mode_reconnects_total") == 0.0
    # Alerts are off in this harness: no alert or watch series.
    assert "opsbot_open_incidents" not in text


async def test_readyz_follows_the_slack_link_and_the_watches(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    alerts: dict[str, Any] = {"enabled": True, "default_channel": ALERTS}
    settings = make_settings(kubeconfig, alerts=alerts)
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2, ping_interval=0.2) as bot:
        await wait_for_status(bot, "/readyz", 200)
        status, text = await get(bot, "/metrics")
        assert status == 200
        assert metric_value(text, "opsbot_alert_events_processed_total") >= 1.0
        assert metric_value(text, 'opsbot_open_incidents{kind="CrashLoopBackOff"}') == 0.0
        assert metric_value(text, 'opsbot_alert_findings_total{kind="OOMKilled"}') == 0.0
        assert metric_value(text, 'opsbot_incidents_opened_total{kind="ImagePullBackOff"}') == 0.0
        assert 'opsbot_watch_synced{cluster="test",namespace="",resource="pods"} 1.0' in text
        assert "opsbot_watch_restarts_total{" in text and "opsbot_watch_gone_total{" in text
        assert "# TYPE opsbot_watch_last_event_age_seconds gauge" in text

        # The link drops and cannot come back: not ready, and the body says why.
        connections = slack.hello_count
        slack.disable_connections()
        await slack.close_connections()
        body = await wait_for_status(bot, "/readyz", 503)
        assert "Socket Mode" in body
        status, _ = await get(bot, "/healthz")
        assert status == 200  # alive all the same: a restart would not help

        slack.enable_connections()
        await slack.wait_connected(connections + 1)
        await wait_for_status(bot, "/readyz", 200)
        _, text = await get(bot, "/metrics")
        assert metric_value(text, "opsbot_socket_mode_reconnects_total") >= 1.0
        assert metric_value(text, "opsbot_socket_mode_connected") == 1.0


async def test_metrics_move_when_an_alert_fires(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    alerts: dict[str, Any] = {"enabled": True, "default_channel": ALERTS, "enrichment_log_lines": 0}
    async with running_bot(slack, kube, make_settings(kubeconfig, alerts=alerts), alert_flush_interval=0.2) as bot:
        await wait_for_status(bot, "/readyz", 200)
        _, before = await get(bot, "/metrics")
        (pod,) = kube.list("pods", "web")
        kube.apply_status("pods", "web", pod["metadata"]["name"], builders.crashloop_status(pod, restarts=3))
        await slack.wait_for_post(lambda p: p.channel == ALERTS and "CrashLoopBackOff" in p.text, timeout=10)
        _, after = await get(bot, "/metrics")
        assert metric_value(after, 'opsbot_alert_findings_total{kind="CrashLoopBackOff"}') >= 1.0
        assert metric_value(after, 'opsbot_incidents_opened_total{kind="CrashLoopBackOff"}') == 1.0
        assert metric_value(after, 'opsbot_open_incidents{kind="CrashLoopBackOff"}') == 1.0
        processed = "opsbot_alert_events_processed_total"
        assert metric_value(after, processed) > metric_value(before, processed)
        assert metric_value(after, 'opsbot_slack_api_calls_total{method="chat.postMessage"}') >= 1.0


async def test_readyz_waits_for_the_watches_to_sync(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    alerts: dict[str, Any] = {"enabled": True, "default_channel": ALERTS}
    async with running_bot(slack, kube, make_settings(kubeconfig, alerts=alerts)) as bot:
        assert bot.watches is not None
        await wait_for_status(bot, "/readyz", 200)
        # Pretend one watch never listed: readiness names it.
        real = bot.watches.health()
        first = real[0]
        unsynced = type(first)(**{**first.__dict__, "synced": False, "state": "listing"})
        bot.watches.health = lambda: [unsynced, *real[1:]]  # type: ignore[method-assign]
        status, body = await get(bot, "/readyz")
        assert status == 503 and "has not synced" in body
        assert any("has not synced" in reason for reason in await readiness_problems(bot.status))
        # A forbidden watch never syncs and does not hold readiness back.
        forbidden = type(first)(**{**first.__dict__, "synced": False, "state": "forbidden"})
        bot.watches.health = lambda: [forbidden, *real[1:]]  # type: ignore[method-assign]
        await wait_for_status(bot, "/readyz", 200)


async def test_the_port_can_be_disabled(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path) -> None:
    settings = make_settings(kubeconfig, health={"enabled": False})
    async with running_bot(slack, kube, settings) as bot:
        assert bot.health is None
        assert await bot.connected()
