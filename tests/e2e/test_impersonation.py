"""Kubernetes impersonation: the cluster sees the Slack user, and its RBAC has the last word."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from opsbot.approvals.cards import APPROVE_ACTION, CONFIRM_ACTION
from opsbot.errors import ConfigError
from tests.support.fake_kube import DEFAULT_USER, FakeKubeServer, RecordedRequest
from tests.support.harness import (
    ALICE,
    BOB,
    CHANNEL,
    BotHarness,
    block_text,
    make_settings,
    running_bot,
)
from tests.support.slack_emulator import Post, SlackEmulator

CAROL = "U0CAROL01"
SRE_GROUP = "S0SRE0001"
PODS_PATH = "/api/v1/namespaces/web/pods"
SCALE_PATH = "/apis/apps/v1/namespaces/web/deployments/api/scale"

POLICY: dict[str, Any] = {
    "bindings": [
        {"role": "admin", "users": [ALICE]},
        {"role": "operator", "users": [BOB]},
        {"role": "operator", "usergroups": [SRE_GROUP]},
        {"role": "viewer", "channels": [CHANNEL]},
    ],
    # `prod` needs a second person, so the approver differs from the requester.
    "approvals": [{"namespaces": ["prod"], "self_confirm": False, "approvals_required": 1}],
    "rate_limit": {"commands_per_minute": 600, "burst": 50},
}


@asynccontextmanager
async def bot_with(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, impersonation: dict[str, Any]
) -> AsyncIterator[BotHarness]:
    slack.add_usergroup(SRE_GROUP, [CAROL])
    for namespace in ("web", "prod"):
        kube.add_namespace(namespace)
        kube.add_deployment(namespace, "api", replicas=3)
    # Without planning dry runs, so the only PATCH is the action itself (see test_dry_run.py).
    settings = make_settings(
        kubeconfig, policy=POLICY, impersonation=impersonation, commands={"server_dry_run": False}
    )
    async with running_bot(slack, kube, settings) as bot:
        kube.clear_requests()
        yield BotHarness(slack, kube, bot)


@pytest_asyncio.fixture
async def acting(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path) -> AsyncIterator[BotHarness]:
    async with bot_with(slack, kube, kubeconfig, {"enabled": True}) as harness:
        yield harness


def impersonation_headers(request: RecordedRequest) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.startswith("impersonate-")}


def requests_to(harness: BotHarness, path: str, method: str = "GET") -> list[RecordedRequest]:
    return [r for r in harness.kube.requests if r.path == path and r.method == method]


async def click(harness: BotHarness, card: Post, action: str, user: str) -> None:
    await harness.click_button(card, action, user=user)


async def test_commands_reach_the_cluster_as_the_slack_user_and_groups(acting: BotHarness) -> None:
    reply = await acting.ask("pods -n web")
    assert "api-" in block_text(reply)
    (request,) = requests_to(acting, PODS_PATH)
    assert request.user == f"slack:{ALICE}"
    assert request.groups == ("opsbot:users", "system:authenticated")
    assert request.headers["impersonate-user"] == f"slack:{ALICE}"


async def test_each_group_is_its_own_header_including_slack_user_groups(acting: BotHarness) -> None:
    await acting.ask("pods -n web", user=CAROL)
    (request,) = requests_to(acting, PODS_PATH)
    assert request.user == f"slack:{CAROL}"
    # Two groups arrive as two groups: one Impersonate-Group header each.
    assert request.groups == ("opsbot:users", f"slack:{SRE_GROUP}", "system:authenticated")


async def test_the_clusters_rbac_has_the_last_word_and_the_answer_names_the_user(
    acting: BotHarness,
) -> None:
    acting.kube.deny("list", "pods", namespace="web", user=f"slack:{ALICE}")
    reply = await acting.ask("pods -n web")
    text = block_text(reply)
    assert f"User `slack:{ALICE}`" in text
    assert "*list* `pods` in namespace `web`" in text
    assert "RBAC" in text and "service account" not in text
    assert "actions" not in [b["type"] for b in reply.blocks]
    # Bob is not denied: the same command works for him.
    assert "api-" in block_text(await acting.ask("pods -n web", user=BOB))


async def test_a_confirmed_action_runs_as_its_requester(acting: BotHarness) -> None:
    card = await acting.ask("scale deploy/api 1 -n web", user=BOB)
    await click(acting, card, CONFIRM_ACTION, BOB)
    await acting.slack.wait_for_post(lambda p: "Scaled deployment/api from 3 to 1" in p.text)
    await acting.settle()
    (patch,) = requests_to(acting, SCALE_PATH, "PATCH")
    assert patch.user == f"slack:{BOB}" and "opsbot:users" in patch.groups
    assert all(r.user == f"slack:{BOB}" for r in acting.kube.requests)


async def test_an_approved_action_runs_as_the_requester_not_the_approver(acting: BotHarness) -> None:
    card = await acting.ask("scale deploy/api 2 -n prod", user=BOB)
    await click(acting, card, APPROVE_ACTION, ALICE)
    await acting.slack.wait_for_post(lambda p: "Scaled deployment/api from 3 to 2" in p.text)
    await acting.settle()
    (patch,) = [r for r in acting.kube.writes() if r.path.endswith("/deployments/api/scale")]
    assert patch.user == f"slack:{BOB}"
    assert not [r for r in acting.kube.requests if r.user == f"slack:{ALICE}"]


async def test_a_pending_request_keeps_its_requesters_identity_across_a_restart(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    async with bot_with(slack, kube, kubeconfig, {"enabled": True}) as harness:
        card = await harness.ask("scale deploy/api 2 -n prod", user=CAROL)
        settings = harness.bot.settings
    async with running_bot(slack, kube, settings) as bot:
        await click(BotHarness(slack, kube, bot), card, APPROVE_ACTION, ALICE)
        await slack.wait_for_post(lambda p: "Scaled deployment/api from 3 to 2" in p.text)
    (patch,) = [r for r in kube.writes() if r.path.endswith("/deployments/api/scale")]
    assert patch.user == f"slack:{CAROL}"
    assert patch.groups == ("opsbot:users", f"slack:{SRE_GROUP}", "system:authenticated")


async def test_a_refused_action_reports_the_users_missing_permission(acting: BotHarness) -> None:
    acting.kube.deny("patch", "deployments/scale", namespace="web", user=f"slack:{BOB}")
    card = await acting.ask("scale deploy/api 1 -n web", user=BOB)
    await click(acting, card, CONFIRM_ACTION, BOB)
    failed = await acting.slack.wait_for_post(lambda p: f"slack:{BOB}" in block_text(p))
    assert "*patch* `deployments/scale`" in block_text(failed)
    deployment = acting.kube.get("deployments", "web", "api")
    assert deployment is not None and deployment["spec"]["replicas"] == 3


async def test_impersonation_can_be_limited_to_some_roles(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    async with bot_with(slack, kube, kubeconfig, {"enabled": True, "roles": ["operator"]}) as harness:
        await harness.ask("pods -n web", user=ALICE)  # admin: opsbot's own account
        await harness.ask("pods -n web", user=BOB)  # operator: as himself
        alice, bob = requests_to(harness, PODS_PATH)
    assert alice.user == DEFAULT_USER and impersonation_headers(alice) == {}
    assert bob.user == f"slack:{BOB}"


async def test_usergroups_can_be_left_out_and_groups_configured(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    settings = {"enabled": True, "include_usergroups": False, "groups": ["chatops", "oncall"]}
    async with bot_with(slack, kube, kubeconfig, settings) as harness:
        await harness.ask("pods -n web", user=CAROL)
        (request,) = requests_to(harness, PODS_PATH)
    assert request.groups == ("chatops", "oncall", "system:authenticated")


async def test_missing_impersonate_permission_points_at_the_add_on(acting: BotHarness) -> None:
    acting.kube.deny("impersonate", "users", user=DEFAULT_USER)
    reply = await acting.ask("pods -n web")
    text = block_text(reply)
    assert "may not *impersonate* `users`" in text and "manifests/components/impersonation/" in text


async def test_without_impersonation_no_impersonate_headers_are_sent(harness: BotHarness) -> None:
    harness.kube.add_deployment("web", "api", replicas=3)
    harness.kube.clear_requests()
    await harness.ask("pods -n web")
    card = await harness.ask("scale deploy/api 1 -n web")
    await click(harness, card, CONFIRM_ACTION, ALICE)
    await harness.slack.wait_for_post(lambda p: "Scaled deployment/api" in p.text)
    assert harness.kube.requests
    for request in harness.kube.requests:
        assert impersonation_headers(request) == {}, request.path
        assert request.user == DEFAULT_USER


@pytest.mark.parametrize(
    ("impersonation", "problem"),
    [
        ({"enabled": True, "roles": ["oncall"]}, "impersonation.roles: unknown role 'oncall'"),
        ({"groups": ["system:masters"]}, "impersonation.groups"),
        ({"user_prefix": "system:"}, "impersonation.user_prefix"),
        ({"user_prefix": ""}, "impersonation.user_prefix"),
    ],
)
def test_impersonation_settings_are_checked(
    kubeconfig: Path, impersonation: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        make_settings(kubeconfig, policy=POLICY, impersonation=impersonation)
    assert any(line.startswith(problem) for line in raised.value.problems), raised.value.problems


def test_impersonation_roles_may_name_custom_roles(kubeconfig: Path) -> None:
    policy = {**POLICY, "roles": {"oncall": {"verbs": ["read"]}}}
    settings = make_settings(kubeconfig, policy=policy, impersonation={"enabled": True, "roles": ["oncall"]})
    assert settings.impersonation.roles == ["oncall"]
    assert make_settings(kubeconfig).impersonation.enabled is False
