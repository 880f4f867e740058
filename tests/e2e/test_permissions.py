"""Who may do what, end to end: roles, channel and user-group bindings, second-person approvals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from opsbot.approvals.cards import APPROVE_ACTION, CONFIRM_ACTION, REJECT_ACTION
from tests.support.fake_kube import FakeKubeServer
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
DAVE = "U0DAVE001"
SRE_GROUP = "S0SRE0001"
READONLY = "C0READONLY"

POLICY: dict[str, Any] = {
    "roles": {"web-operator": {"verbs": ["read", "scale"], "namespaces": ["web"]}},
    "bindings": [
        {"role": "admin", "users": [ALICE]},
        {"role": "operator", "users": [BOB]},
        {"role": "operator", "usergroups": [SRE_GROUP]},
        {"role": "web-operator", "users": [DAVE]},
        {"role": "viewer", "channels": [CHANNEL, READONLY]},
    ],
    "channels": {READONLY: {"allow_verbs": ["read"]}},
    "approvals": [{"namespaces": ["prod"], "self_confirm": False, "approvals_required": 1}],
    "rate_limit": {"commands_per_minute": 600, "burst": 50},
}


@pytest_asyncio.fixture
async def guarded(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path) -> AsyncIterator[BotHarness]:
    slack.add_usergroup(SRE_GROUP, [CAROL])
    for namespace in ("web", "prod"):
        kube.add_namespace(namespace)
        kube.add_deployment(namespace, "api", replicas=3)
    async with running_bot(slack, kube, make_settings(kubeconfig, policy=POLICY)) as bot:
        yield BotHarness(slack, kube, bot)


def writes(harness: BotHarness) -> list[str]:
    return [r.path for r in harness.kube.writes()]


@pytest.mark.parametrize(
    ("user", "channel", "command", "allowed"),
    [
        pytest.param(ALICE, CHANNEL, "scale deploy/api 2 -n web", True, id="admin-scale"),
        pytest.param(BOB, CHANNEL, "restart deploy/api -n web", True, id="operator-restart"),
        pytest.param(CAROL, CHANNEL, "scale deploy/api 2 -n web", True, id="usergroup-operator"),
        pytest.param(DAVE, CHANNEL, "scale deploy/api 2 -n web", True, id="custom-role-in-its-namespace"),
        pytest.param(DAVE, CHANNEL, "scale deploy/api 2 -n prod", False, id="custom-role-other-namespace"),
        pytest.param(DAVE, CHANNEL, "restart deploy/api -n web", False, id="custom-role-other-verb"),
        pytest.param("U0VIEWER1", CHANNEL, "pods -n web", True, id="channel-viewer-reads"),
        pytest.param(
            "U0VIEWER1", CHANNEL, "scale deploy/api 2 -n web", False, id="channel-viewer-cannot-scale"
        ),
        pytest.param(ALICE, READONLY, "scale deploy/api 2 -n web", False, id="channel-narrows-even-admin"),
        pytest.param("U0STRANGE", "C0UNBOUND", "pods -n web", False, id="unbound-user-and-channel"),
    ],
)
async def test_permission_matrix(
    guarded: BotHarness, user: str, channel: str, command: str, allowed: bool
) -> None:
    guarded.kube.clear_requests()
    reply = await guarded.ask(command, user=user, channel=channel)
    text = block_text(reply)
    await guarded.settle()
    if allowed:
        assert "Not allowed" not in text
    else:
        assert "Not allowed" in text
        assert guarded.kube.requests == [], "a denied command reaches no API"
    assert writes(guarded) == []  # nothing runs before a confirmation anyway


async def test_denial_names_what_is_missing_and_is_audited(guarded: BotHarness) -> None:
    reply = await guarded.ask("scale deploy/api 2 -n prod", user=DAVE)
    assert "web-operator" in block_text(reply) and "prod" in block_text(reply)
    (record,) = [r for r in guarded.bot.auditor.recent(last=5) if r["kind"] == "denied"]
    assert record["user_id"] == DAVE and record["outcome"] == "denied"


async def click(harness: BotHarness, card: Post, action: str, user: str) -> None:
    await harness.click_button(card, action, user=user)


async def test_protected_namespace_needs_a_second_person(guarded: BotHarness) -> None:
    slack = guarded.slack
    card = await guarded.ask("scale deploy/api 1 -n prod", user=ALICE)
    assert "Approval needed" in card.text
    await click(
        guarded, card, CONFIRM_ACTION if CONFIRM_ACTION in str(card.blocks) else APPROVE_ACTION, ALICE
    )
    refusal = await slack.wait_for_post(method="chat.postEphemeral")
    assert refusal.user == ALICE and "own request" in refusal.text
    await click(guarded, card, APPROVE_ACTION, "U0VIEWER1")  # a viewer may not approve a scale
    denied = await slack.wait_for_post(lambda p: p.user == "U0VIEWER1", method="chat.postEphemeral")
    assert "not allowed" in denied.text
    await guarded.settle()
    assert writes(guarded) == []
    await click(guarded, card, APPROVE_ACTION, BOB)
    await slack.wait_for_post(
        lambda p: "Scaled deployment/api from 3 to 1" in p.text, thread_ts=card.thread_ts
    )
    await guarded.settle()
    assert [w for w in writes(guarded) if w.endswith("/scale")] == [
        "/apis/apps/v1/namespaces/prod/deployments/api/scale"
    ]


async def test_two_approvals_at_once_run_the_action_once(guarded: BotHarness) -> None:
    slack = guarded.slack
    card = await guarded.ask("scale deploy/api 1 -n prod", user=ALICE)
    guarded.kube.clear_requests()
    await asyncio.gather(
        click(guarded, card, APPROVE_ACTION, BOB), click(guarded, card, APPROVE_ACTION, CAROL)
    )
    await slack.wait_for_post(
        lambda p: "Scaled deployment/api from 3 to 1" in p.text, thread_ts=card.thread_ts
    )
    await guarded.settle()
    scale = "/apis/apps/v1/namespaces/prod/deployments/api/scale"
    # One execution reads the scale once and writes it once.
    assert [(r.method, r.path) for r in guarded.kube.requests] == [("GET", scale), ("PATCH", scale)]


async def test_a_second_person_can_reject(guarded: BotHarness) -> None:
    card = await guarded.ask("scale deploy/api 0 -n prod", user=ALICE)
    await click(guarded, card, REJECT_ACTION, BOB)
    update = await guarded.slack.wait_for_post(
        lambda p: p.ts == card.ts and "Rejected" in p.text, method="chat.update"
    )
    assert "actions" not in [b["type"] for b in update.blocks]
    await guarded.settle()
    assert writes(guarded) == []


async def test_per_user_rate_limit_answers_kindly(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    policy = {**POLICY, "rate_limit": {"commands_per_minute": 1, "burst": 2}}
    async with running_bot(slack, kube, make_settings(kubeconfig, policy=policy)) as bot:
        harness = BotHarness(slack, kube, bot)
        await harness.ask("help")
        await harness.ask("help")
        third = await harness.ask("help")
        assert "try again in" in block_text(third)
        other = await harness.ask("help", user=BOB)
        assert "opsbot commands" in block_text(other)
