"""One replica's remediations without a network (a fake Slack, sender and clock over a real
store): the unit tests' world, and each replica's in the two-replica race tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from opsbot.alertmanager.delivery import Attempt
from opsbot.alertmanager.groups import AlertGroup
from opsbot.alertmanager.planning import REQUESTER
from opsbot.alertmanager.remediation import Delivery, Remediation
from opsbot.alertmanager.remediations import Remediations
from opsbot.alertmanager.settings import AlertmanagerSettings, SignalTarget
from opsbot.alertmanager.state import AlertmanagerStore, State
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
    followed: list[str]


async def world(
    store: AlertmanagerStore | None = None,
    *,
    run_delay: float = 0.0,
    long_backoff: bool = False,
    shared: bool = False,
) -> World:
    state = State(store or SqliteStore(":memory:"))
    if await state.stored_group("am/k") is None:  # the first replica on this store
        await state.put_group(AlertGroup("am/k", "opsbot", "gk", {"alertname": "X"}))
    else:
        await state.load()
    publishing, sender, clock = Publishing(), Sender(), Clock()
    runs: list[ActionPlan] = []
    notices: list[tuple[str, str]] = []
    slept: list[float] = []
    followed: list[str] = []
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
        follow=lambda remediation: followed.append(remediation.id),
        status_path=lambda rid: f"/alertmanager/actions/{rid}/status",
        sleep=sleep,
        shared=shared,
    )
    return World(state, service, publishing, sender, clock, runs, notices, slept, backing_off, followed)


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
