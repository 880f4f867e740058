"""Remediations without a network: decisions through the approval machine, exactly once, and what
a restart finds (decided but not run, running, a signal still to send)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from opsbot.alertmanager.delivery import Attempt
from opsbot.alertmanager.groups import AlertGroup
from opsbot.alertmanager.planning import REQUESTER
from opsbot.alertmanager.remediation import Delivery, Remediation, StatusUpdate
from opsbot.alertmanager.remediations import Remediations
from opsbot.alertmanager.settings import AlertmanagerSettings, SignalTarget
from opsbot.alertmanager.state import State
from opsbot.alerts.incidents import Incident
from opsbot.approvals.machine import Approval, ApprovalPolicy, Status
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Text
from opsbot.policy import Policy, PolicySettings, Subject, VerbGroups
from opsbot.store.sqlite import SqliteStore

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
BOB, ALICE, CAROL = "U0BOB0001", "U0ALICE01", "U0CAROL01"
SETTINGS = AlertmanagerSettings.model_validate(
    {
        "enabled": True,
        "signal_targets": {
            "deploybot": {"url": "https://d.example", "max_attempts": 3, "backoff_seconds": 1}
        },
        "remediations": [
            {"name": "scale", "match": {"alertname": "X"}, "command": "scale deploy/api 3"},
            {
                "name": "tell",
                "match": {"alertname": "Y"},
                "signal": {"target": "deploybot", "action": "fix"},
                "approvers_role": "operator",
            },
        ],
    }
)


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


@dataclass
class Publishing:
    said: list[tuple[str, str]] = field(default_factory=list)

    def announce(self, key: str, text: Text | None = None) -> None:
        self.said.append((key, "".join(str(s) for s in text.spans) if text else ""))


@dataclass
class Sender:
    answers: list[Attempt] = field(default_factory=list)
    sent: list[Delivery] = field(default_factory=list)

    def target(self, name: str) -> SignalTarget | None:
        return SETTINGS.signal_targets.get(name)

    async def attempt(self, delivery: Delivery) -> Attempt:
        self.sent.append(delivery)
        return self.answers.pop(0) if self.answers else Attempt(True, True, 200, "")


@dataclass
class World:
    state: State
    service: Remediations
    publishing: Publishing
    sender: Sender
    clock: Clock
    runs: list[ActionPlan]
    notices: list[tuple[str, str]]
    slept: list[float]
    backing_off: asyncio.Event


def world(store: SqliteStore | None = None, *, run_delay: float = 0.0, long_backoff: bool = False) -> World:
    state = State(store or SqliteStore(":memory:"))
    state.put_group(AlertGroup("am/k", "opsbot", "gk", {"alertname": "X"}))
    publishing, sender, clock = Publishing(), Sender(), Clock()
    runs: list[ActionPlan] = []
    notices: list[tuple[str, str]] = []
    slept: list[float] = []
    backing_off = asyncio.Event()

    async def run_plan(plan: ActionPlan, origin: ActionOrigin | None) -> str:
        runs.append(plan)
        await asyncio.sleep(run_delay)
        return "Scaled deployment/api from 1 to 3 replicas."

    async def notify(channel: str, user: str, text: Text) -> None:
        notices.append((user, "".join(str(s) for s in text.spans)))

    async def name(user: str) -> str:
        return user.lower()

    async def link(channel: str, ts: str | None) -> str:
        return "https://slack.example/thread"

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        backing_off.set()
        if long_backoff:
            await asyncio.Event().wait()  # the bot stops before the retry

    policy = Policy(
        PolicySettings.model_validate({"bindings": [{"role": "operator", "users": [BOB, ALICE]}]}),
        VerbGroups(read=frozenset({"pods"}), write=frozenset({"scale", "restart"})),
    )
    service = Remediations(
        SETTINGS,
        state,
        cast(Any, publishing),
        run_plan,
        cast(Any, sender),
        policy,
        clock,
        notify=notify,
        names=name,
        thread_link=link,
        incident=lambda key: cast(Incident | None, None),
        follow=lambda remediation: None,
        status_path=lambda rid: f"/alertmanager/actions/{rid}/status",
        sleep=sleep,
    )
    return World(state, service, publishing, sender, clock, runs, notices, slept, backing_off)


def remediation(kind: str = "command", status: Status = Status.PENDING, **changes: Any) -> Remediation:
    plan = ActionPlan(
        verb="scale" if kind == "command" else "signal",
        cluster="test",
        namespace="web",
        kind="deployment" if kind == "command" else "signal",
        name="api" if kind == "command" else "deploybot",
        changes=("replicas 1 → 3",),
        params={"replicas": 3, "from": 1},
    )
    approval = Approval(
        id="r1",
        plan=plan,
        requester=REQUESTER,
        channel="C0ALERTS01",
        thread="1.1",
        created_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        status=status,
        policy=ApprovalPolicy(requester_may_confirm=False, approvals_required=1),
    )
    made = Remediation(
        id="r1",
        rule="scale" if kind == "command" else "tell",
        incident_key="am/k",
        incident_id="am/k@1",
        kind=kind,
        action="scale deploy/api 3" if kind == "command" else "fix",
        target="" if kind == "command" else "deploybot",
        cluster="test",
        namespace="web",
        fingerprints=(),
        created_at=NOW,
        approval=approval,
    )
    return replace(made, **changes)


def subject(user: str) -> Subject:
    return Subject(user, frozenset(), "C0ALERTS01")


async def settle(w: World) -> None:
    await w.service.idle()


async def test_concurrent_approvals_run_the_command_once() -> None:
    w = world(run_delay=0.01)
    w.state.put_remediation(remediation())
    await asyncio.gather(*(w.service.decide("r1", True, subject(u), "C0ALERTS01") for u in (BOB, ALICE, BOB)))
    await settle(w)
    assert len(w.runs) == 1
    final = w.state.remediation("r1")
    assert final is not None and final.status is Status.SUCCEEDED and final.run == "done"
    assert len(w.notices) == 2


async def test_the_requester_is_never_a_person_and_a_role_is_needed() -> None:
    w = world()
    w.state.put_remediation(remediation())
    await w.service.decide("r1", True, subject(CAROL), "C0ALERTS01")
    assert w.runs == [] and "not allowed to approve" in w.notices[0][1]
    current = w.state.remediation("r1")
    assert current is not None and current.pending and current.approval is not None
    assert current.approval.requester == "Alertmanager" and current.approval.policy.second_person_required


async def test_after_a_restart_a_decided_command_runs_once() -> None:
    store = SqliteStore(":memory:")
    first = world(store)
    first.state.put_remediation(remediation(status=Status.EXECUTING, run="decided"))
    second = world(store)
    second.state.load()
    second.service.resume()
    await settle(second)
    assert len(second.runs) == 1
    final = second.state.remediation("r1")
    assert final is not None and final.status is Status.SUCCEEDED


async def test_after_a_restart_a_command_that_was_running_is_reported_not_rerun() -> None:
    store = SqliteStore(":memory:")
    world(store).state.put_remediation(remediation(status=Status.EXECUTING, run="started"))
    second = world(store)
    second.state.load()
    second.service.resume()
    await settle(second)
    final = second.state.remediation("r1")
    assert second.runs == []
    assert final is not None and final.approval is not None
    assert final.status is Status.FAILED and "interrupted by a restart" in final.approval.result


async def test_a_decided_signal_is_sent_after_a_restart_with_its_stable_id() -> None:
    store = SqliteStore(":memory:")
    first = world(store, long_backoff=True)
    first.state.put_remediation(remediation("signal"))
    first.sender.answers = [Attempt(False, False, 503, "HTTP 503")]
    await first.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    await first.backing_off.wait()
    await first.service.drain()  # stopped during the back-off
    second = world(store)
    second.state.load()
    second.service.resume()
    await settle(second)
    assert [d.webhook_id for d in first.sender.sent + second.sender.sent] == ["msg_r1", "msg_r1"]
    assert first.sender.sent[0].body == second.sender.sent[0].body
    final = second.state.remediation("r1")
    assert final is not None and final.delivery is not None and final.delivery.state == "delivered"
    assert final.delivery.attempts == 2 and final.status is Status.SUCCEEDED and not final.closed


async def test_retries_back_off_and_a_refusal_is_final() -> None:
    w = world()
    w.state.put_remediation(remediation("signal"))
    w.sender.answers = [Attempt(False, False, None, "timed out"), Attempt(False, True, 400, "HTTP 400")]
    await w.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    await settle(w)
    assert w.slept == [1.0]
    final = w.state.remediation("r1")
    assert final is not None and final.delivery is not None
    assert final.delivery.state == "failed" and "refused" in final.delivery.error
    assert final.status is Status.FAILED and final.closed == "failed"


async def test_a_rejected_signal_tells_the_target_and_closes() -> None:
    w = world()
    w.state.put_remediation(remediation("signal"))
    await w.service.decide("r1", False, subject(BOB), "C0ALERTS01")
    await settle(w)
    (sent,) = w.sender.sent
    assert '"decision":"rejected"' in sent.body
    final = w.state.remediation("r1")
    assert final is not None and final.closed == "rejected"


@pytest.mark.parametrize(("how", "closed"), [("expire", "expired"), ("resolve", "withdrawn")])
async def test_proposals_nobody_decided_expire_or_are_withdrawn_when_the_alerts_resolve(
    how: str, closed: str
) -> None:
    w = world()
    w.state.put_remediation(remediation())
    group = w.state.group("am/k")
    assert group is not None
    w.state.put_group(replace(group, remediations=("r1",)))
    if how == "expire":
        w.clock.at = NOW + timedelta(hours=2)
        await w.service.sweep()
    else:
        incident = cast(Incident, type("I", (), {"id": "am/k@1"})())
        w.service.on_resolved(cast(AlertGroup, w.state.group("am/k")), incident)
    final = w.state.remediation("r1")
    assert final is not None and final.closed == closed and not final.pending
    await w.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    assert w.runs == [] and "already" in w.notices[-1][1]


def test_status_updates_append_and_a_final_one_closes() -> None:
    w = world()
    w.state.put_remediation(remediation("signal", status=Status.SUCCEEDED))
    w.service.update("r1", StatusUpdate("in_progress", "half", NOW, "deploybot"))
    updated = w.service.update("r1", StatusUpdate("succeeded", "done", NOW, "deploybot"))
    assert updated is not None and [u.state for u in updated.updates] == ["in_progress", "succeeded"]
    assert updated.closed == "succeeded"
    assert w.service.update("nope", StatusUpdate("succeeded", "", NOW, "x")) is None
