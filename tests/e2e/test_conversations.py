"""Whole conversations: the real bot, the Slack emulator and the fake API server."""

from __future__ import annotations

import asyncio

from tests.support.harness import ALICE, CHANNEL, BotHarness, block_text


async def test_mention_is_answered_in_a_new_thread_under_the_message(harness: BotHarness) -> None:
    sent = await harness.mention("help")
    reply = await harness.slack.wait_for_post(channel=CHANNEL, thread_ts=sent.ts)
    assert "opsbot commands" in block_text(reply)
    assert "pods" in block_text(reply) and "scale" in block_text(reply)
    # Every summary in full, however long (a table would cut them at its column width).
    for spec in harness.bot.router.registry.specs():
        assert spec.summary in block_text(reply), spec.name


async def test_mention_inside_a_thread_is_answered_in_that_thread(harness: BotHarness) -> None:
    root = await harness.mention("help")
    await harness.slack.wait_for_post(thread_ts=root.ts)
    reply = await harness.ask("help logs", thread_ts=root.ts)
    assert reply.thread_ts == root.ts
    assert "logs POD" in block_text(reply)


async def test_direct_message_is_answered_in_the_dm(harness: BotHarness) -> None:
    sent = await harness.slack.dm(ALICE, "help scale")
    reply = await harness.slack.wait_for_post(channel=sent.channel, method="chat.postMessage")
    assert "scale deploy/NAME REPLICAS" in block_text(reply)


async def test_slash_command_answers_only_the_caller(harness: BotHarness) -> None:
    await harness.slack.slash(ALICE, CHANNEL, "help")
    reply = await harness.slack.wait_for_post(method="response_url")
    assert reply.args.get("response_type") == "ephemeral"
    assert "opsbot commands" in block_text(reply)
    await harness.settle()
    assert not [p for p in harness.slack.posts if p.method == "chat.postMessage"]


async def test_redelivered_event_is_answered_once(harness: BotHarness) -> None:
    sent = await harness.mention("help")
    await harness.slack.wait_for_post(thread_ts=sent.ts)
    await harness.slack.redeliver(sent)
    await harness.settle()
    assert len([p for p in harness.slack.posts if p.thread_ts == sent.ts]) == 1


async def test_bot_ignores_its_own_and_other_bots_messages(harness: BotHarness) -> None:
    await harness.slack.message(None, "D0OTHER01", "pods", channel_type="im", bot_id="B0OTHERBOT")
    await harness.slack.message("U0OTHERBOT", "D0OTHER01", "pods", channel_type="im", subtype="bot_message")
    await harness.settle()
    assert harness.slack.posts == []


async def test_bot_replies_do_not_trigger_more_replies(harness: BotHarness) -> None:
    """The emulator echoes every bot post back as a message event, as Slack does."""
    sent = await harness.slack.dm(ALICE, "help")
    await harness.slack.wait_for_post(channel=sent.channel)
    await harness.settle()
    assert len(harness.slack.posts) == 1


async def test_reconnects_after_disconnect_and_answers_the_next_command(harness: BotHarness) -> None:
    hellos = harness.slack.hello_count
    await harness.slack.disconnect("refresh_requested")
    await harness.slack.wait_connected(hellos + 1)
    reply = await harness.ask("help")
    assert "opsbot commands" in block_text(reply)


async def test_commands_from_many_people_are_answered_concurrently(harness: BotHarness) -> None:
    sents = await asyncio.gather(*(harness.mention("help", user=f"U0PERSON{i:02d}") for i in range(10)))
    for sent in sents:
        reply = await harness.slack.wait_for_post(thread_ts=sent.ts)
        assert "opsbot commands" in block_text(reply)
