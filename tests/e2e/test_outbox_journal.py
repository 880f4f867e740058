"""Messages still unsent at shutdown are journaled in the store and sent after the next start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from opsbot.app import build_bot
from opsbot.config import Secrets
from opsbot.slack.outbox import REPLAY_MAX_AGE_SECONDS, Outbox, OutboxClosedError
from opsbot.slack.settings import OutboxSettings
from opsbot.store.sqlite import SqliteStore
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALICE, block_text, make_settings, running_bot
from tests.support.harness import CHANNEL as HARNESS_CHANNEL
from tests.support.polling import until
from tests.support.slack_emulator import SlackEmulator

CHANNEL = "C0OPS0001"


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "opsbot.db")
    yield opened
    opened.close()


def outbox_for(slack: SlackEmulator, store: SqliteStore, **settings: Any) -> Outbox:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
    return Outbox(client, OutboxSettings(**settings), journal=store)


def posted_texts(slack: SlackEmulator) -> list[str]:
    return [p.text for p in slack.posts if p.method == "chat.postMessage"]


async def test_a_backlog_left_at_shutdown_is_sent_in_order_after_the_next_start(
    slack: SlackEmulator, store: SqliteStore
) -> None:
    first = outbox_for(slack, store, per_channel_per_second=0.5, burst=1)
    sends = [
        asyncio.create_task(first.post(CHANNEL, text=f"reply {n}", thread_ts="1700000000.000100"))
        for n in range(4)
    ]
    await slack.wait_for_post(lambda p: p.text == "reply 0")
    await first.close(timeout=0.1)
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert [isinstance(r, OutboxClosedError) for r in results] == [False, True, True, True]
    assert posted_texts(slack) == ["reply 0"]

    second = outbox_for(slack, store, per_channel_per_second=50, burst=10)
    assert await second.replay() == 3
    await slack.wait_for_post(lambda p: p.text == "reply 3")
    assert posted_texts(slack) == ["reply 0", "reply 1", "reply 2", "reply 3"]
    assert {p.thread_ts for p in slack.posts} == {"1700000000.000100"}
    await second.close()
    assert await store.take_unsent() == [], "replayed messages leave the journal"


async def test_a_message_retrying_while_slack_is_down_survives_the_restart(
    slack: SlackEmulator, store: SqliteStore
) -> None:
    slack.fail_next("chat.postMessage", status=500, error="internal_error", retry_after=None, times=1)
    first = outbox_for(slack, store)
    send = asyncio.create_task(first.post(CHANNEL, text="the answer", blocks=[{"type": "divider"}]))
    await until(lambda: first.errors.get("chat.postMessage", 0) >= 1)
    await first.close(timeout=0.1)
    assert isinstance((await asyncio.gather(send, return_exceptions=True))[0], OutboxClosedError)

    second = outbox_for(slack, store)
    assert await second.replay() == 1
    post = await slack.wait_for_post(lambda p: p.text == "the answer")
    assert post.blocks == [{"type": "divider"}]
    await second.close()


async def test_messages_others_recreate_and_stale_ones_are_not_replayed(
    slack: SlackEmulator, store: SqliteStore
) -> None:
    first = outbox_for(slack, store, per_channel_per_second=0.5, burst=1)
    sends = [
        asyncio.create_task(first.post(CHANNEL, text="first")),
        asyncio.create_task(first.post(CHANNEL, text="incident root", durable=False)),
    ]
    await slack.wait_for_post(lambda p: p.text == "first")
    await first.close(timeout=0.1)
    await asyncio.gather(*sends, return_exceptions=True)
    assert await store.take_unsent() == []

    await store.save_unsent(
        [
            {
                "method": "chat.postMessage",
                "args": {"channel": CHANNEL, "text": "hours late"},
                "saved_at": time.time() - REPLAY_MAX_AGE_SECONDS - 1,
            },
            {"method": "files.delete", "args": {"channel": CHANNEL}, "saved_at": time.time()},
        ]
    )
    second = outbox_for(slack, store)
    assert await second.replay() == 0
    await second.close()
    assert posted_texts(slack) == ["first"]


async def test_replies_queued_when_the_bot_stops_arrive_in_their_threads_after_the_restart(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    # One message per 20 s: the second and third replies are still queued at shutdown.
    slow = make_settings(kubeconfig, outbox={"per_channel_per_second": 0.05, "burst": 1})
    secrets = Secrets(bot_token=slack.bot_token, app_token=slack.app_token, slack_api_url=slack.base_url)
    first = build_bot(slow, secrets)
    await first.start()
    try:
        await slack.wait_connected(1)
        sents = [await slack.mention(ALICE, HARNESS_CHANNEL, "help") for _ in range(3)]
        await slack.wait_for_post(thread_ts=sents[0].ts)
        await until(lambda: first.outbox.pending(HARNESS_CHANNEL) == 2)
    finally:
        await first.stop(grace=0.5)
    assert [p.thread_ts for p in slack.posts if p.method == "chat.postMessage"] == [sents[0].ts]

    async with running_bot(slack, kube, make_settings(kubeconfig)):
        for sent in sents[1:]:
            reply = await slack.wait_for_post(thread_ts=sent.ts, timeout=10)
            assert "opsbot commands" in block_text(reply)
    assert len([p for p in slack.posts if p.method == "chat.postMessage"]) == 3
