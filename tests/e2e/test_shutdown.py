"""SIGTERM while a command is running: the command is answered, then opsbot exits 0."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import yaml
from structlog.testing import capture_logs

from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import CHANNEL, BotHarness, block_text
from tests.support.polling import until
from tests.support.process import start_opsbot
from tests.support.slack_emulator import SlackEmulator

SLOW_LIST = r"^/api/v1/namespaces/web/pods$"


async def test_sigterm_during_a_command_finishes_it_and_exits_0(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
                "alerts": {"enabled": False},
                # A command in flight when SIGTERM comes: a live (slowed) list, not the cache's answer.
                "watch": {"cache": False},
                "store": {"path": str(tmp_path / "opsbot.db")},
                "health": {"enabled": False},
            }
        )
    )
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=2)
    process = await start_opsbot(slack, config, capture_stderr=True)
    try:
        await slack.wait_connected(1, timeout=30)
        kube.delay(SLOW_LIST, 1.5)
        sent = await slack.mention("U0ALICE01", CHANNEL, "pods -n web")
        await asyncio.to_thread(
            kube.wait_for, lambda: any(r.path.endswith("/namespaces/web/pods") for r in kube.requests), 15
        )
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        reply = await slack.wait_for_post(thread_ts=sent.ts, timeout=15)
        answered = time.monotonic()
        code = await asyncio.wait_for(process.wait(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert "api-" in block_text(reply), "the in-flight command was answered in full"
    assert answered > signalled
    assert process.stderr is not None
    events = [
        json.loads(line).get("event")
        for line in (await process.stderr.read()).decode().splitlines()
        if line.startswith("{")
    ]
    assert events.index("command") < events.index("stopped")


async def test_an_event_that_comes_while_stopping_is_left_unacked_and_answered_when_slack_sends_it_again(
    harness: BotHarness,
) -> None:
    """Neither acked nor marked as seen: Slack's retry reaches a replica that answers it."""
    slack, bot = harness.slack, harness.bot
    bot.frontend.accepting = False  # what stop() does first
    with capture_logs() as logs:
        sent = await harness.mention("pods -n web")
        await until(lambda: any(e["event"] == "event_left_unacked_shutting_down" for e in logs))
    await bot.idle()
    assert sent.envelope_id not in slack.acks
    bot.frontend.accepting = True  # another replica, as far as the store is concerned
    retry = await slack.redeliver(sent)
    reply = await slack.wait_for_post(thread_ts=sent.ts, method="chat.postMessage", timeout=10)
    assert "namespace `web`" in block_text(reply) and "No pods." in block_text(reply)
    await slack.wait_for_ack(retry.envelope_id)


class SlowSeen:
    """The shared de-duplication store, answering only when the test says (Redis under load)."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    async def first_seen(self, key: str, ttl: float) -> bool:
        self.asked.set()
        await self.answer.wait()
        return True


async def test_an_event_acked_before_the_stop_is_answered_even_if_its_check_ends_after(
    harness: BotHarness,
) -> None:
    """The listener began while accepting (the event was acked) and was still asking the store
    whether the event is new when the stop came: the stop waits for it, and it is answered."""
    slack, bot = harness.slack, harness.bot
    seen = SlowSeen()
    bot.frontend._seen = seen  # in production: SharedSeenKeys on Redis
    sent = await harness.mention("pods -n web")
    await seen.asked.wait()
    draining = asyncio.create_task(bot.frontend.drain(timeout=10))  # what stop() does
    await asyncio.sleep(0)
    assert not draining.done(), "the stop waits for the listener still checking its event"
    seen.answer.set()
    reply = await slack.wait_for_post(thread_ts=sent.ts, method="chat.postMessage", timeout=10)
    assert "namespace `web`" in block_text(reply)
    assert await draining is True
