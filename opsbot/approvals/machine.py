"""The approval state machine, as a pure function: (approval, event) → (approval, effects).

    pending ──confirm (requester, self-confirm policy)──────────▶ executing
       │    ──approve × N (distinct allowed non-requesters)─────▶ executing
       │                                                         │
       │                          succeeded ◀──finish(ok)────────┤
       │                          failed    ◀──finish(err)───────┘
       ├──reject (allowed non-requester)──▶ rejected
       ├──cancel (requester)──▶ cancelled
       └──expire──▶ expired

`ApprovalPolicy` decides who may start the action. With ``requester_may_confirm``
(the default) the requester's own Confirm runs it. Without it a second person is
needed: ``approvals_required`` distinct people, none of them the requester, each of
them allowed to approve. Whether someone is allowed is the caller's verdict (the
``allowed`` flag on Approve / Reject, e.g. from an approvers role); a policy may
also name its ``approvers`` outright, and then the user must be in that set too.
The machine never looks anything up.

Every refusal is an effect (a private notice to whoever clicked), never an
exception, so a replayed, late, forged or duplicate click cannot do anything but
explain itself. `Execute` is emitted only on the one transition into EXECUTING,
and every final state is absorbing, so an action runs at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Icon, Mention, Moment, Strong, Text
from opsbot.core.request import MessageId

LONGEST_EXECUTION = timedelta(minutes=10)
"""Longer than any action runs (a Kubernetes patch takes seconds; a GitOps commit and push,
a minute at most): an action executing longer than this was orphaned by a replica that died."""


class Status(StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def final(self) -> bool:
        return self not in {Status.PENDING, Status.EXECUTING}


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who may start an action.

    ``requester_may_confirm``: the requester's Confirm runs it (today's behaviour);
    ``approvals_required`` and ``approvers`` then do not apply. Otherwise it runs
    once ``approvals_required`` distinct people other than the requester approved,
    each ``allowed`` by the caller and, if ``approvers`` is given, in that set.
    """

    requester_may_confirm: bool = True
    approvals_required: int = 1
    approvers: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.approvals_required < 1:
            raise ValueError("approvals_required must be at least 1")

    @property
    def second_person_required(self) -> bool:
        return not self.requester_may_confirm


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
    thread: MessageId | None
    created_at: datetime
    expires_at: datetime
    status: Status = Status.PENDING
    policy: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    history: tuple[Step, ...] = ()
    result: str = ""
    card: MessageId | None = None
    """The request card's message, once posted (a private card has none: see ``response_url``)."""
    response_url: str | None = None
    approvals: tuple[Step, ...] = ()
    """The approvals counted so far (one per distinct approver, in order)."""
    revision: int = 0
    """How many times the stored record was changed: the repository writes a transition only
    over the revision it was computed from (compare-and-set), so replicas cannot both win."""

    @property
    def changed_at(self) -> datetime:
        """When its status last changed (for EXECUTING: when it started running)."""
        return self.history[-1].at if self.history else self.created_at

    def orphaned(self, now: datetime) -> bool:
        """Executing for longer than any action runs: the replica running it died."""
        return self.status is Status.EXECUTING and now - self.changed_at > LONGEST_EXECUTION

    @property
    def approvers(self) -> tuple[str, ...]:
        """Distinct users whose approval counts, in the order they approved."""
        seen: list[str] = []
        for step in self.approvals:
            if step.user is not None and step.user not in seen:
                seen.append(step.user)
        return tuple(seen)


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
class Approve:
    """Someone approves. ``allowed`` is the caller's policy verdict for ``user``."""

    user: str
    at: datetime
    allowed: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Reject:
    """Someone rejects. ``allowed`` is the caller's policy verdict for ``user``."""

    user: str
    at: datetime
    allowed: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Expire:
    at: datetime


@dataclass(frozen=True)
class Finish:
    ok: bool
    message: str
    at: datetime


Event = Confirm | Cancel | Approve | Reject | Expire | Finish


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
    text: Text


@dataclass(frozen=True)
class TellThread:
    """A visible reply in the request's thread."""

    text: Text


Effect = Execute | UpdateCard | Notify | TellThread
Transition = tuple[Approval, tuple[Effect, ...]]


def stamp(moment: datetime) -> Moment:
    """How a moment is shown on cards and in the thread: in the reader's own time zone."""
    return Moment(moment)


def _describe_final(approval: Approval) -> Text:
    last = approval.history[-1] if approval.history else None
    who = Text(" by ", Mention(last.user)) if last and last.user else Text()
    return Text(f"This request is already {approval.status.value}", who, ".")


def transition(approval: Approval, event: Event) -> Transition:
    if isinstance(event, Confirm):
        return _confirm(approval, event)
    if isinstance(event, Cancel):
        return _cancel(approval, event)
    if isinstance(event, Approve):
        return _approve(approval, event)
    if isinstance(event, Reject):
        return _reject(approval, event)
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
        TellThread(Text(f"The request to {approval.plan.summary} expired; nothing was changed.")),
    )


