"""Mutating commands: nothing runs before Confirm, and only the requester's Confirm counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opsbot.approvals.cards import CANCEL_ACTION, CONFIRM_ACTION
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import (
    ALICE,
    BOB,
    CHANNEL,
    BotHarness,
    block_text,
    button_value,
    make_settings,
    running_bot,
)
from tests.support.slack_emulator import Post, SlackEmulator


def scale_writes(harness: BotHarness) -> list[str]:
    return [r.path for r in harness.kube.writes() if "/deployments/" in r.path]


async def request_scale(harness: BotHarness, replicas: int = 1) -> tuple[Post, str]:
    harness.kube.add_deployment("web", "api", replicas=3)
    harness.kube.clear_requests()
    card = await harness.ask(f"scale deploy/api {replicas} -n web")
    return card, button_value(card, CONFIRM_ACTION)


async def click(harness: BotHarness, card: Post, action: str, user: str = ALICE) -> None:
    await harness.click_button(card, action, user=user)


def replicas(harness: BotHarness) -> int:
    deployment = harness.kube.get("deployments", "web", "api")
    assert deployment is not None
    return int(deployment["spec"]["replicas"])


async def test_scale_shows_the_change_and_waits_for_confirm(harness: BotHarness) -> None:
    card, _ = await request_scale(harness, 0)
    text = block_text(card)
    assert "replicas 3 → 0" in text and "every pod of this deployment will be stopped" in text
    assert f"<@{ALICE}>" in text and "Expires" in text
    await harness.settle()
    assert scale_writes(harness) == []
    assert replicas(harness) == 3


async def test_scale_with_confirm_scales_the_deployment(harness: BotHarness) -> None:
    card, _ = await request_scale(harness, 1)
    await click(harness, card, CONFIRM_ACTION)
    done = await harness.slack.wait_for_post(
        lambda p: "Scaled deployment/api from 3 to 1" in p.text, thread_ts=card.thread_ts
    )
    assert done.thread_ts == card.thread_ts
    assert replicas(harness) == 1
    final = await harness.slack.wait_for_post(
        lambda p: p.text.startswith(":white_check_mark: Done"), method="chat.update"
    )
    assert final.ts == card.ts and "Confirmed by" in block_text(final)
    assert len(harness.kube.list("pods", "web")) == 1


async def test_scale_with_cancel_leaves_the_deployment_unchanged(harness: BotHarness) -> None:
    card, _ = await request_scale(harness, 0)
    await click(harness, card, CANCEL_ACTION)
    update = await harness.slack.wait_for_post(method="chat.update")
    assert "Cancelled" in update.text and "actions" not in [b["type"] for b in update.blocks]
    await click(harness, card, CONFIRM_ACTION)  # a stale button after cancel
    notice = await harness.slack.wait_for_post(method="chat.postEphemeral")
    assert "already cancelled" in notice.text
    await harness.settle()
    assert scale_writes(harness) == [] and replicas(harness) == 3


async def test_someone_else_cannot_confirm(harness: BotHarness) -> None:
    card, _ = await request_scale(harness, 1)
    await click(harness, card, CONFIRM_ACTION, user=BOB)
    notice = await harness.slack.wait_for_post(method="chat.postEphemeral")
    assert notice.user == BOB and "Only <@U0ALICE01>" in notice.text
    await harness.settle()
    assert scale_writes(harness) == [] and replicas(harness) == 3


async def test_double_click_runs_the_action_once(harness: BotHarness) -> None:
    card, _ = await request_scale(harness, 2)
    harness.kube.clear_requests()
    await asyncio.gather(*(click(harness, card, CONFIRM_ACTION) for _ in range(3)))
    await harness.slack.wait_for_post(lambda p: "Scaled deployment/api" in p.text)
    await harness.settle()
    # One execution: one read of the scale and one write (a second run would read it again).
    scale = [r.method for r in harness.kube.requests if r.path.endswith("/deployments/api/scale")]
    assert scale == ["GET", "PATCH"]
    assert replicas(harness) == 2


async def test_forged_or_stale_button_values_do_nothing(harness: BotHarness) -> None:
    card, _ = await request_scale(harness, 1)
    await harness.slack.click(
        ALICE, channel=CHANNEL, message_ts=card.ts, action_id=CONFIRM_ACTION, value="forged-id"
    )
    notice = await harness.slack.wait_for_post(method="chat.postEphemeral")
    assert "no longer pending" in notice.text
    await harness.settle()
    assert scale_writes(harness) == [] and replicas(harness) == 3


async def test_scale_refuses_when_the_deployment_changed_since_the_request(harness: BotHarness) -> None:
    card, _ = await request_scale(harness, 1)
    harness.kube.patch("deployments", "web", "api", {"spec": {"replicas": 5}})
    await click(harness, card, CONFIRM_ACTION)
    failed = await harness.slack.wait_for_post(lambda p: "changed since the request" in p.text)
    assert "replicas are now 5" in failed.text
    assert replicas(harness) == 5


async def test_restart_patches_the_pod_template_like_kubectl(harness: BotHarness) -> None:
    harness.kube.add_deployment("web", "api", replicas=2)
    old_pods = {p["metadata"]["name"] for p in harness.kube.list("pods", "web")}
    card = await harness.ask("restart deploy/api -n web")
    assert "2 pods will be replaced" in block_text(card)
    await click(harness, card, CONFIRM_ACTION)
    await harness.slack.wait_for_post(lambda p: "Restarted deployment/api" in p.text)
    deployment = harness.kube.get("deployments", "web", "api")
    assert deployment is not None
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/restartedAt"].endswith("Z")
    patch = next(r for r in harness.kube.writes() if r.method == "PATCH")
    assert patch.headers["content-type"].startswith("application/strategic-merge-patch+json")
    new_pods = {p["metadata"]["name"] for p in harness.kube.list("pods", "web")}
    assert new_pods and not (new_pods & old_pods)


async def test_scale_of_missing_deployment_is_not_found_without_a_card(harness: BotHarness) -> None:
    reply = await harness.ask("scale deploy/ghost 1 -n web")
    assert "deployment `ghost` not found in namespace `web`" in block_text(reply)
    assert "actions" not in [b["type"] for b in reply.blocks]


async def test_slash_scale_card_is_private_and_confirm_updates_it(harness: BotHarness) -> None:
    harness.kube.add_deployment("web", "api", replicas=3)
    await harness.slack.slash(ALICE, CHANNEL, "scale deploy/api 2 -n web")
    card = await harness.slack.wait_for_post(method="response_url")
    value = button_value(card, CONFIRM_ACTION)
    await harness.slack.click(
        ALICE, channel=CHANNEL, message_ts=card.ts, action_id=CONFIRM_ACTION, value=value, ephemeral=True
    )
    await harness.slack.wait_for_post(lambda p: "Scaled deployment/api" in p.text, method="response_url")
    assert replicas(harness) == 2


async def test_unconfirmed_request_expires_updates_its_card_and_cannot_run_later(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=3)
    settings = make_settings(kubeconfig, approvals={"expire_after_minutes": 0.01})
    async with running_bot(slack, kube, settings, approval_sweep_interval=0.2) as bot:
        harness = BotHarness(slack, kube, bot)
        card = await harness.ask("scale deploy/api 1 -n web")
        expired = await slack.wait_for_post(
            lambda p: p.ts == card.ts and "Expired" in p.text, method="chat.update"
        )
        assert "actions" not in [b["type"] for b in expired.blocks]
        await slack.wait_for_post(
            lambda p: "expired; nothing was changed" in p.text, thread_ts=card.thread_ts
        )
        await click(harness, card, CONFIRM_ACTION)
        notice = await slack.wait_for_post(method="chat.postEphemeral")
        assert "already expired" in notice.text
        await harness.settle()
    assert replicas(harness) == 3


async def test_private_request_expires_privately(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=3)
    settings = make_settings(kubeconfig, approvals={"expire_after_minutes": 0.01})
    async with running_bot(slack, kube, settings, approval_sweep_interval=0.2) as bot:
        await slack.slash(ALICE, CHANNEL, "scale deploy/api 2 -n web")
        await slack.wait_for_post(lambda p: "Confirm" in p.text, method="response_url")
        await slack.wait_for_post(lambda p: "Expired" in p.text, method="response_url")
        await slack.wait_for_post(lambda p: "expired; nothing was changed" in p.text, method="response_url")
        await BotHarness(slack, kube, bot).settle()
    assert not [p for p in slack.posts if p.method == "chat.postMessage"], "nothing said in public"


async def test_a_pending_request_survives_a_restart_and_can_be_confirmed_afterwards(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=3)
    settings = make_settings(kubeconfig)
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        card = await harness.ask("scale deploy/api 2 -n web")
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        await click(harness, card, CONFIRM_ACTION)
        await slack.wait_for_post(
            lambda p: "Scaled deployment/api from 3 to 2" in p.text, thread_ts=card.thread_ts
        )
        kube.clear_requests()
        await click(harness, card, CONFIRM_ACTION)  # and it still runs only once
        notice = await slack.wait_for_post(method="chat.postEphemeral")
        assert "already" in notice.text
        await harness.settle()
    assert replicas(harness) == 2
    assert kube.requests == [], "the second click reached the API server"
