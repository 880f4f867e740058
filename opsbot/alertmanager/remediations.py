"""Remediations with a person in the loop: decide, carry out, follow.

A proposal (`opsbot.alertmanager.proposals`) waits on its group's card. Approve / Reject run the
approval machine (`opsbot.approvals.machine`): the requester is Alertmanager, so every approval
is a person's, counted and checked against the policy.

Every change is computed from the store's copy and written as a compare-and-set on its revision
(`State.change`): a double click, two people at once on two replicas, a replayed button, an
expiry racing a click: one write wins, the others are computed again on what it wrote, so
nothing runs twice. A command goes decided → started by the same compare-and-set, so of the
replicas that could start it exactly one does. The decision and the signal it causes are
written together, so a restart between them sends the signal afterwards (same webhook id),
and a command decided but not started runs after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from functools import partial
from typing import Any

import structlog

from opsbot.alertmanager.cards import decision_text
from opsbot.alertmanager.delivery import SignalSender, after_attempt, backoff
from opsbot.alertmanager.groups import AlertGroup
from opsbot.alertmanager.planning import REQUESTER
from opsbot.alertmanager.remediation import (
    Remediation,
    StatusUpdate,
    after_decision,
    audit_record,
    finished_command,
)
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alertmanager.state import State
from opsbot.alerts.incidents import Incident
from opsbot.alerts.publishing import Publishing
from opsbot.approvals.machine import (
    Approve,
    Cancel,
    Effect,
    Event,
    Expire,
    Finish,
    Notify,
    Reject,
    Status,
    transition,
)
from opsbot.core.audit import Auditor
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Icon, Text
from opsbot.errors import OpsbotError, StoreConflict, StoreUnavailable
from opsbot.policy import Allowed, ApprovalRequirement, Policy, Subject, Target
from opsbot.ports import Clock
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

log = structlog.get_logger("opsbot.alertmanager")

Notify_ = Callable[[str, str, Text], Awaitable[None]]
"""(channel, user, text): a private notice to whoever clicked."""

INTERRUPTED = "was interrupted by a restart of opsbot; check the cluster before approving again"
ORPHANED = "was interrupted: the opsbot replica running it stopped; check the cluster before approving again"


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
        shared: bool = False,
    ) -> None:
        """`shared`: replicas share the store (`ha:`), so a command executing there may be
        running on another replica: it is reported only once it is orphaned."""
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
        self._runs: set[asyncio.Task[Any]] = set()  # commands running (also in _tasks)
        self._deliveries: dict[str, asyncio.Task[None]] = {}
        self._known: dict[str, str] = {}  # display names of the people who clicked, by id
        self._shared = shared
        self._running: set[str] = set()  # commands this replica is running now
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

    async def decide(self, remediation_id: str, approve: bool, subject: Subject, channel: str) -> None:
        try:
            await self._decide(remediation_id, approve, subject, channel)
        except (StoreUnavailable, StoreConflict) as exc:
            text = Text(f"Nothing was changed: {exc}. Try again in a moment.")
            await self._notify(channel, subject.user_id, text)

    async def _decide(self, remediation_id: str, approve: bool, subject: Subject, channel: str) -> None:
        user = subject.user_id
        self._known[user] = await self._names(user)
        seen = await self._state.remediation(remediation_id)
        if seen is None or seen.approval is None:
            await self._notify(channel, user, Text("This proposal is no longer known; nothing was changed."))
            return
        thread = self._incident(seen.incident_key)
        link = await self._thread_link(thread.channel, thread.root) if seen.kind == "signal" and thread else ""
        group = await self._state.stored_group(seen.incident_key) if seen.kind == "signal" else None
        now = self._clock.now()
        effects: list[Effect] = []

        def decided(current: Remediation) -> Remediation | None:
            # Pure, so that it can run again on the newer copy when another click (on any
            # replica) wrote first: the approval machine then sees what that click did.
            if current.approval is None:
                return None
            allowed, reason = self.may_approve(current, subject)
            event: Event = Approve(user, now, allowed, reason) if approve else Reject(user, now, allowed, reason)
            approval, found = transition(current.approval, event)
            effects[:] = found
            if approval is current.approval:
                return None
            return after_decision(
                current, approval, group=group, at=now, thread=link, names=self._known,
                status_path=self._status_path(current.id),
            )  # fmt: skip

        changed = await self._state.change(remediation_id, decided)
        for effect in effects:
            if isinstance(effect, Notify):
                await self._notify(channel, effect.user, effect.text)
        if changed is None or not changed.written:
            return
        updated = changed.after
        approval = updated.approval
        assert approval is not None
        self._audit(updated, user, self._known[user], approval.status.value)
        log.info("remediation_decided", remediation=updated.id, status=approval.status.value, user=user)
        self._publishing.announce(updated.incident_key, decision_text(updated, user))
        if updated.run == "decided":
            self._spawn(self._run(updated.id))
        elif updated.delivery is not None:
            self._start_delivery(updated)

    # carrying out ---------------------------------------------------------------------------------

    async def _run(self, remediation_id: str) -> None:
        # decided → started is a compare-and-set: of the replicas that could start it (the
        # one that took the click, the one resuming after a restart) exactly one does.
        changed = await self._state.change(
            remediation_id, lambda r: replace(r, run="started") if r.run == "decided" else None
        )
        if changed is None or not changed.written:
            return
        remediation = changed.after  # from here on a restart cannot know: it says so
        approval = remediation.approval
        assert approval is not None
        self._running.add(remediation.id)
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
        finally:
            self._running.discard(remediation.id)
        await self._finish(remediation.id, finish, run="done")

    async def _finish(self, remediation_id: str, finish: Finish, *, run: str = "") -> None:
        def finished(current: Remediation) -> Remediation | None:
            if current.approval is None:
                return None
            approval, _ = transition(current.approval, finish)
            if approval is current.approval:
                return None  # not executing (any more): someone finished it already
            updated = replace(current, approval=approval, run=run or current.run)
            if not finish.ok:
                return replace(updated, closed="failed")
            return replace(updated, closed="succeeded") if finished_command(updated) else updated

        changed = await self._state.change(remediation_id, finished)
        if changed is None or not changed.written:
            return
        updated = changed.after
        following = finish.ok and updated.kind == "command" and not updated.closed
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
            current = await self._state.remediation(remediation_id)
            if current is None or current.delivery is None or current.delivery.state != "pending":
                return
            self.delivery_attempts += 1
            attempt = await self._sender.attempt(current.delivery)
            target = self._sender.target(current.delivery.target)
            attempted = partial(after_attempt, attempt=attempt, target=target, at=self._clock.now())
            changed = await self._state.change(remediation_id, attempted)
            if changed is None or not changed.written:
                return  # delivered or given up by another replica meanwhile
            delivery = changed.after.delivery
            assert delivery is not None
            if delivery.state != "pending":
                await self._delivered(changed.after)
                return
            wait = max(backoff(target, delivery.attempts) if target else 0.0, attempt.retry_after or 0.0)
            log.info("signal_retry", remediation=remediation_id, attempt=delivery.attempts, error=attempt.error, wait_s=wait)
            self._publishing.announce(current.incident_key)
            await self._sleep(wait)

    async def _delivered(self, remediation: Remediation) -> None:
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
        where = f"{delivery.target} (attempt {delivery.attempts}, HTTP {delivery.http_status})"
        if delivery.decision == "approved":
            message = (
                f"Signal delivered to {where}; waiting for its status updates."
                if ok
                else f"Signal to {delivery.target} failed after {delivery.attempts} attempt(s): {delivery.error}"
            )
            await self._finish(remediation.id, Finish(ok, message, self._clock.now()))
            if ok:
                return
        text = (
            Text(Icon.SUCCESS, f" Rejection signalled to {where}.")
            if ok
            else Text(Icon.FAILURE, f" Could not signal the rejection to {delivery.target}: {delivery.error}")
        )
        self._publishing.announce(remediation.incident_key, text)

    # updates, expiry, withdrawal, restarts -------------------------------------------------------

    async def update(self, remediation_id: str, update: StatusUpdate) -> Remediation | None:
        """A status update (the downstream system's, or a rollout's); None: unknown id."""
        changed = await self._state.change(remediation_id, lambda r: r.with_update(update))
        if changed is None:
            return None
        log.info("remediation_status", remediation=remediation_id, state=update.state, source=update.source)
        icon = Icon.SUCCESS if update.state == "succeeded" else Icon.FAILURE if update.final else Icon.WAITING
        self._publishing.announce(
            changed.after.incident_key,
            Text(icon, f" {update.source}: ", update.state, f" — {update.message}" if update.message else ""),
        )
        return changed.after

    async def on_resolved(self, group: AlertGroup, incident: Incident) -> None:
        for remediation in await self._state.remediations_of(group):
            if remediation.pending and remediation.incident_id == incident.id:
                await self._settle(remediation.id, Cancel(REQUESTER, self._clock.now()), "withdrawn")

    async def sweep(self) -> None:
        """Expire what nobody decided in time; follow what ran (whichever replica ran it); with
        replicas, report what a replica that died left running."""
        now = self._clock.now()
        for remediation in await self._state.open_remediations():
            approval = remediation.approval
            if approval is None:
                continue
            if remediation.pending and approval.expires_at <= now:
                await self._settle(remediation.id, Expire(now), "expired")
            elif remediation.run == "done" and remediation.status is Status.SUCCEEDED:
                self._follow(remediation)
            elif (
                self._shared
                and remediation.kind == "command"
                and remediation.id not in self._running
                and approval.orphaned(now)
            ):
                await self._finish(remediation.id, Finish(False, ORPHANED, now), run="done")

    async def _settle(self, remediation_id: str, event: Event, closed: str) -> None:
        def settled(current: Remediation) -> Remediation | None:
            if current.approval is None:
                return None
            approval, _ = transition(current.approval, event)
            return None if approval is current.approval else replace(current, approval=approval, closed=closed)

        changed = await self._state.change(remediation_id, settled)
        if changed is None or not changed.written:
            return
        log.info("remediation_" + closed, remediation=remediation_id)
        self._publishing.announce(changed.after.incident_key)

    async def resume(self) -> None:
        """On taking the Alertmanager loops (a restart, or from another replica): send what
        was decided, run what was approved but not started, and, alone, say so for what was
        running (its outcome is unknown; with replicas it may be running elsewhere: `sweep`
        reports it once it has been running longer than any action takes)."""
        for remediation in await self._state.pending_deliveries():
            self._start_delivery(remediation)
        for remediation in await self._state.open_remediations():
            if remediation.kind != "command" or remediation.status is not Status.EXECUTING:
                if remediation.run == "done" and remediation.status is Status.SUCCEEDED:
                    self._follow(remediation)
                continue
            if remediation.run == "decided":
                self._spawn(self._run(remediation.id))
            elif not self._shared and remediation.id not in self._running:
                await self._finish(remediation.id, Finish(False, INTERRUPTED, self._clock.now()), run="done")

    async def drain(self, *, keep_runs: bool = False, runs_grace: float = 0.0) -> None:
        """Cancel deliveries (whoever runs the loops next resumes them); let the commands running
        finish and store their outcome (`keep_runs`: handing the loops over), or wait for them
        up to `runs_grace` seconds (stopping) before cancelling them too."""
        others = [t for t in self._tasks if t not in self._runs]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if keep_runs or not self._runs:
            return
        if runs_grace > 0:
            await asyncio.wait(set(self._runs), timeout=runs_grace)
        runs = list(self._runs)
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # helpers -----------------------------------------------------------------------------------

    def later(self, step: Coroutine[Any, Any, Remediation | None]) -> None:
        """For a caller that cannot wait (a watch event's listener): `step` runs as a task."""
        self._spawn(_discard(step))

    def _spawn(self, run: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._logged(run))
        self._tasks.add(task)
        self._runs.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._runs.discard)

    async def _logged(self, step: Coroutine[Any, Any, None]) -> None:
        """A run whose state could not be written (the store away) says so in the log; it is
        reported as interrupted later, like one whose replica died."""
        try:
            await step
        except StoreUnavailable as exc:
            log.warning("remediation_state_not_written", error=str(exc)[:200])
        except Exception as exc:
            log.exception("remediation_step_failed")
            self._errors.capture(exc, where="remediation")

    def _audit(
        self, remediation: Remediation, user: str, name: str, outcome: str, *, execution: bool = False
    ) -> None:
        if self.auditor is not None and remediation.approval is not None:
            self.auditor.record(audit_record(remediation, user, name, outcome, self._clock.now(), execution))


async def _discard(step: Coroutine[Any, Any, object]) -> None:
    await step
