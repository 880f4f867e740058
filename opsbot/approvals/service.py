"""Runs the approval machine: keeps approvals, performs the effects it asks for."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from opsbot.approvals.machine import (
    Approval,
    ApprovalPolicy,
    Approve,
    Cancel,
    Confirm,
    Effect,
    Event,
    Execute,
    Expire,
    Finish,
    Notify,
    Reject,
    Status,
    TellThread,
    UpdateCard,
    transition,
)
from opsbot.core.audit import Auditor, AuditRecord
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Text
from opsbot.core.request import ChatRequest
from opsbot.errors import OpsbotError
from opsbot.ports import Clock
from opsbot.telemetry import NOOP_ERRORS, NOOP_TRACER, ErrorReporter, Tracer

log = structlog.get_logger("opsbot.approvals")

Executor = Callable[[ActionPlan, ActionOrigin], Awaitable[str]]
"""Runs an approved plan (told who asked, who approved and where); returns one sentence."""

MAX_ATTEMPTS = 5
"""Compare-and-set attempts per event: each failure means another writer made progress."""


def _next(before: Approval, after: Approval) -> Approval:
    """`after` as the next revision of `before` (what `ApprovalRepository.replace` expects)."""
    return replace(after, revision=before.revision + 1)


class ApprovalRepository(Protocol):
    async def get(self, approval_id: str) -> Approval | None: ...

    async def put(self, approval: Approval) -> None:
        """Store a new approval (no check: its id is fresh)."""
        ...

    async def replace(self, before: Approval, after: Approval) -> bool:
        """Store `after` only if the stored record is still at `before.revision`
        (compare-and-set); False, changing nothing, when another writer got there first."""
        ...

    async def pending(self) -> list[Approval]: ...

    async def executing(self) -> list[Approval]: ...


class InMemoryApprovals:
    """Good for one process; the store issue replaces it with a persistent one."""

    def __init__(self) -> None:
        self._items: dict[str, Approval] = {}

    async def get(self, approval_id: str) -> Approval | None:
        return self._items.get(approval_id)

    async def put(self, approval: Approval) -> None:
        self._items[approval.id] = approval
        if len(self._items) > 10_000:
            for key in [k for k, v in self._items.items() if v.status.final][:1000]:
                del self._items[key]

    async def replace(self, before: Approval, after: Approval) -> bool:
        stored = self._items.get(before.id)
        if stored is None or stored.revision != before.revision:
            return False
        await self.put(after)
        return True

    async def pending(self) -> list[Approval]:
        return [a for a in self._items.values() if a.status is Status.PENDING]

    async def executing(self) -> list[Approval]:
        return [a for a in self._items.values() if a.status is Status.EXECUTING]


class ApprovalSurface(Protocol):
    """Where an approval is shown: its card, private notices, its thread."""

    async def update_card(self, approval: Approval) -> None: ...

    async def notify(self, user: str, text: Text) -> None: ...

    async def tell_thread(self, approval: Approval, text: Text) -> None: ...


class ApprovalService:
    def __init__(
        self,
        repository: ApprovalRepository,
        executor: Executor,
        clock: Clock,
        expire_after: timedelta,
        *,
        tracer: Tracer = NOOP_TRACER,
        errors: ErrorReporter = NOOP_ERRORS,
    ) -> None:
        self._repository = repository
        self._executor = executor
        self._clock = clock
        self._expire_after = expire_after
        self._tracer = tracer
        self._errors = errors
        self.auditor: Auditor | None = None
        # Display names for the audit trail (Slack: users.info, cached); ids decide everything.
        self.names: Callable[[str], Awaitable[str]] | None = None
        self._names: dict[str, str] = {}
        self._running: set[str] = set()  # approvals this process is executing right now
        # Told once an executed action's outcome was shown (card and thread), so what
        # follows it (a release's progress) is said after it.
        self.on_reported: Callable[[str], None] | None = None

    async def open(self, plan: ActionPlan, request: ChatRequest, policy: ApprovalPolicy | None = None) -> Approval:
        now = self._clock.now()
        approval = Approval(
            policy=policy or ApprovalPolicy(),
            id=secrets.token_urlsafe(16),
            plan=plan,
            requester=request.user_id,
            channel=request.channel_id,
            thread=request.thread,
            created_at=now,
            expires_at=now + self._expire_after,
        )
        await self._repository.put(approval)
        self._remember_name(request.user_id, request.user_name)
        if self.auditor is not None:
            self.auditor.record(
                AuditRecord(
                    at=now,
                    kind="approval",
                    user_id=request.user_id,
                    user_name=request.user_name,
                    channel=request.channel_id,
                    thread=request.thread,
                    command=plan.summary,
                    cluster=plan.cluster,
                    namespace=plan.namespace,
                    target=plan.target,
                    outcome="requested",
                    request_id=approval.id,
                )
            )
        log.info("approval_requested", approval_id=approval.id, action=plan.summary, user=request.user_id)
        return approval

    async def attach(
        self, approval_id: str, *, card: str | None = None, response_url: str | None = None
    ) -> None:
        for _attempt in range(MAX_ATTEMPTS):
            approval = await self._repository.get(approval_id)
            if approval is None:
                return
            attached = replace(approval, card=card or approval.card, response_url=response_url or approval.response_url)
            if await self._repository.replace(approval, _next(approval, attached)):
                return
        log.warning("approval_attach_lost", approval_id=approval_id[:64])

    async def get(self, approval_id: str) -> Approval | None:
        return await self._repository.get(approval_id)

    async def pending(self) -> list[Approval]:
        return await self._repository.pending()

    async def confirm(self, approval_id: str, user: str, surface: ApprovalSurface) -> None:
        await self._apply_click(approval_id, user, surface, Confirm(user, self._clock.now()))

    async def cancel(self, approval_id: str, user: str, surface: ApprovalSurface) -> None:
        await self._apply_click(approval_id, user, surface, Cancel(user, self._clock.now()))

    async def approve(
        self, approval_id: str, user: str, surface: ApprovalSurface, *, allowed: bool, reason: str = ""
    ) -> None:
        """`allowed` is the policy's verdict on this user approving; the machine enforces the rest."""
        await self._apply_click(approval_id, user, surface, Approve(user, self._clock.now(), allowed, reason))

    async def reject(
        self, approval_id: str, user: str, surface: ApprovalSurface, *, allowed: bool, reason: str = ""
    ) -> None:
        await self._apply_click(approval_id, user, surface, Reject(user, self._clock.now(), allowed, reason))

    async def fail_interrupted(self, surface: ApprovalSurface, *, started_before: datetime | None = None) -> int:
        """Actions that were running when the bot stopped: say so instead of leaving them 'running'.

        One process: at start, every action left executing was its own. Several replicas share
        the store, so an action executing there may be running on another one right now: with
        `started_before`, only those that began before it (longer ago than any action takes:
        their replica died) and that this process is not running are failed."""
        interrupted = [
            approval
            for approval in await self._repository.executing()
            if approval.id not in self._running
            and (started_before is None or approval.changed_at < started_before)
        ]
        for approval in interrupted:
            message = "was interrupted by a restart of opsbot; check the cluster before asking again"
            await self._apply(approval, Finish(False, message, self._clock.now()), surface)
        return len(interrupted)

    async def expire_overdue(self, surface: ApprovalSurface) -> int:
        now = self._clock.now()
        expired = 0
        for approval in await self._repository.pending():
            if approval.expires_at <= now:
                await self._apply(approval, Expire(now), surface)
                expired += 1
        return expired

    async def _apply_click(self, approval_id: str, user: str, surface: ApprovalSurface, event: Event) -> None:
        if self.names is not None:
            self._remember_name(user, await self.names(user))
        # Read the approval only now: after the await above, another click may have moved it on.
        approval = await self._repository.get(approval_id)
        if approval is None:
            log.warning("approval_unknown", approval_id=approval_id[:64], user=user)
            await surface.notify(
                user, Text("This request is no longer pending (unknown or already handled); nothing was changed.")
            )
            return
        await self._apply(approval, event, surface)

    def _remember_name(self, user: str, name: str) -> None:
        if not name:
            return
        if len(self._names) > 10_000:
            self._names.clear()
        self._names[user] = name

    async def _apply(self, approval: Approval, event: Event, surface: ApprovalSurface) -> None:
        # The transition is written only over the revision it was computed from, so two
        # clicks racing (on this loop or on another replica) can never both see `pending`:
        # the loser re-reads the winner's state and applies its event to that instead.
        for _attempt in range(MAX_ATTEMPTS):
            updated, effects = transition(approval, event)
            if updated is approval:
                self._audit_refusal(approval, event, effects)
                await self._perform(updated, effects, surface)
                return
            updated = _next(approval, updated)
            if await self._repository.replace(approval, updated):
                log.info("approval_" + updated.status.value, approval_id=updated.id, action=updated.plan.summary)
                self._audit(updated, event)
                await self._perform(updated, effects, surface)
                return
            log.info("approval_changed_meanwhile", approval_id=approval.id, step=type(event).__name__)
            current = await self._repository.get(approval.id)
            if current is None:
                return
            approval = current
        log.warning("approval_contended", approval_id=approval.id, step=type(event).__name__)
        user = getattr(event, "user", None)
        if user is not None:
            await surface.notify(user, Text("This request is changing right now; nothing was changed, try again."))

    def _audit_refusal(self, approval: Approval, event: Event, effects: tuple[Effect, ...]) -> None:
        """A click that changed nothing (self-approval, a viewer approving, someone else
        cancelling, a late or repeated click): logged and audited as a denial."""
        user = getattr(event, "user", None)
        refusals = [effect for effect in effects if isinstance(effect, Notify) and effect.user == user]
        if user is None or not refusals:
            return
        reason = refusals[0].text.plain()
        action = type(event).__name__.lower()
        log.info("approval_click_refused", approval_id=approval.id, user=user, action=action, reason=reason[:300])
        if self.auditor is None:
            return
        plan = approval.plan
        self.auditor.record(
            AuditRecord(
                at=self._clock.now(),
                kind="denied",
                user_id=user,
                user_name=self._names.get(user, ""),
                channel=approval.channel,
                thread=approval.thread,
                command=f"{action} {plan.summary}",
                cluster=plan.cluster,
                namespace=plan.namespace,
                target=plan.target,
                outcome=f"refused: {reason}"[:300],
                request_id=approval.id,
            )
        )

    def _audit(self, approval: Approval, event: Event) -> None:
        if self.auditor is None:
            return
        step = approval.history[-1] if approval.history else None
        user = step.user if step and step.user else approval.requester
        execution = approval.status.final and approval.status.value in {"succeeded", "failed"}
        plan = approval.plan
        self.auditor.record(
            AuditRecord(
                at=self._clock.now(),
                kind="execution" if execution else "approval",
                user_id=user,
                user_name=self._names.get(user, ""),
                channel=approval.channel,
                thread=approval.thread,
                command=plan.summary,
                cluster=plan.cluster,
                namespace=plan.namespace,
                target=plan.target,
                outcome=approval.status.value
                + (f": {approval.result}" if execution and approval.result else ""),
                request_id=approval.id,
            )
        )

    async def _perform(
        self, approval: Approval, effects: tuple[Effect, ...], surface: ApprovalSurface
    ) -> None:
        for effect in effects:
            if isinstance(effect, Execute):
                await self._execute(approval, surface)
                continue
            # Showing things may fail (Slack down, message deleted); it must never
            # stop the effects after it, above all the execution of a confirmed action.
            try:
                if isinstance(effect, UpdateCard):
                    await surface.update_card(approval)
                elif isinstance(effect, Notify):
                    await surface.notify(effect.user, effect.text)
                elif isinstance(effect, TellThread):
                    await surface.tell_thread(approval, effect.text)
            except Exception:
                log.exception("approval_effect_failed", approval_id=approval.id, effect=type(effect).__name__)

    def origin(self, approval: Approval) -> ActionOrigin:
        """Who asked for `approval`'s action, who approved it, and where it is discussed."""
        people = (approval.requester, *approval.approvers)
        return ActionOrigin(
            approval_id=approval.id,
            requester=approval.requester,
            approvers=approval.approvers,
            names={user: self._names[user] for user in people if self._names.get(user)},
            channel=approval.channel,
            thread=approval.thread or approval.card,
            card=approval.card,
        )

    async def _execute(self, approval: Approval, surface: ApprovalSurface) -> None:
        self._running.add(approval.id)
        try:
            await self._run(approval, surface)
        finally:
            self._running.discard(approval.id)

    async def _run(self, approval: Approval, surface: ApprovalSurface) -> None:
        plan = approval.plan
        attributes = {
            "opsbot.action": plan.verb,
            "opsbot.approval_id": approval.id,
            "opsbot.cluster": plan.cluster,
            "opsbot.namespace": plan.namespace,
            "opsbot.target": plan.target,
            "enduser.id": approval.requester,
        }
        with self._tracer.span("opsbot.action", **attributes) as span:
            try:
                message = await self._executor(plan, self.origin(approval))
                finish = Finish(True, message, self._clock.now())
                span.set(**{"opsbot.outcome": "succeeded"})
            except OpsbotError as exc:
                finish = Finish(False, f"could not {plan.summary}: {exc}", self._clock.now())
                span.set(**{"opsbot.outcome": "failed"})
                span.fail(type(exc).__name__)
            except Exception as exc:
                log.exception("approval_execution_crashed", approval_id=approval.id)
                span.set(**{"opsbot.outcome": "crashed"})
                span.record_exception(exc)
                self._errors.capture(exc, where="approval_execution", action=plan.verb, cluster=plan.cluster)
                finish = Finish(
                    False,
                    f"could not {plan.summary}: unexpected error (see opsbot's logs)",
                    self._clock.now(),
                )
        current = await self._repository.get(approval.id) or approval
        await self._apply(current, finish, surface)
        if self.on_reported is not None:
            self.on_reported(approval.id)

