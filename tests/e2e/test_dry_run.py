"""Server-side dry run at planning time: the card shows the cluster's answer, refusals come early."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from opsbot.approvals.cards import CONFIRM_ACTION
from tests.support.fake_kube import FakeKubeServer, RecordedRequest
from tests.support.harness import (
    ALICE,
    BOB,
    BotHarness,
    block_text,
    make_settings,
    running_bot,
)
from tests.support.slack_emulator import Post, SlackEmulator

SCALE_PATH = "/apis/apps/v1/namespaces/web/deployments/api/scale"
DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/web/deployments/api"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@pytest_asyncio.fixture
async def dry(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path) -> AsyncIterator[BotHarness]:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=3)
    settings = make_settings(kubeconfig, commands={"server_dry_run": True})
    async with running_bot(slack, kube, settings) as bot:
        kube.clear_requests()
        yield BotHarness(slack, kube, bot)


def patches(harness: BotHarness) -> list[RecordedRequest]:
    return [r for r in harness.kube.requests if r.method == "PATCH"]


def has_card(post: Post) -> bool:
    return "actions" in [b["type"] for b in post.blocks]


def stored_deployment(harness: BotHarness) -> dict[str, Any]:
    deployment = harness.kube.get("deployments", "web", "api")
    assert deployment is not None
    return deployment


async def test_scale_is_planned_with_a_dry_run_that_stores_nothing(dry: BotHarness) -> None:
    before = stored_deployment(dry)
    card = await dry.ask("scale deploy/api 0 -n web")
    text = block_text(card)
    assert "replicas 3 → 0" in text and "every pod of this deployment will be stopped" in text
    assert "server-side dry run" in text and has_card(card)
    await dry.settle()
    (patch,) = patches(dry)
    assert patch.path == SCALE_PATH and patch.query["dryRun"] == ["All"]
    assert patch.json() == {"spec": {"replicas": 0}}
    after = stored_deployment(dry)
    assert after["metadata"] == before["metadata"]  # same resourceVersion: nothing stored
    assert len(dry.kube.list("pods", "web")) == 3


async def test_confirm_after_a_dry_run_sends_the_real_patch(dry: BotHarness) -> None:
    card = await dry.ask("scale deploy/api 1 -n web")
    await dry.click_button(card, CONFIRM_ACTION, user=ALICE)
    await dry.slack.wait_for_post(lambda p: "Scaled deployment/api from 3 to 1" in p.text)
    planned, executed = patches(dry)
    assert planned.query.get("dryRun") == ["All"]
    assert "dryRun" not in executed.query and executed.path == SCALE_PATH
    assert stored_deployment(dry)["spec"]["replicas"] == 1


async def test_restart_is_planned_with_a_dry_run_that_starts_no_rollout(dry: BotHarness) -> None:
    replicasets = dry.kube.list("replicasets", "web")
    pods = sorted(p["metadata"]["name"] for p in dry.kube.list("pods", "web"))
    card = await dry.ask("restart deploy/api -n web")
    text = block_text(card)
    assert "3 pods will be replaced" in text and all(f"`{pod}`" in text for pod in pods)
    assert RESTARTED_AT in text and has_card(card)
    await dry.settle()
    (patch,) = patches(dry)
    assert patch.path == DEPLOYMENT_PATH and patch.query["dryRun"] == ["All"]
    assert patch.content_type.startswith("application/strategic-merge-patch+json")
    template = stored_deployment(dry)["spec"]["template"]
    assert RESTARTED_AT not in (template["metadata"].get("annotations") or {})
    assert dry.kube.list("replicasets", "web") == replicasets  # no new ReplicaSet
    assert sorted(p["metadata"]["name"] for p in dry.kube.list("pods", "web")) == pods


async def test_a_dry_run_refused_by_admission_is_an_error_and_no_card(dry: BotHarness) -> None:
    dry.kube.fail_next(
        "PATCH",
        r"/scale$",
        status=422,
        reason="Invalid",
        message='admission webhook "replicas.example.com" denied the request: at least 1 replica in web',
    )
    reply = await dry.ask("scale deploy/api 0 -n web")
    text = block_text(reply)
    assert not has_card(reply)
    assert "refused scaling deployment/api to 0 in a server-side dry run" in text
    assert "at least 1 replica in web" in text
    assert stored_deployment(dry)["spec"]["replicas"] == 3


async def test_a_dry_run_refused_by_rbac_is_an_error_and_no_card(dry: BotHarness) -> None:
    dry.kube.deny("patch", "deployments", namespace="web")
    reply = await dry.ask("restart deploy/api -n web", user=BOB)
    text = block_text(reply)
    assert not has_card(reply)
    assert "server-side dry run" in text and "*patch* `deployments`" in text
    assert [r.status for r in patches(dry)] == [403]


async def test_dry_run_and_impersonation_refuse_at_planning_time_as_the_user(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=3)
    kube.deny("patch", "deployments/scale", namespace="web", user=f"slack:{BOB}")
    settings = make_settings(kubeconfig, commands={"server_dry_run": True}, impersonation={"enabled": True})
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        refused = await harness.ask("scale deploy/api 1 -n web", user=BOB)
        allowed = await harness.ask("scale deploy/api 1 -n web", user=ALICE)
    assert not has_card(refused) and f"User `slack:{BOB}`" in block_text(refused)
    assert has_card(allowed)
    assert {(r.user, r.status) for r in kube.requests if r.method == "PATCH"} == {
        (f"slack:{BOB}", 403),
        (f"slack:{ALICE}", 200),
    }


async def test_without_the_setting_planning_sends_no_patch(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=3)
    settings = make_settings(kubeconfig, commands={"server_dry_run": False})
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        card = await harness.ask("scale deploy/api 0 -n web")
    assert has_card(card) and "server-side dry run" not in block_text(card)
    assert patches(harness) == []
