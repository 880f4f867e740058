"""Approvals survive a round trip through the store's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from opsbot.approvals.codec import approval_from_dict, approval_to_dict
from opsbot.approvals.machine import Approval, ApprovalPolicy, Approve, Status, transition
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import (
    ChannelRef,
    Emphasis,
    Icon,
    Link,
    Mention,
    Mono,
    Strong,
    Text,
    text_from_data,
    text_to_data,
)

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


def test_changes_keep_their_formatting_and_old_plain_string_changes_still_load() -> None:
    plan = ActionPlan(
        "restart",
        "prod",
        "web",
        "deployment",
        "api",
        (Text("pods: ", Mono("api-1"), ", ", Mono("api-2")), "rollout restart: 2 pod(s) will be replaced"),
    )
    approval = Approval("id2", plan, "UREQ", "C1", None, T0, T0 + timedelta(minutes=15))
    stored = approval_to_dict(approval)
    assert stored["plan"]["changes"][0] == ["pods: ", {"mono": "api-1"}, ", ", {"mono": "api-2"}]
    assert approval_from_dict(stored) == approval
    stored["plan"]["changes"] = ["pods: `api-1`"]  # written before changes were neutral text
    assert approval_from_dict(stored).plan.changes == (Text("pods: `api-1`"),)


def test_every_span_kind_survives_the_store() -> None:
    text = Text(
        Strong("a ", Emphasis("b")),
        Mono("c"),
        Link("https://x.io", "x"),
        Mention("U1"),
        ChannelRef("C1"),
        *Icon,
        "\n",
    )
    assert text_from_data(json.loads(json.dumps(text_to_data(text)))) == text
