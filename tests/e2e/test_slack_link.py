"""The link to Slack as an operator meets it: a bad token is one line and exit 2; Slack down at
start keeps the bot up and honest; a dropped websocket is reopened at once, losing no command."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from opsbot.app import Options, build_bot
from opsbot.config import Secrets
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import BotHarness, block_text, make_settings, running_bot
from tests.support.process import ROOT, slack_environment
from tests.support.slack_emulator import SlackEmulator


def write_config(tmp_path: Path, kubeconfig: Path) -> Path:
    config = tmp_path / "config.yaml"
    settings = {
        "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
        "alerts": {"enabled": False},
        "store": {"path": str(tmp_path / "opsbot.db")},
        "health": {"host": "127.0.0.1", "port": 0},
    }
    config.write_text(yaml.safe_dump(settings))
    return config


async def run_to_exit(slack: SlackEmulator, config: Path, **env: str) -> tuple[int, str]:
    environment = {**slack_environment(slack), **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsbot", "run", "--config", str(config),
        cwd=ROOT, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_a_rejected_bot_token_is_one_line_and_exit_2(
    slack: SlackEmulator, kubeconfig: Path, tmp_path: Path
) -> None:
    code, err = await run_to_exit(slack, write_config(tmp_path, kubeconfig), SLACK_BOT_TOKEN="xoxb-wrong")
    assert code == 2
    assert "opsbot: SLACK_BOT_TOKEN is not valid" in err
    assert "Traceback" not in err and "xoxb-wrong" not in err
    assert slack.hello_count == 0


async def test_a_revoked_app_token_is_one_line_and_exit_2(
    slack: SlackEmulator, kubeconfig: Path, tmp_path: Path
) -> None:
    slack.disable_connections("token_revoked")
    code, err = await run_to_exit(slack, write_config(tmp_path, kubeconfig))
    assert code == 2
    assert "opsbot: SLACK_APP_TOKEN was revoked: reinstall the app" in err
    assert "Traceback" not in err


async def test_bolt_does_not_warn_about_an_unused_token(
    slack: SlackEmulator,
    kube: FakeKubeServer,
    kubeconfig: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a pod SLACK_BOT_TOKEN is set, and Bolt reads it on its own."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.bot_token)
    async with running_bot(slack, kube, make_settings(kubeconfig)):
        pass
    messages = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert not any("will be unused" in message for message in messages)


async def test_slack_failing_at_start_keeps_the_bot_up_and_says_why_until_it_connects(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """apps.connections.open answers 503 three times: the health port answers all along, /readyz
    names the failure, and the bot connects once Slack is back."""
    slack.fail_next("apps.connections.open", error="internal_error", status=503, retry_after=None, times=3)
    secrets = Secrets(bot_token=slack.bot_token, app_token=slack.app_token, slack_api_url=slack.base_url)
    bot = build_bot(make_settings(kubeconfig), secrets, Options())
    starting = asyncio.create_task(bot.start())
    try:
        # A second attempt is under way: the first failure is on record, the health port is up.
        await slack.wait_for_call("apps.connections.open")
        first = next(i for i, (method, _args) in enumerate(slack.calls) if method == "apps.connections.open")
        await slack.wait_for_call("apps.connections.open", after=first + 1)
        assert bot.health is not None and bot.health.port is not None
        url = f"http://127.0.0.1:{bot.health.port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/healthz") as alive:
                assert alive.status == 200
            async with session.get(url + "/readyz") as ready:
                body = await ready.text()
                assert ready.status == 503 and "Slack answered 503 internal_error" in body
        await asyncio.wait_for(starting, timeout=30)
        await slack.wait_connected(1)
        harness = BotHarness(slack, kube, bot)
        assert "Pods" in block_text(await harness.ask("pods"))
    finally:
        if not starting.done():
            starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await bot.stop(grace=5)


async def test_twenty_close_frames_each_reconnect_at_once_and_no_command_is_lost(harness: BotHarness) -> None:
    """Slack closes the websocket without a `disconnect` message; slack_sdk alone would notice at
    its next ping (10 s). Each reconnect must come well before that."""
    slack = harness.slack
    for _ in range(20):
        connections = slack.hello_count
        await slack.close_connections()
        await slack.wait_connected(connections + 1, timeout=2.5)
        reply = await harness.ask("help pods")
        assert "pods" in block_text(reply)
    assert harness.bot.link.reconnects == 20
