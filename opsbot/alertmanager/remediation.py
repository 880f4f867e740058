"""A remediation as data (pure): the proposal, its approval (the approval machine's `Approval`),
the run of a command or the delivery of a signal, and the status updates that follow.

    proposed ──approve × N──▶ approved ──command──▶ run: decided → started → done
       │                         └──────signal───▶ delivery pending → delivered | failed
       ├──reject──▶ rejected ──signal──▶ delivery of the rejection
       └──expire / the alerts resolve──▶ withdrawn (nothing runs, nothing is sent)

Updates (from the downstream system, or from following a rollout) arrive afterwards; a
final one (succeeded, failed, cancelled) closes the remediation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from opsbot.alertmanager.groups import AlertGroup
from opsbot.approvals.codec import approval_from_dict, approval_to_dict
from opsbot.approvals.machine import Approval, Status
from opsbot.core.audit import AuditRecord

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
STATES = frozenset({"accepted", "in_progress", *FINAL_STATES})
MAX_UPDATES = 50


@dataclass(frozen=True)
class StatusUpdate:
    state: str
    message: str
    at: datetime
    source: str  # the signal target's name, or "rollout"
    url: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "message": self.message,
            "at": self.at.isoformat(),
            "source": self.source,
            "url": self.url,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatusUpdate:
        return cls(
            str(data["state"]),
            str(data.get("message", "")),
            datetime.fromisoformat(data["at"]),
            str(data.get("source", "")),
            str(data.get("url", "")),
        )


@dataclass(frozen=True)
class Delivery:
    """One signal (the decision) to one target; `webhook_id` is the same on every attempt."""

    webhook_id: str
    decision: str  # approved | rejected
    target: str
    body: str  # the JSON document, exactly as signed and sent on every attempt
    state: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    http_status: int | None = None
    error: str = ""
    finished_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "decision": self.decision,
            "target": self.target,
            "body": self.body,
            "state": self.state,
            "attempts": self.attempts,
            "http_status": self.http_status,
            "error": self.error,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Delivery:
        finished = data.get("finished_at")
        return cls(
            webhook_id=str(data["webhook_id"]),
            decision=str(data["decision"]),
            target=str(data["target"]),
            body=str(data["body"]),
            state=str(data.get("state", "pending")),
            attempts=int(data.get("attempts", 0)),
            http_status=data.get("http_status"),
            error=str(data.get("error", "")),
            finished_at=datetime.fromisoformat(finished) if finished else None,
        )


@dataclass(frozen=True)
class Remediation:
    id: str
    rule: str
    incident_key: str
    incident_id: str
    kind: str  # command | signal
    action: str  # the command line, or the signal's action
    target: str  # the signal target ("" for a command)
    cluster: str
    namespace: str
    fingerprints: tuple[str, ...]
    created_at: datetime
    approval: Approval | None = None
    problem: str = ""
    """Why nothing can be approved (the command could not be planned): shown instead of buttons."""
    run: str = ""  # commands: "" | decided | started | done
    delivery: Delivery | None = None
    updates: tuple[StatusUpdate, ...] = ()
    closed: str = ""
    """Why it is over ("" while open): succeeded, failed, cancelled, rejected, withdrawn, expired."""
    labels: Mapping[str, str] = field(default_factory=dict)
    revision: int = 0
    """Counts the writes: a change is stored only over the revision it was made from."""

    @property
    def status(self) -> Status | None:
        return self.approval.status if self.approval else None

    @property
    def pending(self) -> bool:
        return self.approval is not None and self.approval.status is Status.PENDING

    @property
    def latest(self) -> StatusUpdate | None:
        return self.updates[-1] if self.updates else None

    def with_update(self, update: StatusUpdate) -> Remediation:
        updates = (*self.updates, update)[-MAX_UPDATES:]
        closed = update.state if update.final else self.closed
        return replace(self, updates=updates, closed=closed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "incident_key": self.incident_key,
            "incident_id": self.incident_id,
            "kind": self.kind,
            "action": self.action,
            "target": self.target,
            "cluster": self.cluster,
            "namespace": self.namespace,
            "fingerprints": list(self.fingerprints),
            "created_at": self.created_at.isoformat(),
            "approval": approval_to_dict(self.approval) if self.approval else None,
            "problem": self.problem,
            "run": self.run,
            "delivery": self.delivery.to_dict() if self.delivery else None,
            "updates": [update.to_dict() for update in self.updates],
            "closed": self.closed,
            "labels": dict(self.labels),
            "revision": self.revision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Remediation:
        approval = data.get("approval")
        delivery = data.get("delivery")
        return cls(
            id=str(data["id"]),
            rule=str(data["rule"]),
            incident_key=str(data["incident_key"]),
            incident_id=str(data["incident_id"]),
            kind=str(data["kind"]),
            action=str(data["action"]),
            target=str(data.get("target", "")),
            cluster=str(data.get("cluster", "")),
            namespace=str(data.get("namespace", "")),
            fingerprints=tuple(data.get("fingerprints") or ()),
            created_at=datetime.fromisoformat(data["created_at"]),
            approval=approval_from_dict(approval) if approval else None,
            problem=str(data.get("problem", "")),
            run=str(data.get("run", "")),
            delivery=Delivery.from_dict(delivery) if delivery else None,
            updates=tuple(StatusUpdate.from_dict(item) for item in data.get("updates") or ()),
            closed=str(data.get("closed", "")),
            labels=dict(data.get("labels") or {}),
            revision=int(data.get("revision", 0)),
        )


def signal_document(
    remediation: Remediation,
    group: AlertGroup | None,
    *,
    decision: str,
    approval: Approval,
    at: datetime,
    thread: str,
    names: Mapping[str, str],
    status_path: str,
) -> Delivery:
    """The signal a decision causes: its JSON document (sent and signed as is on every attempt)
    and its webhook id, the same on every attempt and after a restart."""
    alerts = []
    for fingerprint in remediation.fingerprints:
        record = group.alerts.get(fingerprint) if group is not None else None
        if record is not None:
            alerts.append(
                {
                    "fingerprint": fingerprint,
                    "status": record.status,
                    "labels": dict(record.labels),
                    "startsAt": record.starts_at.isoformat(),
                }
            )
    deciders = dict.fromkeys(
        s.user for s in approval.history if s.what in ("approved", "rejected") and s.user
    )
    document = {
        "id": remediation.id,
        "type": "opsbot.remediation.decision",
        "decision": decision,
        "action": {"rule": remediation.rule, "target": remediation.target, "action": remediation.action},
        "decided_by": [{"id": user, "name": names.get(user, user)} for user in deciders if user],
        "decided_at": at.isoformat(),
        "alerts": alerts,
        "group": {"receiver": group.receiver, "groupKey": group.group_key, "labels": dict(group.group_labels)}
        if group is not None
        else {},
        "incident": {"id": remediation.incident_id, "thread": thread},
        "status_url": status_path,
    }
    body = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return Delivery(
        webhook_id=f"msg_{remediation.id}", decision=decision, target=remediation.target, body=body
    )


def after_decision(
    current: Remediation,
    approval: Approval,
    *,
    group: AlertGroup | None,
    at: datetime,
    thread: str,
    names: Mapping[str, str],
    status_path: str,
) -> Remediation:
    """The remediation after a click changed its approval: a command to run, a signal to send
    (approved or rejected), or a rejection that closes it."""
    updated = replace(current, approval=approval)
    executing = approval.status is Status.EXECUTING
    rejected = approval.status is Status.REJECTED
    if executing and current.kind == "command":
        return replace(updated, run="decided")
    if (executing or rejected) and current.kind == "signal":
        decision = "approved" if executing else "rejected"
        document = signal_document(
            updated, group, decision=decision, approval=approval, at=at, thread=thread, names=names,
            status_path=status_path,
        )  # fmt: skip
        return replace(updated, delivery=document)
    return replace(updated, closed="rejected") if rejected else updated


def finished_command(remediation: Remediation) -> bool:
    """A command that changed no Deployment is done once it ran; one that did is followed."""
    approval = remediation.approval
    return remediation.kind == "command" and approval is not None and approval.plan.kind != "deployment"


def audit_record(
    remediation: Remediation, user: str, name: str, outcome: str, at: datetime, execution: bool
) -> AuditRecord:
    """A decision on the remediation (by a person), or its execution (by Alertmanager)."""
    approval = remediation.approval
    assert approval is not None
    plan = approval.plan
    return AuditRecord(
        at=at,
        kind="execution" if execution else "approval",
        user_id=user,
        user_name=name,
        channel=approval.channel,
        thread=approval.thread,
        command=f"alertmanager remediation {remediation.rule}: {remediation.action}",
        cluster=plan.cluster,
        namespace=plan.namespace,
        target=plan.target,
        outcome=outcome,
        request_id=remediation.id,
    )
