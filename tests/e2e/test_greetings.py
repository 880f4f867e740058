"""Greetings start a conversation: a colleague's answer with the state of your cluster and app,
and buttons that run the next command in the same thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import ALICE, BOB, CHANNEL, BotHarness, block_text, make_settings, running_bot
from tests.support.polling import until, watches_synced
from tests.support.slack_emulator import Post, SlackEmulator

ALERTS = "C0ALERTS01"


def buttons(post: Post) -> dict[str, tuple[str, str]]:
    """Label → (action id, value) of the message's buttons."""
    found: dict[str, tuple[str, str]] = {}
    for block in post.blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            found[element["text"]["text"]] = (element["action_id"], element["value"])
    return found


async def cached_bot(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, **overrides: Any) -> Any:
    return running_bot(slack, kube, make_settings(kubeconfig, watch={"cache": True}, **overrides))


def prepared(kube: FakeKubeServer) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "podinfo", replicas=3)
    kube.add_deployment("web", "other", replicas=1)


async def test_hi_greets_by_name_with_the_state_of_the_cluster_and_app(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    prepared(kube)
    slack.add_user(ALICE, "alice", real_name="Alice Example")
    async with await cached_bot(slack, kube, kubeconfig) as bot:
        await until(lambda: watches_synced(bot))
        harness = BotHarness(slack, kube, bot)
        await harness.ask("use podinfo -n web")
        kube.clear_requests()
        hello = await harness.ask("hi")
        text = block_text(hello)
        assert "Hi, alice!" in text
        assert "*test* · `web`: 4 pods, all ready · :white_check_mark: `podinfo` 3/3 ready" in text
        assert "app `podinfo` (your context)" in text
        assert list(buttons(hello)) == ["Status", "Pods of my app", "Help"]
        await harness.settle()
        assert [r.path for r in kube.requests if "watch" not in r.query] == []  # all from the caches


async def test_a_greeting_button_runs_its_command_in_the_same_thread(harness: BotHarness) -> None:
    harness.kube.add_deployment("web", "podinfo", replicas=2)
    await harness.ask("use podinfo -n web")
    hello = await harness.ask("hello")
    action_id, value = buttons(hello)["Pods of my app"]
    assert value == "pods"
    before = len(harness.slack.posts)
    await harness.slack.click(
        BOB, channel=CHANNEL, message_ts=hello.ts, action_id=action_id, value=value, thread_ts=hello.thread_ts
    )
    # Bob clicked: it runs as Bob (his own context: none), in the greeting's thread.
    answer = await harness.slack.wait_for_post(thread_ts=hello.thread_ts, after=before)
    assert "Pods" in answer.text and "app `podinfo`" not in block_text(answer)
    await harness.click_button(hello, action_id)
    mine = await harness.slack.wait_for_post(
        lambda p: p.text.startswith("Pods of podinfo"), thread_ts=hello.thread_ts, timeout=10
    )
    assert "app `podinfo` (your context)" in block_text(mine)
    status_id, _ = buttons(hello)["Status"]
    await harness.click_button(hello, status_id)
    status = await harness.slack.wait_for_post(
        lambda p: "Cluster status" in p.text, thread_ts=hello.thread_ts
    )
    assert status.channel == CHANNEL


async def test_whats_up_answers_with_the_status_summary(harness: BotHarness) -> None:
    reply = block_text(await harness.ask("what's up?"))
    assert "Cluster status" in reply and "Pods not ready" in reply


async def test_a_bare_mention_and_hey_opsbot_are_greetings(harness: BotHarness) -> None:
    bare = await harness.ask("")
    assert block_text(bare).startswith("Hi, ") and "Help" in buttons(bare)
    hey = block_text(await harness.ask("hey <@UBOT0001>"))
    assert "Hi, " in hey and "use APP" in hey  # no app yet: say how to set one
    assert "Good morning, " in block_text(await harness.ask("good morning!"))
    assert "Any time" in block_text(await harness.ask("thanks!"))


async def test_unknown_words_still_get_did_you_mean(harness: BotHarness) -> None:
    text = block_text(await harness.ask("pdos"))
    assert "I don't know the command `pdos`" in text and "Did you mean `pods`?" in text
    greeted = block_text(await harness.ask("hi, pods -n web"))
    assert "Pods" in greeted and "namespace `web` (as asked)" in greeted


async def test_the_greeting_counts_open_incidents_and_offers_them(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    settings = make_settings(
        kubeconfig, alerts={"enabled": True, "default_channel": ALERTS}, watch={"namespaces": ["web"]}
    )
    async with running_bot(slack, kube, settings, alert_flush_interval=0.05) as bot:
        await until(lambda: watches_synced(bot))
        (pod,) = kube.list("pods", "web")
        kube.apply_status("pods", "web", pod["metadata"]["name"], builders.crashloop_status(pod, restarts=5))
        await slack.wait_for_post(channel=ALERTS, timeout=15)
        harness = BotHarness(slack, kube, bot)
        hello = await harness.ask("hi")
        text = block_text(hello)
        assert "1* incident open" in text and "Incidents" in buttons(hello)


async def test_a_private_greetings_buttons_answer_privately(harness: BotHarness) -> None:
    await harness.slack.slash(ALICE, CHANNEL, "hi")
    hello = await harness.slack.wait_for_post(method="response_url")
    assert hello.args.get("response_type") == "ephemeral"
    action_id, value = buttons(hello)["Help"]
    before = len(harness.slack.posts)
    await harness.slack.click(
        ALICE, channel=CHANNEL, message_ts="", action_id=action_id, value=value, ephemeral=True
    )
    answer = await harness.slack.wait_for_post(method="response_url", after=before)
    assert "opsbot commands" in block_text(answer) and answer.args.get("response_type") == "ephemeral"
    await harness.settle()
    assert not [p for p in harness.slack.posts if p.method == "chat.postMessage"]
