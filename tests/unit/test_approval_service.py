"""The approval service around the pure machine: clicks that race on the event loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from opsbot.approvals.machine import Approval, ApprovalPolicy
from opsbot.approvals.service import ApprovalService, InMemoryApprovals
from opsbot.console.render import plain
from opsbot.core.plan import ActionPlan
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
    approval = service.open(PLAN, request, ApprovalPolicy(requester_may_confirm=False, approvals_required=1))
    surface = Surface()
    await asyncio.gather(
        service.approve(approval.id, "UBOB", surface, allowed=True),
        service.approve(approval.id, "UCAROL", surface, allowed=True),
    )
    assert executed == [PLAN]
    assert any("already" in plain(text) for _user, text in surface.notices)
