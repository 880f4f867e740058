"""The approval service around the pure machine: clicks that race on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from opsbot.approvals.machine import LONGEST_EXECUTION, Approval, ApprovalPolicy, Status
from opsbot.approvals.service import ApprovalService, InMemoryApprovals
from opsbot.console.render import plain
from opsbot.core.audit import Auditor
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Text
from opsbot.core.request import ChatRequest

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
PLAN = ActionPlan("scale", "prod", "web", "deployment", "api", ("replicas 3 → 1",), {"replicas": 1})


class Clock:
    def now(self) -> datetime:
        return NOW


class Surface:
    def __init__(self) -> None:
        self.notices: list[tuple[str, Text]] = []

    async def update_card(self, approval: Approval) -> None:
        return None

    async def notify(self, user: str, text: Text) -> None:
        self.notices.append((user, text))

    async def tell_thread(self, approval: Approval, text: Text) -> None:
        return None


async def test_two_approvals_racing_through_a_slow_name_lookup_execute_once() -> None:
    """Each click awaits the clicker's display name first; the approval is read after that await,
    so the second click sees the first one's outcome and cannot start the action again."""
    executed: list[ActionPlan] = []

    async def execute(plan: ActionPlan, origin: object = None) -> str:
        executed.append(plan)
        return "done"

    async def slow_name(user: str) -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return user.lower()

    service = ApprovalService(InMemoryApprovals(), execute, Clock(), timedelta(minutes=15))
    service.names = slow_name
    request = ChatRequest("r1", "UREQ", "C1", "scale deploy/api 1", "mention")
    approval = await service.open(PLAN, request, ApprovalPolicy(requester_may_confirm=False, approvals_required=1))
    surface = Surface()
    await asyncio.gather(
        service.approve(approval.id, "UBOB", surface, allowed=True),
        service.approve(approval.id, "UCAROL", surface, allowed=True),
    )
    assert executed == [PLAN]
    assert any("already" in plain(text) for _user, text in surface.notices)


class AuditLog:
    def __init__(self) -> None:
        self.records: list[dict[str, object]] = []

    def append_audit(self, at: float, user_id: str, kind: str, data: dict[str, object]) -> None:
        self.records.append(data)

    def audit_records(self, *, user_id: str | None = None, last: int = 20) -> list[dict[str, object]]:
        return self.records[-last:]


async def test_refused_clicks_are_audited_as_denials() -> None:
    """Approving your own request, cancelling someone else's: nothing changes, and the trail says so."""
    async def execute(plan: ActionPlan, origin: ActionOrigin | None) -> str:
        return "done"

    trail = AuditLog()
    service = ApprovalService(InMemoryApprovals(), execute, Clock(), timedelta(minutes=15))
    service.auditor = Auditor(trail)
    request = ChatRequest("r1", "UREQ", "C1", "scale deploy/api 1", "mention")
    approval = await service.open(PLAN, request, ApprovalPolicy(requester_may_confirm=False, approvals_required=1))
    await service.approve(approval.id, "UREQ", Surface(), allowed=True)
    await service.cancel(approval.id, "UOTHER", Surface())
    denied = [record for record in trail.records if record["kind"] == "denied"]
    assert [(r["user_id"], str(r["command"]).split()[0]) for r in denied] == [("UREQ", "approve"), ("UOTHER", "cancel")]
    assert "cannot approve your own request" in str(denied[0]["outcome"])
    assert await service.get(approval.id) is not None and (await service.get(approval.id)).status.value == "pending"  # type: ignore[union-attr]


class MovingClock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


async def test_replicas_fail_only_executions_orphaned_longer_than_any_action_takes() -> None:
    """Several replicas share the store: an action executing there may be running on another
    replica right now. Only one executing for longer than any action takes, and not run by
    this process, is said to be interrupted."""
    release = asyncio.Event()
    running_here, running_there = asyncio.Event(), asyncio.Event()

    def executor(started: asyncio.Event) -> Callable[[ActionPlan, object], Awaitable[str]]:
        async def execute(plan: ActionPlan, origin: object = None) -> str:
            started.set()
            await release.wait()
            return "done"

        return execute

    clock = MovingClock()
    shared = InMemoryApprovals()
    here = ApprovalService(shared, executor(running_here), clock, timedelta(minutes=15))
    there = ApprovalService(shared, executor(running_there), clock, timedelta(minutes=15))
    policy = ApprovalPolicy(requester_may_confirm=True, approvals_required=1)
    surface = Surface()
    mine = await here.open(PLAN, ChatRequest("r1", "UREQ", "C1", "scale deploy/api 1", "mention"), policy)
    theirs = await there.open(PLAN, ChatRequest("r2", "UREQ", "C1", "scale deploy/api 1", "mention"), policy)
    mine_task = asyncio.create_task(here.confirm(mine.id, "UREQ", surface))
    theirs_task = asyncio.create_task(there.confirm(theirs.id, "UREQ", surface))
    await running_here.wait()
    await running_there.wait()
    theirs_task.cancel()  # that replica dies mid-action; its record still says executing
    await asyncio.gather(theirs_task, return_exceptions=True)

    clock.at = NOW + timedelta(minutes=5)
    assert await here.fail_interrupted(surface, started_before=clock.at - LONGEST_EXECUTION) == 0
    clock.at = NOW + LONGEST_EXECUTION + timedelta(minutes=1)
    assert await here.fail_interrupted(surface, started_before=clock.at - LONGEST_EXECUTION) == 1
    orphan = await shared.get(theirs.id)
    assert orphan is not None and orphan.status is Status.FAILED and "interrupted" in (orphan.result or "")
    # Its own action is still running here: not touched, however long it has been.
    assert (still := await shared.get(mine.id)) is not None and still.status is Status.EXECUTING
    release.set()
    await mine_task
    assert (done := await shared.get(mine.id)) is not None and done.status is Status.SUCCEEDED
