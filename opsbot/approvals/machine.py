"""The approval state machine, as a pure function: (approval, event) → (approval, effects).

    pending ──confirm──▶ executing ──finish(ok)──▶ succeeded
       │                     └──────finish(err)──▶ failed
       ├──cancel──▶ cancelled
       └──expire──▶ expired

Today the only policy is self-confirmation by the requester; approvals by other
people (and more than one of them) grow from `ApprovalPolicy`. Every refusal is an
effect (a private notice to whoever clicked), never an exception, so a replayed,
late or forged click cannot do anything but explain itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from opsbot.commands.results import ActionPlan


class Status(StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self not in {Status.PENDING, Status.EXECUTING}


@dataclass(frozen=True)
class ApprovalPolicy:
    requester_may_confirm: bool = True


@dataclass(frozen=True)
class Step:
    """One line of the card's history: who did what, when."""

    what: str
    user: str | None
    at: datetime


@dataclass(frozen=True)
class Approval:
    id: str
    plan: ActionPlan
    requester: str
    channel: str
    thread_ts: str | None
    created_at: datetime
    expires_at: datetime
    status: Status = Status.PENDING
    policy: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    history: tuple[Step, ...] = ()
    result: str = ""
    card_ts: str | None = None
    response_url: str | None = None


# events -------------------------------------------------------------------


@dataclass(frozen=True)
class Confirm:
    user: str
    at: datetime


@dataclass(frozen=True)
class Cancel:
    user: str
    at: datetime


@dataclass(frozen=True)
class Expire:
    at: datetime


@dataclass(frozen=True)
class Finish:
    ok: bool
    message: str
    at: datetime


Event = Confirm | Cancel | Expire | Finish


# effects ------------------------------------------------------------------


@dataclass(frozen=True)
class Execute:
    """Run the plan now. Emitted exactly once per approval."""


@dataclass(frozen=True)
class UpdateCard:
    """Redraw the request card from the new state."""


@dataclass(frozen=True)
class Notify:
    """A private notice to one person (e.g. the one who clicked)."""

    user: str
    text: str


@dataclass(frozen=True)
class TellThread:
    """A visible reply in the request's thread."""

    text: str


Effect = Execute | UpdateCard | Notify | TellThread
Transition = tuple[Approval, tuple[Effect, ...]]


def _describe_final(approval: Approval) -> str:
    last = approval.history[-1] if approval.history else None
    who = f" by <@{last.user}>" if last and last.user else ""
    return f"This request is already {approval.status.value}{who}."


def transition(approval: Approval, event: Event) -> Transition:
    if isinstance(event, Confirm):
        return _confirm(approval, event)
    if isinstance(event, Cancel):
        return _cancel(approval, event)
    if isinstance(event, Expire):
        return _expire(approval, event)
    return _finish(approval, event)


def _expired(approval: Approval, at: datetime) -> Transition:
    updated = replace(
        approval,
        status=Status.EXPIRED,
        history=(*approval.history, Step("expired", None, at)),
    )
    return updated, (
        UpdateCard(),
        TellThread(f"The request to {approval.plan.summary} expired; nothing was changed."),
    )


def _confirm(approval: Approval, event: Confirm) -> Transition:
    if approval.status is not Status.PENDING:
        return approval, (Notify(event.user, _describe_final(approval)),)
    if event.at >= approval.expires_at:
        updated, effects = _expired(approval, event.at)
        return updated, (*effects, Notify(event.user, "This request has expired; nothing was changed."))
    if event.user != approval.requester or not approval.policy.requester_may_confirm:
        return approval, (
            Notify(event.user, f"Only <@{approval.requester}>, who asked for this, can confirm it."),
        )
    updated = replace(
        approval,
        status=Status.EXECUTING,
        history=(*approval.history, Step("confirmed", event.user, event.at)),
    )
    return updated, (UpdateCard(), Execute())


def _cancel(approval: Approval, event: Cancel) -> Transition:
    if approval.status is not Status.PENDING:
        return approval, (Notify(event.user, _describe_final(approval)),)
    if event.user != approval.requester:
        return approval, (
            Notify(event.user, f"Only <@{approval.requester}>, who asked for this, can cancel it."),
        )
    updated = replace(
        approval,
        status=Status.CANCELLED,
        history=(*approval.history, Step("cancelled", event.user, event.at)),
    )
    return updated, (UpdateCard(),)


def _expire(approval: Approval, event: Expire) -> Transition:
    if approval.status is not Status.PENDING or event.at < approval.expires_at:
        return approval, ()
    return _expired(approval, event.at)


def _finish(approval: Approval, event: Finish) -> Transition:
    if approval.status is not Status.EXECUTING:
        return approval, ()
    status = Status.SUCCEEDED if event.ok else Status.FAILED
    updated = replace(
        approval,
        status=status,
        result=event.message,
        history=(*approval.history, Step(status.value, None, event.at)),
    )
    icon = ":white_check_mark:" if event.ok else ":x:"
    return updated, (UpdateCard(), TellThread(f"{icon} <@{approval.requester}> {event.message}"))
