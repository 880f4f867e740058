"""The Alertmanager group card and rollout judgement (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsbot.alertmanager.cards import APPROVE_ACTION, REJECT_ACTION, group_card
from opsbot.alertmanager.groups import AlertGroup, SilenceNote, group_identity
from opsbot.alertmanager.payload import AmAlert
from opsbot.alertmanager.remediation import Delivery, Remediation, StatusUpdate
from opsbot.alertmanager.rollouts import rollout_outcome
from opsbot.alerts.actions import SILENCE_1H_ACTION, SILENCE_4H_ACTION, SILENCE_24H_ACTION
from opsbot.alerts.findings import AlertKind, Severity, Workload
from opsbot.alerts.incidents import Incident, IncidentState
from opsbot.approvals.machine import Approval, ApprovalPolicy, Status, Step
from opsbot.core.plan import ActionPlan
from opsbot.slack.render import render
from tests.support.harness import block_text
from tests.support.slack_emulator import Post

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
KEY = group_identity("opsbot", {"alertname": "HighLatency"})


def alert(fingerprint: str, instance: str, status: str = "firing") -> AmAlert:
    return AmAlert(
        fingerprint=fingerprint,
        status=status,
        labels={"alertname": "HighLatency", "namespace": "web", "instance": instance},
        annotations={"summary": "p99 high"},
        starts_at=NOW,
        ends_at=NOW if status == "resolved" else None,
        generator_url="http://prom/graph",
    )


def group(*alerts: AmAlert, **changes: Any) -> AlertGroup:
    made = AlertGroup(KEY, "opsbot", "gk", {"alertname": "HighLatency"}, external_url="http://am:9093")
    for item in alerts:
        made, _ = made.merge(item, NOW)
    return replace(made, **changes)


def incident(state: IncidentState = IncidentState.OPEN) -> Incident:
    return Incident(
        id=f"{KEY}@1",
        key=KEY,
        kind=AlertKind.ALERTMANAGER,
        severity=Severity.CRITICAL,
        cluster="test",
        namespace="web",
        workload=Workload("Alert", "HighLatency"),
        subject_kind="Alert",
        channel="C0ALERTS01",
        opened_at=NOW,
        updated_at=NOW,
        state=state,
        resolved_at=NOW + timedelta(minutes=5) if state is IncidentState.RESOLVED else None,
    )


def text_of(reply: Any) -> str:
    rendered = render(reply)
    return block_text(Post("chat.postMessage", "C", "1.1", rendered.text, rendered.blocks, None, None, {}))


def remediation(status: Status, **changes: Any) -> Remediation:
    plan = ActionPlan("scale", "test", "web", "deployment", "api", ("replicas 1 → 3",))
    history = (Step("approved", "U0BOB0001", NOW),) if status is not Status.PENDING else ()
    if status is Status.REJECTED:
        history = (Step("rejected", "U0BOB0001", NOW),)
    approval = Approval(
        "r1", plan, "Alertmanager", "C0ALERTS01", None, NOW, NOW + timedelta(hours=4), status,
        ApprovalPolicy(requester_may_confirm=False), history, "Scaled it." if status is Status.SUCCEEDED else "",
    )  # fmt: skip
    made = Remediation(
        "r1",
        "scale-api",
        KEY,
        f"{KEY}@1",
        "command",
        "scale deploy/api 3",
        "",
        "test",
        "web",
        (),
        NOW,
        approval,
    )
    return replace(made, **changes)


def buttons(reply: Any) -> list[str]:
    return [button.action_id for button in reply.buttons]


def test_a_firing_group_lists_its_alerts_with_links_and_silence_buttons() -> None:
    reply = group_card(
        incident(),
        group(alert("a" * 16, "api-1"), alert("b" * 16, "api-2")),
        [],
        alertmanager_url="http://am:9093",
        now=NOW,
    )
    text = text_of(reply)
    assert "HighLatency in web — 2 firing" in text and "instance=api-1" in text and "instance=api-2" in text
    assert (
        "<http://prom/graph|source>" in text and "http://am:9093/#/alerts?receiver=opsbot&amp;filter=" in text
    )
    assert buttons(reply) == [SILENCE_1H_ACTION, SILENCE_4H_ACTION, SILENCE_24H_ACTION]
    assert reply.tone == "error"


def test_a_pending_proposal_shows_what_will_change_and_approve_reject() -> None:
    reply = group_card(
        incident(),
        group(alert("a" * 16, "api-1")),
        [remediation(Status.PENDING)],
        alertmanager_url="",
        now=NOW,
    )
    text = text_of(reply)
    assert (
        "scale deploy/api 3" in text and "replicas 1 → 3" in text and "Waiting for approval (0 of 1)" in text
    )
    assert buttons(reply)[:2] == [f"{APPROVE_ACTION}:0", f"{REJECT_ACTION}:0"]


@pytest.mark.parametrize(
    ("status", "changes", "said"),
    [
        (Status.EXECUTING, {}, "Approved by <@U0BOB0001> · running…"),
        (Status.SUCCEEDED, {}, "Approved by <@U0BOB0001> · Scaled it."),
        (Status.REJECTED, {}, "Rejected by <@U0BOB0001>"),
        (Status.EXPIRED, {}, "Expired: nobody decided in time"),
        (Status.CANCELLED, {}, "Withdrawn: its alerts resolved"),
        (
            Status.SUCCEEDED,
            {"kind": "signal", "target": "deploybot",
             "delivery": Delivery("msg_r1", "approved", "deploybot", "{}", "delivered", 2, 200),
             "updates": (StatusUpdate("in_progress", "draining", NOW, "deploybot"),)},
            "deploybot: *in_progress* — draining",
        ),
    ],
)  # fmt: skip
def test_the_card_says_who_decided_and_what_happened(
    status: Status, changes: dict[str, Any], said: str
) -> None:
    reply = group_card(
        incident(),
        group(alert("a" * 16, "api-1")),
        [remediation(status, **changes)],
        alertmanager_url="",
        now=NOW,
    )
    assert said in text_of(reply)
    assert not any(b.startswith(APPROVE_ACTION) for b in buttons(reply))


def test_silences_show_who_until_when_and_how_they_ended() -> None:
    notes = (
        SilenceNote(("5a1ence01xxxxxxx",), "U0ALICE01", "alice", NOW + timedelta(hours=2), ("a" * 16,)),
        SilenceNote(("0ld5113nce",), "U0BOB0001", "bob", NOW, ("a" * 16,), "expired", NOW),
        SilenceNote(("gone0000x",), "U0BOB0001", "bob", NOW, ("a" * 16,), "removed", NOW, "U0ALICE01"),
    )
    text = text_of(
        group_card(
            incident(), group(alert("a" * 16, "api-1"), silences=notes), [], alertmanager_url="", now=NOW
        )
    )
    assert "Silenced by <@U0ALICE01> until <!date^1893506400^{date_short_pretty} {time}|2030-01-01 14:00 UTC> (`5a1ence0`)" in text
    assert "The silence by <@U0BOB0001> expired at <!date^1893499200^{date_short_pretty} {time}|2030-01-01 12:00 UTC>" in text
    assert "was removed by <@U0ALICE01>" in text


def test_a_resolved_group_has_no_buttons() -> None:
    reply = group_card(
        incident(IncidentState.RESOLVED),
        group(alert("a" * 16, "api-1", "resolved")),
        [remediation(Status.PENDING)],
        alertmanager_url="",
        now=NOW,
    )
    assert buttons(reply) == [] and "Resolved after 5m" in text_of(reply) and reply.tone == "success"


def deployment(
    generation: int,
    observed: int,
    desired: int,
    updated: int,
    available: int,
    reason: str = "NewReplicaSetAvailable",
) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": desired},
        "status": {
            "observedGeneration": observed, "replicas": updated, "updatedReplicas": updated, "availableReplicas": available,
            "conditions": [{"type": "Progressing", "status": "False" if reason == "ProgressDeadlineExceeded" else "True", "reason": reason}],
        },
    }  # fmt: skip


def test_a_rollout_is_done_only_once_observed_and_every_replica_is_updated_and_available() -> None:
    assert rollout_outcome(deployment(2, 1, 3, 1, 1)) is None  # not observed yet
    assert rollout_outcome(deployment(2, 2, 3, 2, 1)) is None  # rolling
    done = rollout_outcome(deployment(2, 2, 3, 3, 3))
    assert done is not None and done.state == "succeeded" and "3/3" in done.message
    stuck = rollout_outcome(deployment(2, 2, 3, 2, 1, "ProgressDeadlineExceeded"))
    assert stuck is not None and stuck.state == "failed"
