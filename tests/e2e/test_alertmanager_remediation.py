"""Remediations with a person in the loop: an alert proposes, a person approves or rejects, opsbot
scales through the fake API server or signals the downstream system (signed), once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from opsbot.alertmanager.cards import APPROVE_ACTION, REJECT_ACTION
from tests.support.am_world import STATUS_TOKEN, AmWorld, am_world
from tests.support.downstream import SECRET_BYTES, sign
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALICE, BOB, block_text
from tests.support.slack_emulator import Post, SlackEmulator

SATURATED = {"alertname": "ApiSaturated", "severity": "critical", "namespace": "web", "deployment": "api"}
DATABASE = {"alertname": "DatabaseDown", "severity": "critical", "namespace": "web", "instance": "db-1"}
APPROVE = f"{APPROVE_ACTION}:0"
REJECT = f"{REJECT_ACTION}:0"
CAROL = "U0CAROL01"  # bound to no role


@pytest_asyncio.fixture
async def world(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> AsyncIterator[AmWorld]:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    slack.add_user(ALICE, "alice")
    slack.add_user(BOB, "bob")
    async with am_world(slack, kube, kubeconfig, tmp_path) as made, made.running():
        yield made


def scale_writes(kube: FakeKubeServer) -> list[str]:
    return [r.path for r in kube.writes() if r.path.endswith("/deployments/api/scale")]


async def proposal(world: AmWorld, labels: dict[str, str], text: str) -> Post:
    await world.am.fire(labels)
    root = await world.root(labels["alertname"])
    return await world.card(root, text)


async def click(world: AmWorld, card: Post, action: str, user: str) -> None:
    assert world.harness is not None
    await world.harness.click_button(card, action, user=user)


async def test_approve_scales_once_and_follows_the_rollout(world: AmWorld) -> None:
    card = await proposal(world, SATURATED, "Approve")
    text = block_text(card)
    assert (
        "scale deploy/api 3" in text and "replicas 1 → 3" in text and "Waiting for approval (0 of 1" in text
    )
    await click(world, card, APPROVE, BOB)
    await world.reply(card, "Approved by")
    await world.reply(card, "Scaled deployment/api from 1 to 3 replicas")
    await world.reply(card, "rollout complete: 3/3 replicas available")
    final = await world.card(card, "rollout")
    assert APPROVE not in world.buttons(final)
    assert "Approved by" in block_text(final)
    assert scale_writes(world.kube) == ["/apis/apps/v1/namespaces/web/deployments/api/scale"]


async def test_two_people_approving_at_once_and_a_double_click_run_it_once(world: AmWorld) -> None:
    card = await proposal(world, SATURATED, "Approve")
    await asyncio.gather(
        click(world, card, APPROVE, BOB), click(world, card, APPROVE, ALICE), click(world, card, APPROVE, BOB)
    )
    await world.reply(card, "Scaled deployment/api")
    assert world.harness is not None
    await world.harness.settle()
    assert len(scale_writes(world.kube)) == 1
    notices = [p for p in world.slack.posts if p.method == "chat.postEphemeral"]
    assert len(notices) == 2 and all("already" in p.text for p in notices)


async def test_someone_without_the_permission_cannot_approve(world: AmWorld) -> None:
    card = await proposal(world, SATURATED, "Approve")
    await click(world, card, APPROVE, CAROL)
    notice = await world.slack.wait_for_post(method="chat.postEphemeral")
    assert notice.user == CAROL and "not allowed to approve" in notice.text
    assert world.harness is not None
    await world.harness.settle()
    assert scale_writes(world.kube) == []
    assert "Waiting for approval (0 of 1" in block_text(world.current(card))


async def test_reject_runs_nothing_and_says_who(world: AmWorld) -> None:
    card = await proposal(world, SATURATED, "Approve")
    await click(world, card, REJECT, BOB)
    await world.card(card, "Rejected by")
    await world.reply(card, "nothing will be done")
    assert world.harness is not None
    await world.harness.settle()
    assert scale_writes(world.kube) == []


async def test_approved_signal_is_delivered_once_signed_with_the_decision(world: AmWorld) -> None:
    card = await proposal(world, DATABASE, "Approve")
    assert "`failover db-1` → `deploybot`" in block_text(card)
    await click(world, card, APPROVE, BOB)
    await world.reply(card, "Signal delivered to deploybot (attempt 1, HTTP 200)")
    (received,) = world.downstream.received
    assert received.valid and received.idempotency_key == received.webhook_id
    body = received.body
    assert body["decision"] == "approved" and body["action"]["action"] == "failover db-1"
    assert body["decided_by"] == [{"id": BOB, "name": "bob"}]
    (alert,) = body["alerts"]
    assert alert["labels"] == DATABASE and len(alert["fingerprint"]) == 16
    assert body["incident"]["thread"].startswith("https://") and body["status_url"].endswith(
        f"/{body['id']}/status"
    )


async def test_a_rejection_is_signalled_too(world: AmWorld) -> None:
    card = await proposal(world, DATABASE, "Approve")
    await click(world, card, REJECT, ALICE)  # an admin, but the rule wants an operator
    notice = await world.slack.wait_for_post(method="chat.postEphemeral")
    assert "needs the operator role" in notice.text
    await click(world, card, REJECT, BOB)
    await world.reply(card, "Rejection signalled to deploybot")
    (received,) = world.downstream.received
    assert received.valid and received.body["decision"] == "rejected"
    await world.card(card, "Rejected by")


async def test_downstream_500_then_200_is_delivered_once_with_the_same_id(world: AmWorld) -> None:
    world.downstream.answers = [500, 503]
    card = await proposal(world, DATABASE, "Approve")
    await click(world, card, APPROVE, BOB)
    await world.reply(card, "attempt 3, HTTP 200")
    first, second, third = world.downstream.received
    assert [r.status for r in (first, second, third)] == [500, 503, 200]
    assert first.webhook_id == second.webhook_id == third.webhook_id
    assert first.body == third.body and all(r.valid for r in (first, second, third))
    assert len(world.downstream.delivered()) == 1


async def status(
    world: AmWorld, remediation_id: str, state: str, message: str, *, auth: str = "signed"
) -> int:
    body = json.dumps({"state": state, "message": message}).encode()
    if auth == "signed":
        headers = sign(SECRET_BYTES, f"msg_{state}_{time.monotonic_ns()}", int(time.time()), body)
    elif auth == "bearer":
        headers = {"Authorization": f"Bearer {STATUS_TOKEN}", "Content-Type": "application/json"}
    else:
        headers = sign(b"not-the-secret", "msg_forged", int(time.time()), body)
    async with aiohttp.ClientSession(trust_env=False) as http:
        url = f"{world.receiver}/alertmanager/actions/{remediation_id}/status"
        async with http.post(url, data=body, headers=headers) as response:
            return response.status


async def test_status_updates_are_shown_in_order_and_a_final_one_closes_it(world: AmWorld) -> None:
    card = await proposal(world, DATABASE, "Approve")
    await click(world, card, APPROVE, BOB)
    await world.reply(card, "Signal delivered")
    remediation_id = world.downstream.received[0].body["id"]
    assert await status(world, remediation_id, "in_progress", "forged", auth="forged") == 401
    assert await status(world, "no-such-action", "in_progress", "x") == 404
    assert await status(world, remediation_id, "accepted", "queued as job 7") == 200
    assert await status(world, remediation_id, "in_progress", "draining db-1", auth="bearer") == 200
    assert await status(world, remediation_id, "succeeded", "db-2 is primary") == 200
    await world.reply(card, "db-2 is primary")
    said = [line for line in world.thread(card) if "deploybot:" in line]
    assert [next(w for w in ("queued", "draining", "db-2") if w in line) for line in said] == [
        "queued",
        "draining",
        "db-2",
    ]
    assert "succeeded" in block_text(await world.card(card, "db-2 is primary"))
    assert await status(world, remediation_id, "in_progress", "too late") == 409


async def test_a_restart_between_decision_and_delivery_sends_the_signal_once(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    slack.add_user(BOB, "bob")
    targets = {"deploybot": {"url": "", "backoff_seconds": 30, "max_attempts": 5}}
    async with am_world(slack, kube, kubeconfig, tmp_path, signal_targets=targets) as world:
        world.downstream.answers = [503]
        async with world.running():
            card = await proposal(world, DATABASE, "Approve")
            await click(world, card, APPROVE, BOB)
            await world.downstream.wait_for(1)  # the first attempt failed; the retry waits 30 s
        async with world.running():
            await world.reply(card, "Signal delivered to deploybot (attempt 2, HTTP 200)")
            first, second = world.downstream.received
            assert first.webhook_id == second.webhook_id and second.valid
            assert len(world.downstream.delivered()) == 1
            assert len(world.roots()) == 1


async def test_a_pending_proposal_survives_a_restart_and_runs_once(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    async with am_world(slack, kube, kubeconfig, tmp_path) as world:
        async with world.running():
            card = await proposal(world, SATURATED, "Approve")
        async with world.running():
            await click(world, card, APPROVE, BOB)
            await world.reply(card, "Scaled deployment/api from 1 to 3 replicas")
            assert world.harness is not None
            await world.harness.settle()
            assert len(scale_writes(world.kube)) == 1
            assert len(world.roots()) == 1
            assert sum("Proposed:" in line for line in world.thread(card)) == 1
