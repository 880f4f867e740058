"""Approval cards say what will change while pending, and what changed once done, once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from opsbot.approvals.cards import approval_card
from opsbot.approvals.machine import Approval, Status
from opsbot.core.plan import ActionPlan
from opsbot.slack.render import render

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
PLAN = ActionPlan("scale", "prod", "web", "deployment", "api", ("replicas 3 → 1",), {"replicas": 1, "from": 3})
PENDING = Approval("a1", PLAN, "UREQ", "C1", None, NOW, NOW + timedelta(minutes=15))


def text(approval: Approval) -> str:
    rendered = render(approval_card(approval))
    return "\n".join(str(block) for block in rendered.blocks)


def test_a_pending_card_says_what_will_change() -> None:
    assert "What will change" in text(PENDING)


def test_a_done_card_says_what_changed_and_does_not_repeat_the_result() -> None:
    done = replace(PENDING, status=Status.SUCCEEDED, result="Scaled deployment/api from 3 to 1 replicas.")
    shown = text(done)
    assert "What changed" in shown and "What will change" not in shown
    assert "Scaled deployment/api" not in shown and "replicas 3 → 1" in shown


def test_a_failed_card_keeps_the_reason() -> None:
    failed = replace(PENDING, status=Status.FAILED, result="could not scale: conflict")
    shown = text(failed)
    assert "could not scale: conflict" in shown and "What was to change" in shown
