"""Alerts end to end: pod status at the fake API server → incident threads in Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from opsbot.alerts.actions import LOGS_ACTION, MUTE_1H_ACTION, RESTART_ACTION, ROLLBACK_ACTION
from opsbot.approvals.cards import CONFIRM_ACTION
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import (
    ALERTS,
    ALICE,
    BotHarness,
    block_text,
    button_value,
    make_settings,
    running_bot,
)
from tests.support.polling import until
from tests.support.slack_emulator import Post, SlackEmulator

PAYMENTS = "C0PAYMENTS"


def alert_settings(kubeconfig: Path, **alerts: Any) -> Any:
    options: dict[str, Any] = {
        "enabled": True,
        "default_channel": ALERTS,
        "rules": [{"match": {"namespace": "pay*"}, "channel": PAYMENTS}],
        "resolve_after_minutes": 0.02,  # 1.2 s of health resolves an incident
        "cooldown_minutes": 10,
    }
    options.update(alerts)
    return make_settings(kubeconfig, alerts=options)


@pytest_asyncio.fixture
async def alerting(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path) -> AsyncIterator[BotHarness]:
    kube.add_namespace("payments")
    async with running_bot(slack, kube, alert_settings(kubeconfig), alert_flush_interval=0.2) as bot:
        yield BotHarness(slack, kube, bot)


def crash(kube: FakeKubeServer, namespace: str, name: str, restarts: int = 3, **kwargs: Any) -> None:
    pod = kube.get("pods", namespace, name)
    assert pod is not None
    kube.apply_status("pods", namespace, name, builders.crashloop_status(pod, restarts=restarts, **kwargs))


def recover(kube: FakeKubeServer, namespace: str, name: str) -> None:
    pod = kube.get("pods", namespace, name)
    assert pod is not None
    kube.apply_status("pods", namespace, name, builders.recovered_status(pod))


def pod_names(kube: FakeKubeServer, namespace: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in kube.list("pods", namespace))


def roots(slack: SlackEmulator, channel: str) -> list[Post]:
    return [
        p
        for p in slack.posts
        if p.method == "chat.postMessage" and p.channel == channel and p.thread_ts is None
    ]


async def test_crashloop_posts_one_root_in_the_routed_channel_with_context_in_its_thread(
    alerting: BotHarness,
) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("payments", "api", replicas=2)
    pod = pod_names(kube, "payments")[0]
    kube.set_log("payments", pod, ["boot", "panic: db connection refused"], previous=True)
    crash(kube, "payments", pod, restarts=4, exit_code=2)
    root = await slack.wait_for_post(channel=PAYMENTS, method="chat.postMessage")
    text = block_text(root)
    assert "CrashLoopBackOff — deployment/api in payments" in text
    assert pod in text and "exit code 2" in text and "`test`" in text
    assert {b["action_id"] for blk in root.blocks if blk["type"] == "actions" for b in blk["elements"]} >= {
        LOGS_ACTION,
        RESTART_ACTION,
        MUTE_1H_ACTION,
    }
    context = await slack.wait_for_post(thread_ts=root.ts)
    assert "panic: db connection refused" in block_text(context)
    await alerting.settle()
    assert roots(slack, ALERTS) == []


async def test_more_crashes_update_the_root_instead_of_posting_again(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("payments", "api", replicas=2)
    first, second = pod_names(kube, "payments")
    crash(kube, "payments", first, restarts=1)
    root = await slack.wait_for_post(channel=PAYMENTS, thread_ts=None, method="chat.postMessage")
    crash(kube, "payments", first, restarts=2)
    crash(kube, "payments", second, restarts=1)
    update = await slack.wait_for_post(
        lambda p: p.ts == root.ts and "Pods (2)" in block_text(p), method="chat.update"
    )
    assert "Restarts*\n3" in block_text(update)
    assert len(roots(slack, PAYMENTS)) == 1


async def test_recovery_resolves_the_incident_and_says_so_in_the_thread(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    crash(kube, "web", pod)
    root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
    recover(kube, "web", pod)
    resolved = await slack.wait_for_post(lambda p: "Resolved after" in p.text, thread_ts=root.ts)
    final = await slack.wait_for_post(
        lambda p: p.ts == root.ts and "Resolved after" in p.text, method="chat.update"
    )
    assert resolved.thread_ts == root.ts
    assert "Mute 1h" not in block_text(final)


async def test_mute_silences_the_thread(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    crash(kube, "web", pod)
    root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
    await slack.click(
        ALICE,
        channel=ALERTS,
        message_ts=root.ts,
        action_id=MUTE_1H_ACTION,
        value=button_value(root, MUTE_1H_ACTION),
    )
    muted = await slack.wait_for_post(lambda p: "muted this incident for 1h" in p.text, thread_ts=root.ts)
    mutes = block_text(await alerting.ask("mutes"))
    assert "CrashLoopBackOff deployment/shop" in mutes
    recover(kube, "web", pod)
    await slack.wait_for_post(lambda p: p.ts == root.ts and "Resolved" in p.text, method="chat.update")
    await alerting.settle()  # the thread reply would follow the root's update
    thread = [p for p in slack.posts if p.thread_ts == root.ts and p.method == "chat.postMessage"]
    assert not any("Resolved after" in p.text for p in thread), "a muted incident says nothing in its thread"
    assert muted in thread


async def test_incidents_command_lists_open_incidents(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    crash(kube, "web", pod)
    await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
    text = block_text(await alerting.ask("incidents"))
    assert "CrashLoopBackOff" in text and "deployment/shop" in text and "*1* open" in text
    assert alerting.bot.alerts is not None
    (incident,) = alerting.bot.alerts.open_incidents_here()
    assert incident.ref in text


async def test_the_id_on_the_card_is_what_unmute_takes(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    crash(kube, "web", pod)
    root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
    assert alerting.bot.alerts is not None
    (incident,) = alerting.bot.alerts.open_incidents_here()
    assert f"incident `{incident.ref}`" in block_text(root)
    await alerting.click_button(root, MUTE_1H_ACTION)
    muted = await slack.wait_for_post(lambda p: "muted this incident" in p.text, thread_ts=root.ts)
    assert f"unmute {incident.ref}" in muted.text
    answer = block_text(await alerting.ask(f"unmute {incident.ref}"))
    assert "no longer muted" in answer and incident.ref in answer
    assert "Nothing is muted" in block_text(await alerting.ask("mutes"))


async def test_restart_button_goes_through_the_confirm_flow(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    crash(kube, "web", pod)
    root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
    await slack.click(
        ALICE,
        channel=ALERTS,
        message_ts=root.ts,
        action_id=RESTART_ACTION,
        value=button_value(root, RESTART_ACTION),
    )
    card = await slack.wait_for_post(
        lambda p: "Confirm: restart deployment/shop" in p.text, thread_ts=root.ts
    )
    await alerting.settle()
    assert not [r for r in kube.writes() if r.method == "PATCH"]
    await slack.click(
        ALICE,
        channel=ALERTS,
        message_ts=card.ts,
        action_id=CONFIRM_ACTION,
        value=button_value(card, CONFIRM_ACTION),
    )
    await slack.wait_for_post(lambda p: "Restarted deployment/shop" in p.text, thread_ts=root.ts)


async def test_roll_back_on_a_crash_loop_card_takes_the_deployment_back_to_the_version_before(
    alerting: BotHarness,
) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("web", "shop", replicas=1, image="ghcr.io/org/shop:1.0.0")
    kube.world.crashing_images.add("ghcr.io/org/shop:1.1.0")
    spec = {"template": {"spec": {"containers": [{"name": "app", "image": "ghcr.io/org/shop:1.1.0"}]}}}
    kube.patch("deployments", "web", "shop", {"spec": spec})
    root = await slack.wait_for_post(
        lambda p: "CrashLoopBackOff" in p.text, channel=ALERTS, method="chat.postMessage"
    )
    assert button_value(root, ROLLBACK_ACTION)
    await alerting.click_button(root, ROLLBACK_ACTION)
    card = await slack.wait_for_post(lambda p: "Confirm: rollback" in p.text, thread_ts=root.ts)
    assert "shop on test: 1.1.0 → 1.0.0" in block_text(card)
    assert not [r for r in kube.writes() if r.method == "PATCH"]
    await alerting.click_button(card, CONFIRM_ACTION)
    await slack.wait_for_post(lambda p: "shop 1.0.0 available on test" in p.text, thread_ts=root.ts)
    deployment = kube.get("deployments", "web", "shop")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/org/shop:1.0.0"


async def test_dropped_watches_and_410_neither_duplicate_nor_miss_alerts(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_deployment("web", "a", replicas=1)
    kube.add_deployment("web", "b", replicas=1)
    pod_a = next(n for n in pod_names(kube, "web") if n.startswith("a-"))
    pod_b = next(n for n in pod_names(kube, "web") if n.startswith("b-"))
    crash(kube, "web", pod_a)
    await slack.wait_for_post(lambda p: "deployment/a" in p.text, channel=ALERTS, method="chat.postMessage")
    kube.drop_watches()
    kube.compact()
    crash(kube, "web", pod_b)  # happens while the watches are gone
    await slack.wait_for_post(lambda p: "deployment/b" in p.text, channel=ALERTS, method="chat.postMessage")
    kube.drop_watches()
    kube.compact()
    # The relist must not re-post a or b. Sentinel: a later crash, whose root comes after
    # any root the relist would have posted (one consumer, one paced queue per channel).
    kube.add_deployment("web", "z", replicas=1)
    crash(kube, "web", next(n for n in pod_names(kube, "web") if n.startswith("z-")))
    await slack.wait_for_post(lambda p: "deployment/z" in p.text, channel=ALERTS, method="chat.postMessage")
    await alerting.settle()
    titles = [p.text for p in roots(slack, ALERTS)]
    assert len(titles) == 3, titles


async def test_restarting_the_bot_mid_incident_posts_no_duplicate_and_still_resolves_the_original(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    settings = alert_settings(kubeconfig)
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2):
        crash(kube, "web", pod)
        root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        await slack.wait_for_post(thread_ts=root.ts)  # enrichment done
    # Sentinel: a crash the next start lists after shop's pod, so its root comes after any
    # duplicate of shop's (one consumer, one paced queue per channel).
    kube.add_deployment("web", "zz", replicas=1)
    crash(kube, "web", next(n for n in pod_names(kube, "web") if n.startswith("zz-")))
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2) as bot:
        await slack.wait_for_post(
            lambda p: "deployment/zz" in p.text, channel=ALERTS, method="chat.postMessage"
        )
        await BotHarness(slack, kube, bot).settle()
        assert [p.ts for p in roots(slack, ALERTS) if "deployment/shop" in p.text] == [root.ts]
        recover(kube, "web", pod)
        await slack.wait_for_post(lambda p: p.ts == root.ts and "Resolved" in p.text, method="chat.update")


async def test_problems_present_at_startup_are_alerted_once(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_deployment("web", "shop", replicas=2)
    for pod in pod_names(kube, "web"):
        crash(kube, "web", pod)
    async with running_bot(slack, kube, alert_settings(kubeconfig), alert_flush_interval=0.2) as bot:
        # Both pods are in one incident once a root (or its update) shows two of them.
        await slack.wait_for_post(lambda p: p.channel == ALERTS and "Pods (2)" in block_text(p))
        await BotHarness(slack, kube, bot).settle()
    assert len(roots(slack, ALERTS)) == 1


async def test_storm_of_crashing_pods_is_paced_folded_and_fully_accounted_for(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """500 pods of 20 deployments crash at once; Slack enforces 1 msg/s/channel with 429s."""
    slack.enforce_rate_limit("chat.postMessage", per_second=1.0, burst=3)
    for index in range(20):
        kube.add_deployment("web", f"svc-{index:02d}", replicas=25)
    settings = make_settings(
        kubeconfig,
        outbox={"per_channel_per_second": 1.0, "burst": 3},
        alerts={"enabled": True, "default_channel": ALERTS, "enrichment_log_lines": 0, "digest_threshold": 3},
    )
    async with running_bot(slack, kube, settings, alert_flush_interval=0.3) as bot:
        for pod in kube.list("pods", "web"):
            kube.apply_status(
                "pods", "web", pod["metadata"]["name"], builders.crashloop_status(pod, restarts=2)
            )
        assert bot.alerts is not None
        alerts = bot.alerts

        def all_accounted() -> bool:
            return len(alerts.open_incidents_here()) >= 20 and all(
                len(i.affected) >= 25 and (i.root or i.digest) for i in alerts.open_incidents_here()
            )

        await until(all_accounted, timeout=30, interval=0.1)
        await BotHarness(slack, kube, bot).settle(timeout=30)
        handled_429s = bot.outbox.rate_limited
    posted = [p for p in slack.posts if p.method == "chat.postMessage" and p.channel == ALERTS]
    assert len(posted) <= 8, [p.text for p in posted]
    digest = [p for p in slack.posts if "new incident" in p.text]
    assert digest, "the burst was folded into a digest"
    assert slack.rate_limited == handled_429s, "every 429 was retried after Retry-After"
    assert slack.rate_limited <= 1, "pacing, not retries, keeps us under the limit"


async def test_root_posted_but_not_recorded_before_a_crash_is_found_not_reposted(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """The crash window between chat.postMessage and saving its ts: the message metadata closes it."""
    from opsbot.store.sqlite import SqliteStore

    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    settings = alert_settings(kubeconfig)
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2):
        crash(kube, "web", pod)
        root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        await slack.wait_for_post(thread_ts=root.ts)
    store = SqliteStore(settings.store.path)
    (record,) = await store.incidents()
    record["root"] = None  # as if the process died right after posting
    await store.put_incident(record["id"], record["key"], record["state"], record["channel"], record)
    store.close()
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2) as bot:
        recover(kube, "web", pod)
        await slack.wait_for_post(lambda p: p.ts == root.ts and "Resolved" in p.text, method="chat.update")
        # A re-posted root would have gone out before the resolution (same incident, same chain).
        await BotHarness(slack, kube, bot).settle()
        assert len(roots(slack, ALERTS)) == 1


async def test_node_not_ready_is_alerted_and_resolves_when_it_is_ready_again(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_node("node-9")
    kube.set_node_ready("node-9", False, reason="NodeStatusUnknown")
    root = await slack.wait_for_post(
        lambda p: "NodeNotReady" in p.text, channel=ALERTS, method="chat.postMessage"
    )
    assert "node/node-9" in root.text
    kube.set_node_ready("node-9", True)
    await slack.wait_for_post(lambda p: "Resolved after" in p.text, thread_ts=root.ts)


async def test_stuck_rollout_is_alerted(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    deployment = kube.add_deployment("web", "checkout", replicas=2)
    kube.apply_status("deployments", "web", "checkout", builders.rollout_stuck_status(deployment))
    root = await slack.wait_for_post(
        lambda p: "RolloutFailed" in p.text, channel=ALERTS, method="chat.postMessage"
    )
    assert "deployment/checkout in web" in root.text


async def test_pod_deleted_while_the_bot_was_down_counts_as_gone_and_resolves(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    settings = alert_settings(kubeconfig)
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2):
        crash(kube, "web", pod)
        root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        await slack.wait_for_post(thread_ts=root.ts)
    kube.delete("pods", "web", pod)  # replaced by a healthy pod while opsbot is away
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2):
        resolved = await slack.wait_for_post(lambda p: "Resolved after" in p.text, thread_ts=root.ts)
        assert resolved.thread_ts == root.ts
    assert len(roots(slack, ALERTS)) == 1
