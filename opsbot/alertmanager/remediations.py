"""Remediations with a person in the loop: decide, carry out, follow.

A proposal (`opsbot.alertmanager.proposals`) waits on its group's card. Approve / Reject run the approval machine (`opsbot.approvals.machine`):
the requester is Alertmanager, so every approval is a person's, counted and checked against
the policy. Every decision is read, transitioned and written with no await in between, so a
double click, two people at once or a replayed button cannot run anything twice; the decision
and the signal it causes are written in one transaction, so a restart between them sends the
signal afterwards (same webhook id), and a command decided but not started runs after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

import structlog

from opsbot.alertmanager.delivery import SignalSender, backoff
from opsbot.alertmanager.groups import AlertGroup
from opsbot.alertmanager.planning import REQUESTER
from opsbot.alertmanager.remediation import Remediation, StatusUpdate, signal_document
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alertmanager.state import State
from opsbot.alerts.incidents import Incident
from opsbot.alerts.publishing import Publishing
from opsbot.approvals.machine import (
    Approve,
    Cancel,
    Event,
    Execute,
    Expire,
    Finish,
    Notify,
    Reject,
    Status,
    transition,
)
from opsbot.core.audit import Auditor, AuditRecord
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Icon, Mention, Mono, Text
from opsbot.errors import OpsbotError
from opsbot.policy import Allowed, ApprovalRequirement, Policy, Subject, Target
from opsbot.ports import Clock
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

log = structlog.get_logger("opsbot.alertmanager")

Notify_ = Callable[[str, str, Text], Awaitable[None]]
"""(channel, user, text): a private notice to whoever clicked."""


class Remediations:
    def __init__(
        self,
        settings: AlertmanagerSettings,
        state: State,
        publishing: Publishing,
        run_plan: Callable[[ActionPlan, ActionOrigin | None], Awaitable[str]],
        sender: SignalSender,
        policy: Policy,
        clock: Clock,
        *,
        notify: Notify_,
        names: Callable[[str], Awaitable[str]],
        thread_link: Callable[[str, str | None], Awaitable[str]],
        incident: Callable[[str], Incident | None],
        follow: Callable[[Remediation], None],
        status_path: Callable[[str], str],
        auditor: Auditor | None = None,
        errors: ErrorReporter = NOOP_ERRORS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._state = state
        self._publishing = publishing
        self._run_plan = run_plan
        self._sender = sender
        self._policy = policy
        self._clock = clock
        self._notify = notify
        self._names = names
        self._thread_link = thread_link
        self._incident = incident
        self._follow = follow
        self._status_path = status_path
        self.auditor = auditor
        self._errors = errors
        self._sleep = sleep
        self._tasks: set[asyncio.Task[Any]] = set()
        self._deliveries: dict[str, asyncio.Task[None]] = {}
        self._known: dict[str, str] = {}  # display names of the people who clicked, by id
        self.delivered = 0
        self.delivery_attempts = 0

    # decisions ---------------------------------------------------------------------------------

    def may_approve(self, remediation: Remediation, subject: Subject) -> tuple[bool, str]:
        rule = next((r for r in self._settings.remediations if r.name == remediation.rule), None)
        plan = remediation.approval.plan if remediation.approval else None
        if rule is None or plan is None:
            return False, "this rule is no longer configured"
        base = self._policy.approval_rule(plan.cluster, plan.namespace)
        requirement = ApprovalRequirement(
            self_confirm=False,
            approvals_required=1,
            approvers_role=rule.approvers_role or base.approvers_role,
            source=f"alertmanager rule {rule.name}" if rule.approvers_role else base.source,
        )
        decision = self._policy.may_approve(
            subject, requirement, Target(plan.verb, plan.cluster, plan.namespace)
        )
        return (True, "") if isinstance(decision, Allowed) else (False, decision.reason)

    # decisions ---------------------------------------------------------------------------------

    async def decide(self, remediation_id: str, approve: bool, subject: Subject, channel: str) -> None:
        user = subject.user_id
        self._known[user] = await self._names(user)
        seen = self._state.remediation(remediation_id)
        link = ""
        thread = self._incident(seen.incident_key) if seen is not None else None
        if seen is not None and seen.kind == "signal" and thread is not None:
            link = await self._thread_link(thread.channel, thread.root)
        # From here to the write there is no await: two clicks racing on the loop cannot both
        # see it pending, so the action runs (or the signal is queued) once.
        remediation = self._state.remediation(remediation_id)
        if remediation is None or remediation.approval is None:
            await self._notify(channel, user, Text("This proposal is no longer known; nothing was changed."))
            return
        allowed, reason = self.may_approve(remediation, subject)
        now = self._clock.now()
        event: Event = Approve(user, now, allowed, reason) if approve else Reject(user, now, allowed, reason)
        approval, effects = transition(remediation.approval, event)
        execute = any(isinstance(effect, Execute) for effect in effects)
        updated = replace(remediation, approval=approval)
        if approval is not remediation.approval:
            if execute and remediation.kind == "command":
                updated = replace(updated, run="decided")
            elif (execute or approval.status is Status.REJECTED) and remediation.kind == "signal":
                decision = "approved" if execute else "rejected"
                delivery = signal_document(
                    updated,
                    self._state.group(updated.incident_key),
                    decision=decision,
                    approval=approval,
                    at=now,
                    thread=link,
                    names=self._known,
                    status_path=self._status_path(updated.id),
                )
                updated = replace(updated, delivery=delivery)
            elif approval.status is Status.REJECTED:
                updated = replace(updated, closed="rejected")
            self._state.put_remediation(updated)
        for effect in effects:
            if isinstance(effect, Notify):
                await self._notify(channel, effect.user, effect.text)
        if approval is remediation.approval:
            return
        self._audit(updated, user, self._known[user], approval.status.value)
        log.info("remediation_decided", remediation=updated.id, status=approval.status.value, user=user)
        self._publishing.announce(updated.incident_key, self._decision_text(updated, user))
        if execute and updated.kind == "command":
            self._spawn(self._run(updated))
        elif updated.delivery is not None:
            self._start_delivery(updated)

    def _decision_text(self, remediation: Remediation, user: str) -> Text:
        approval = remediation.approval
        assert approval is not None
        what = Mono(remediation.action)
        if approval.status is Status.PENDING:
            have, need = len(approval.approvers), approval.policy.approvals_required
            return Text(Mention(user), " approved ", what, f" ({have} of {need}).")
        if approval.status is Status.REJECTED:
            tail = f"; telling {remediation.target}." if remediation.delivery else "; nothing will be done."
            return Text(Icon.FAILURE, " Rejected by ", Mention(user), ": ", what, tail)
        doing = f"signalling {remediation.target}…" if remediation.kind == "signal" else "running…"
        return Text(Icon.WAITING, " Approved by ", Mention(user), ": ", what, f" · {doing}")

    # carrying out ---------------------------------------------------------------------------------

    async def _run(self, remediation: Remediation) -> None:
        remediation = replace(remediation, run="started")
        self._state.put_remediation(remediation)  # from here on a restart cannot know: it says so
        approval = remediation.approval
        assert approval is not None
        try:
            origin = ActionOrigin(
                approval_id=approval.id,
                requester=approval.requester,
                approvers=approval.approvers,
                channel=approval.channel,
                thread=approval.thread or approval.card,
                card=approval.card,
            )
            message = await self._run_plan(approval.plan, origin)
            finish = Finish(True, message, self._clock.now())
        except OpsbotError as exc:
            finish = Finish(False, f"could not {approval.plan.summary}: {exc}", self._clock.now())
        except Exception as exc:
            log.exception("remediation_crashed", remediation=remediation.id)
            self._errors.capture(exc, where="remediation", action=approval.plan.verb)
            message = f"could not {approval.plan.summary}: unexpected error (see opsbot's logs)"
            finish = Finish(False, message, self._clock.now())
        self._finish(remediation.id, finish, run="done")

    def _finish(self, remediation_id: str, finish: Finish, *, run: str = "") -> None:
        current = self._state.remediation(remediation_id)
        if current is None or current.approval is None:
            return
        approval, _ = transition(current.approval, finish)
        updated = replace(current, approval=approval, run=run or current.run)
        following = finish.ok and updated.kind == "command" and approval.plan.kind == "deployment"
        if not finish.ok:
            updated = replace(updated, closed="failed")
        elif updated.kind == "command" and not following:
            updated = replace(updated, closed="succeeded")
        self._state.put_remediation(updated)
        self._audit(updated, REQUESTER, REQUESTER, "execution: " + finish.message, execution=True)
        icon = Icon.SUCCESS if finish.ok else Icon.FAILURE
        tail = " Following the rollout…" if following else ""
        self._publishing.announce(updated.incident_key, Text(icon, " ", finish.message, tail))
        if following:
            self._follow(updated)

    def _start_delivery(self, remediation: Remediation) -> None:
        if remediation.id in self._deliveries:
            return
        task = asyncio.create_task(self._deliver(remediation.id), name=f"signal:{remediation.id}")
        self._deliveries[remediation.id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._deliveries.pop(remediation.id, None))

    async def _deliver(self, remediation_id: str) -> None:
        try:
            await self._deliver_until_done(remediation_id)
        except Exception as exc:  # a bug: the delivery stays pending and resumes at the next start
            log.exception("signal_delivery_crashed", remediation=remediation_id)
            self._errors.capture(exc, where="signal_delivery")

    async def _deliver_until_done(self, remediation_id: str) -> None:
        while True:
            current = self._state.remediation(remediation_id)
            if current is None or current.delivery is None or current.delivery.state != "pending":
                return
            self.delivery_attempts += 1
            attempt = await self._sender.attempt(current.delivery)
            current = self._state.remediation(remediation_id)  # re-read after the await
            if current is None or current.delivery is None:
                return
            delivery = current.delivery
            target = self._sender.target(delivery.target)
            attempts = delivery.attempts + 1
            if attempt.delivered or attempt.final or target is None or attempts >= target.max_attempts:
                state = "delivered" if attempt.delivered else "failed"
                error = (
                    f"refused ({attempt.error})" if attempt.final and not attempt.delivered else attempt.error
                )
                done = replace(
                    delivery,
                    state=state,
                    attempts=attempts,
                    http_status=attempt.status,
                    error=error,
                    finished_at=self._clock.now(),
                )
                self._delivered(replace(current, delivery=done))
                return
            failed = replace(delivery, attempts=attempts, http_status=attempt.status, error=attempt.error)
            self._state.put_remediation(replace(current, delivery=failed))
            wait = max(backoff(target, attempts), attempt.retry_after or 0.0)
            log.info(
                "signal_retry", remediation=remediation_id, attempt=attempts, error=attempt.error, wait_s=wait
            )
            self._publishing.announce(current.incident_key)
            await self._sleep(wait)

    def _delivered(self, remediation: Remediation) -> None:
        delivery = remediation.delivery
        assert delivery is not None and remediation.approval is not None
        ok = delivery.state == "delivered"
        if ok:
            self.delivered += 1
        log.info(
            "signal_" + delivery.state,
            remediation=remediation.id,
            target=delivery.target,
            attempts=delivery.attempts,
        )
        if delivery.decision == "rejected":
            remediation = replace(remediation, closed="rejected")
        self._state.put_remediation(remediation)
        where = f"{delivery.target} (attempt {delivery.attempts}, HTTP {delivery.http_status})"
        if delivery.decision == "approved":
            message = (
                f"Signal delivered to {where}; waiting for its status updates."
                if ok
                else f"Signal to {delivery.target} failed after {delivery.attempts} attempt(s): {delivery.error}"
            )
            self._finish(remediation.id, Finish(ok, message, self._clock.now()))
            if ok:
                return
        text = (
            Text(Icon.SUCCESS, f" Rejection signalled to {where}.")
            if ok
            else Text(Icon.FAILURE, f" Could not signal the rejection to {delivery.target}: {delivery.error}")
        )
        self._publishing.announce(remediation.incident_key, text)

    # updates, expiry, withdrawal, restarts -------------------------------------------------------

    def update(self, remediation_id: str, update: StatusUpdate) -> Remediation | None:
        """A status update (the downstream system's, or a rollout's); None: unknown id."""
        current = self._state.remediation(remediation_id)
        if current is None:
            return None
        updated = current.with_update(update)
        self._state.put_remediation(updated)
        log.info("remediation_status", remediation=remediation_id, state=update.state, source=update.source)
        icon = Icon.SUCCESS if update.state == "succeeded" else Icon.FAILURE if update.final else Icon.WAITING
        self._publishing.announce(
            current.incident_key,
            Text(icon, f" {update.source}: ", update.state, f" — {update.message}" if update.message else ""),
        )
        return updated

    def on_resolved(self, group: AlertGroup, incident: Incident) -> None:
        for remediation in self._state.remediations_of(group):
            if remediation.pending and remediation.incident_id == incident.id:
                self._settle(remediation, Cancel(REQUESTER, self._clock.now()), "withdrawn")

    async def sweep(self) -> None:
        now = self._clock.now()
        for remediation in self._state.open_remediations():
            if (
                remediation.pending
                and remediation.approval is not None
                and remediation.approval.expires_at <= now
            ):
                self._settle(remediation, Expire(now), "expired")

    def _settle(self, remediation: Remediation, event: Event, closed: str) -> None:
        assert remediation.approval is not None
        approval, _ = transition(remediation.approval, event)
        if approval is remediation.approval:
            return
        self._state.put_remediation(replace(remediation, approval=approval, closed=closed))
        log.info("remediation_" + closed, remediation=remediation.id)
        self._publishing.announce(remediation.incident_key)

    def resume(self) -> None:
        """After a restart: send what was decided, run what was approved but not started, and
        say so for what was running (its outcome is unknown)."""
        for remediation in self._state.pending_deliveries():
            self._start_delivery(remediation)
        for remediation in self._state.open_remediations():
            if remediation.kind != "command" or remediation.status is not Status.EXECUTING:
                if remediation.run == "done" and remediation.status is Status.SUCCEEDED:
                    self._follow(remediation)
                continue
            if remediation.run == "decided":
                self._spawn(self._run(remediation))
            else:
                message = "was interrupted by a restart of opsbot; check the cluster before approving again"
                self._finish(remediation.id, Finish(False, message, self._clock.now()), run="done")

    async def drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # helpers -----------------------------------------------------------------------------------

    def _spawn(self, step: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(step)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _audit(
        self, remediation: Remediation, user: str, name: str, outcome: str, *, execution: bool = False
    ) -> None:
        if self.auditor is None or remediation.approval is None:
            return
        plan = remediation.approval.plan
        self.auditor.record(
            AuditRecord(
                at=self._clock.now(),
                kind="execution" if execution else "approval",
                user_id=user,
                user_name=name,
                channel=remediation.approval.channel,
                thread=remediation.approval.thread,
                command=f"alertmanager remediation {remediation.rule}: {remediation.action}",
                cluster=plan.cluster,
                namespace=plan.namespace,
                target=plan.target,
                outcome=outcome,
                request_id=remediation.id,
            )
        )
