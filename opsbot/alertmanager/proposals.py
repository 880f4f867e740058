"""Proposals: an alert matching a remediation rule gets one on its group's card, once per
incident and action. A command is planned like a typed one (its dry run shows what will
change; a command that cannot be planned is shown with the reason, without buttons); a
signal is described. The approval that follows needs people other than Alertmanager, as
many as the rule or policy.approvals say."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from opsbot.alertmanager.groups import AlertGroup
from opsbot.alertmanager.intake import Fired
from opsbot.alertmanager.planning import REQUESTER, CommandPlanner
from opsbot.alertmanager.remediation import Remediation
from opsbot.alertmanager.rules import Rendered, proposals
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alertmanager.state import State
from opsbot.alerts.incidents import Incident, IncidentState
from opsbot.alerts.publishing import Publishing
from opsbot.approvals.machine import Approval, ApprovalPolicy
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Icon, Mono, Reply, Text
from opsbot.errors import OpsbotError
from opsbot.policy import Policy
from opsbot.ports import Clock
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

log = structlog.get_logger("opsbot.alertmanager")

SIGNAL_VERB = "signal"


class Proposer:
    def __init__(
        self,
        settings: AlertmanagerSettings,
        state: State,
        publishing: Publishing,
        planner: CommandPlanner,
        policy: Policy,
        clock: Clock,
        *,
        incident: Callable[[str], Incident | None],
        errors: ErrorReporter = NOOP_ERRORS,
    ) -> None:
        self._settings = settings
        self._state = state
        self._publishing = publishing
        self._planner = planner
        self._policy = policy
        self._clock = clock
        self._incident = incident
        self._errors = errors
        self._proposing: set[tuple[str, str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_fired(self, fired: Fired) -> None:
        for record in fired.alerts:
            for found in proposals(self._settings, record.labels, record.annotations):
                if isinstance(found, Rendered):
                    rule, text, problem = found.rule, found.text, ""
                else:
                    rule, problem = found
                    text = rule.command or (rule.signal.action if rule.signal else "")
                marker = (fired.incident.id, rule.name, text)
                if marker in self._proposing or await self._proposed(fired.group, fired.incident, rule.name, text):
                    continue
                self._proposing.add(marker)
                self._spawn(
                    self._propose(
                        fired.group.key, fired.incident, record.fingerprint, rule.name, text, problem, marker
                    )
                )

    async def _proposed(self, group: AlertGroup, incident: Incident, rule: str, text: str) -> bool:
        return any(
            r.incident_id == incident.id and r.rule == rule and r.action == text
            for r in await self._state.remediations_of(group)
        )

    async def _propose(
        self,
        key: str,
        incident: Incident,
        fingerprint: str,
        rule_name: str,
        text: str,
        problem: str,
        marker: tuple[str, str, str],
    ) -> None:
        try:
            rule = next(r for r in self._settings.remediations if r.name == rule_name)
            group = self._state.group(key)
            labels = dict(group.alerts[fingerprint].labels) if group and fingerprint in group.alerts else {}
            cluster, namespace = incident.cluster, labels.get("namespace", incident.namespace)
            plan: ActionPlan | None = None
            if not problem and rule.command is not None:
                try:
                    cluster, namespace = self._planner.where(text, labels, self._settings.cluster_label)
                    planned = await self._planner.plan(text, labels, self._settings.cluster_label)
                except OpsbotError as exc:
                    problem = str(exc)[:300]
                else:
                    if isinstance(planned, Reply):
                        log.info("remediation_not_needed", rule=rule.name, action=text)
                        return
                    plan = planned
            elif not problem and rule.signal is not None:
                plan = ActionPlan(
                    verb=SIGNAL_VERB,
                    cluster=cluster,
                    namespace=namespace or "-",
                    kind="signal",
                    name=rule.signal.target,
                    changes=(Text("POST to ", Mono(rule.signal.target), ": ", text),),
                    params={"target": rule.signal.target, "action": text},
                )
            now = self._clock.now()
            remediation = Remediation(
                id=secrets.token_urlsafe(12),
                rule=rule.name,
                incident_key=key,
                incident_id=incident.id,
                kind="command" if rule.command is not None else "signal",
                action=text,
                target=rule.signal.target if rule.signal else "",
                cluster=cluster,
                namespace=namespace or "",
                fingerprints=(fingerprint,),
                created_at=now,
                problem=problem,
                labels=labels,
            )
            if plan is not None:
                remediation = replace(remediation, approval=self._approval(remediation, plan, incident, now))
            group, current = self._state.group(key), self._incident(key)
            if (
                group is None
                or current is None
                or current.id != incident.id
                or current.state is not IncidentState.OPEN
            ):
                log.info(
                    "remediation_dropped", rule=rule.name, reason="the incident resolved while it was planned"
                )
                return
            await self._state.put_remediation(remediation)
            group = self._state.group(key) or group  # as it is after that write's await
            await self._state.put_group(replace(group, remediations=(*group.remediations, remediation.id)))
            log.info(
                "remediation_proposed",
                remediation=remediation.id,
                rule=rule.name,
                action=text,
                problem=problem or None,
            )
            note = Text(Icon.WAITING, " Proposed: ", Mono(text), " — needs approval on the card.")
            if problem:
                note = Text(
                    Icon.WARNING,
                    " Rule ",
                    Mono(rule.name),
                    " proposes ",
                    Mono(text),
                    f", but it cannot be prepared: {problem}",
                )
            self._publishing.announce(key, note)
        except Exception as exc:
            log.exception("remediation_proposal_failed", rule=rule_name)
            self._errors.capture(exc, where="remediation_proposal", rule=rule_name)
        finally:
            self._proposing.discard(marker)

    def _approval(
        self, remediation: Remediation, plan: ActionPlan, incident: Incident, now: datetime
    ) -> Approval:
        rule = next(r for r in self._settings.remediations if r.name == remediation.rule)
        requirement = self._policy.approval_rule(plan.cluster, plan.namespace)
        required = rule.approvals_required or max(1, requirement.approvals_required)
        return Approval(
            id=remediation.id,
            plan=plan,
            requester=REQUESTER,
            channel=incident.channel,
            thread=incident.root,
            created_at=now,
            expires_at=now + timedelta(minutes=self._settings.proposal_expire_minutes),
            policy=ApprovalPolicy(requester_may_confirm=False, approvals_required=required),
        )

    def _spawn(self, step: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(step)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
