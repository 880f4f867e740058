"""Approvals survive a round trip through the store's JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsbot.approvals.codec import approval_from_dict, approval_to_dict
from opsbot.approvals.machine import Approval, ApprovalPolicy, Approve, Status, transition
from opsbot.core.plan import ActionPlan

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_round_trip_keeps_every_field() -> None:
    plan = ActionPlan(
        "scale", "prod", "web", "deployment", "api", ("replicas 3 → 0",), {"replicas": 0, "from": 3}
    )
    approval = Approval(
        "id1",
        plan,
        "UREQ",
        "C1",
        "1.1",
        T0,
        T0 + timedelta(minutes=15),
        policy=ApprovalPolicy(
            requester_may_confirm=False, approvals_required=2, approvers=frozenset({"UA", "UB"})
        ),
        card="2.2",
    )
    approved, _ = transition(approval, Approve("UA", T0 + timedelta(minutes=1)))
    restored = approval_from_dict(approval_to_dict(approved))
    assert restored == approved
    assert restored.status is Status.PENDING and restored.approvers == ("UA",)