def _gate(approval: Approval, user: str, at: datetime) -> Transition | None:
    """The checks every click goes through first: still pending, not yet expired."""
    if approval.status is not Status.PENDING:
        return approval, (Notify(user, _describe_final(approval)),)
    if at >= approval.expires_at:
        updated, effects = _expired(approval, at)
        return updated, (*effects, Notify(user, Text("This request has expired; nothing was changed.")))
    return None


def _start(approval: Approval, step: Step, effects: tuple[Effect, ...] = ()) -> Transition:
    """The one way into EXECUTING, and so the one place that emits Execute."""
    updated = replace(approval, status=Status.EXECUTING, history=(*approval.history, step))
    return updated, (UpdateCard(), *effects, Execute())


def _confirm(approval: Approval, event: Confirm) -> Transition:
    gated = _gate(approval, event.user, event.at)
    if gated is not None:
        return gated
    if event.user != approval.requester:
        if approval.policy.second_person_required:
            return approval, (
                Notify(
                    event.user,
                    Text(
                        "This request needs approval: use ",
                        Strong("Approve"),
                        " or ",
                        Strong("Reject"),
                        " on its card.",
                    ),
                ),
            )
        return approval, (Notify(event.user, _only_requester(approval, "confirm")),)
    if approval.policy.second_person_required:
        return approval, (Notify(event.user, _second_person_text(approval)),)
    return _start(approval, Step("confirmed", event.user, event.at))


def _only_requester(approval: Approval, verb: str) -> Text:
    return Text("Only ", Mention(approval.requester), f", who asked for this, can {verb} it.")


def _second_person_text(approval: Approval) -> Text:
    required = approval.policy.approvals_required
    who = "a second person" if required == 1 else f"{required} other people"
    return Text(f"This request needs approval by {who}: you cannot confirm your own request.")


def _refusal(approval: Approval, user: str, allowed: bool, reason: str, verb: str) -> Text | None:
    """Why ``user`` may not approve / reject this request, or None if they may."""
    policy = approval.policy
    if not policy.second_person_required:
        return Text(
            "This request does not need approval: ", Mention(approval.requester), " confirms it themselves."
        )
    if user == approval.requester:
        if verb == "approve":
            return Text("You cannot approve your own request; someone else has to.")
        return Text("You cannot reject your own request; use ", Strong("Cancel"), " to withdraw it.")
    if not allowed or (policy.approvers is not None and user not in policy.approvers):
        because = f": {reason}" if reason else "."
        return Text(f"You are not allowed to {verb} this request{because}")
    return None


def _approve(approval: Approval, event: Approve) -> Transition:
    gated = _gate(approval, event.user, event.at)
    if gated is not None:
        return gated
    refusal = _refusal(approval, event.user, event.allowed, event.reason, "approve")
    if refusal is not None:
        return approval, (Notify(event.user, refusal),)
    if event.user in approval.approvers:
        return approval, (Notify(event.user, Text("This request is already approved by you.")),)
    step = Step("approved", event.user, event.at)
    counted = replace(approval, approvals=(*approval.approvals, step))
    have, required = len(counted.approvers), approval.policy.approvals_required
    tell = TellThread(
        Text(
            Mention(approval.requester),
            " ",
            Mention(event.user),
            f" approved {approval.plan.summary} at ",
            stamp(event.at),
            f" ({have} of {required}).",
        )
    )
    if have >= required:
        return _start(counted, step, (tell,))
    updated = replace(counted, history=(*approval.history, step))
    return updated, (UpdateCard(), tell)


def _reject(approval: Approval, event: Reject) -> Transition:
    gated = _gate(approval, event.user, event.at)
    if gated is not None:
        return gated
    refusal = _refusal(approval, event.user, event.allowed, event.reason, "reject")
    if refusal is not None:
        return approval, (Notify(event.user, refusal),)
    because = f": {event.reason}" if event.reason else ""
    updated = replace(
        approval,
        status=Status.REJECTED,
        result=f"Rejected{because}" if event.reason else approval.result,
        history=(*approval.history, Step("rejected", event.user, event.at)),
    )
    return updated, (
        UpdateCard(),
        TellThread(
            Text(
                Mention(approval.requester),
                " ",
                Mention(event.user),
                f" rejected {approval.plan.summary} at ",
                stamp(event.at),
                f"{because}; nothing was changed.",
            )
        ),
    )


def _cancel(approval: Approval, event: Cancel) -> Transition:
    if approval.status is not Status.PENDING:
        return approval, (Notify(event.user, _describe_final(approval)),)
    if event.user != approval.requester:
        return approval, (Notify(event.user, _only_requester(approval, "cancel")),)
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
    icon = Icon.SUCCESS if event.ok else Icon.FAILURE
    return updated, (
        UpdateCard(),
        TellThread(Text(icon, " ", Mention(approval.requester), " ", event.message)),
    )
