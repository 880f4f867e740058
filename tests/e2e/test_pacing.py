"""Slack's per-channel limit is respected by pacing, and 429s are honoured, not lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import BotHarness, block_text, make_settings, running_bot
from tests.support.slack_emulator import SlackEmulator


async def test_replies_in_one_channel_are_paced_under_slacks_limit(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    slack.enforce_rate_limit("chat.postMessage", per_second=4.0, burst=2)
    settings = make_settings(kubeconfig, outbox={"per_channel_per_second": 3.0, "burst": 2})
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        sents = await asyncio.gather(*(harness.mention("help") for _ in range(6)))
        for sent in sents:
            await slack.wait_for_post(thread_ts=sent.ts, timeout=10)
    assert slack.rate_limited == 0
    assert len([p for p in slack.posts if p.method == "chat.postMessage"]) == 6


async def test_a_429_is_retried_after_retry_after_and_the_reply_arrives(harness: BotHarness) -> None:
    harness.slack.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=1)
    reply = await harness.ask("help")
    assert "opsbot commands" in block_text(reply)
    assert harness.bot.outbox.rate_limited == 1


async def test_a_server_error_is_retried(harness: BotHarness) -> None:
    harness.slack.fail_next("chat.postMessage", status=500, error="internal_error", retry_after=None, times=2)
    reply = await harness.ask("help")
    assert "opsbot commands" in block_text(reply)
