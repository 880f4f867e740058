"""Releases from chat, end to end: the real bot, two fake clusters, the fleet repository on a
git server over smart HTTP, the test Flux applying every push, and the Slack emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from opsbot.approvals.cards import APPROVE_ACTION, CONFIRM_ACTION
from opsbot.core.reply import run_button
from opsbot.releases.changes import history_entry
from tests.support.harness import ALICE, BOB, block_text, button_value
from tests.support.release_harness import ReleaseHarness, release_bot
from tests.support.slack_emulator import SlackEmulator

ROLL_BACK = run_button("Roll back", "").action_id  # the one button on a failed release's notice


@pytest_asyncio.fixture
async def fleet(slack: SlackEmulator, tmp_path: Path) -> AsyncIterator[ReleaseHarness]:
    async with release_bot(slack, tmp_path) as harness:
        yield harness


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


async def test_a_promotion_to_prod_needs_a_second_person_and_is_followed_until_available(
    fleet: ReleaseHarness,
) -> None:
    before = fleet.server.read("apps/prod/podinfo-values.yaml")
    card = await fleet.ask("promote podinfo@6.6.0 to prod")
    text = block_text(card)
    assert "Approval needed" in text, text
    assert "podinfo on prod: 6.5.1 → 6.6.0" in text
    assert "apps/prod/podinfo-values.yaml" in text and "spec.chart.spec.version" in text
    # The requester cannot approve their own promotion; nothing is committed.
    await fleet.click_button(card, APPROVE_ACTION, user=ALICE)
    await fleet.settle()
    assert fleet.server.read("apps/prod/podinfo-values.yaml") == before
    await fleet.click_button(card, APPROVE_ACTION, user=BOB)
    committed = await fleet.wait_text("committed", thread_ts=card.thread_ts)
    assert "podinfo on prod: 6.5.1 → 6.6.0" in committed.text
    done = await fleet.wait_text("podinfo 6.6.0 available on prod (2/2)", thread_ts=card.thread_ts)
    assert f"<@{ALICE}>" in block_text(done)
    # The commit: one line changed, the comment kept; message and trailers name the people.
    after = fleet.server.read("apps/prod/podinfo-values.yaml")
    assert changed_lines(before, after) == [
        ('      version: "6.5.1"  # pinned', '      version: "6.6.0"  # pinned')
    ]
    sha, message = fleet.server.log()[0]
    assert message.startswith("Promote podinfo 6.5.1 → 6.6.0 on prod")
    entry = history_entry(sha, 0, message)
    assert entry is not None
    assert ALICE in entry.requested_by and any(BOB in who for who in entry.approved_by)
    # The live status says each step; the card ends with it too.
    status = await fleet.wait_text("available on prod", thread_ts=card.thread_ts, method="chat.update")
    assert "committed" in block_text(status)
    # Stage did not move.
    stage = fleet.clusters["stage"].get("deployments", "podinfo", "podinfo")
    assert stage is not None and stage["metadata"]["labels"]["app.kubernetes.io/version"] == "6.5.2"
    # history reads opsbot's own record.
    reply = await fleet.ask("history podinfo --cluster prod")
    history = block_text(reply)
    assert "6.6.0 (running)" in history and "promote by" in history and "6.5.1" in history


async def test_promote_app_to_cluster_takes_the_version_running_on_the_source(fleet: ReleaseHarness) -> None:
    card = await fleet.ask("promote web to prod")
    assert "web on prod: 1.3.2 → 1.4.0" in block_text(card)


async def test_stage_is_self_confirmed_and_a_failed_rollout_offers_a_roll_back(fleet: ReleaseHarness) -> None:
    assert fleet.flux is not None
    fleet.flux.mode["stage"] = "fail-rollout"
    card = await fleet.ask("promote worker@2.1.0 to stage")
    assert "Confirm" in block_text(card) and "worker on stage: 2.0.0 → 2.1.0" in block_text(card)
    await fleet.click_button(card, CONFIRM_ACTION)
    failed = await fleet.wait_text("failed", thread_ts=card.thread_ts)
    text = block_text(failed)
    assert "CrashLoopBackOff" in text  # the failing pods and why
    assert button_value(failed, ROLL_BACK) == "rollback worker on stage"
    # Roll back: the same command path (a new card), back to the last version that was available.
    fleet.flux.mode["stage"] = "apply"
    await fleet.click_button(failed, ROLL_BACK)
    rollback = await fleet.wait_text("Confirm: rollback", thread_ts=card.thread_ts)
    assert "worker on stage: 2.1.0 → 2.0.0" in block_text(rollback)
    await fleet.click_button(rollback, CONFIRM_ACTION)
    await fleet.wait_text("worker 2.0.0 available on stage", thread_ts=card.thread_ts)
    assert "registry:5000/org/worker:2.0.0" in fleet.server.read("apps/stage/worker.yaml")
    _sha, message = fleet.server.log()[0]
    assert message.startswith("Roll back worker 2.1.0 → 2.0.0 on stage")
    # The failed version is history too: committed, never available.
    history = block_text(await fleet.ask("history worker --cluster stage"))
    assert "2.1.0 (never available)" in history and "promote by" in history, history
    assert "2.0.0 (running)" in history and "rollback by" in history
