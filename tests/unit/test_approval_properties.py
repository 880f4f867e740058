"""Property tests of the approval machine: whatever arrives, in whatever order,
an action runs at most once, and only when the policy says so.

Random policies (self-confirm or N approvals, with or without a named approvers
set) meet random sequences of events: clicks by random users including the
requester, random `allowed` verdicts, random times around the expiry (in any
order), replays and double clicks of the same event, stray Finish and Expire
events. A small
reference model, written independently of the machine, says when Execute is due.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbot.approvals.cards import APPROVE_ACTION, CONFIRM_ACTION, approval_card
from opsbot.approvals.machine import (
    Approval,
    ApprovalPolicy,
    Approve,
    Cancel,
    Confirm,
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
from opsbot.core.plan import ActionPlan
from opsbot.slack.render import mrkdwn

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EXPIRES = T0 + timedelta(minutes=15)
PLAN = ActionPlan("restart", "prod", "web", "deployment", "api", ("rollout restart",), {})
REQUESTER = "UREQ"
USERS = (REQUESTER, "UA", "UB", "UC", "UD")
FINAL_FROM_CLICKS = {Status.CANCELLED, Status.EXPIRED, Status.REJECTED}


def policy_of(code: int) -> ApprovalPolicy:
    """One drawn integer → a policy: self-confirm or 1-3 approvals, approvers named or not."""
    code, self_confirm = divmod(code, 2)
    code, required = divmod(code, 3)
    named = code % (2 ** len(USERS) + 1)  # 0: no approvers set; else a subset of USERS
    approvers = None if named == 0 else frozenset(u for i, u in enumerate(USERS) if (named - 1) >> i & 1)
    return ApprovalPolicy(self_confirm == 0, required + 1, approvers)


policies = st.integers(min_value=0, max_value=2 * 3 * (2 ** len(USERS) + 1) - 1).map(policy_of)
# Seconds after the request: either side of the expiry (15 min) and right on it.
SECONDS = (0, 1, 30, 60, 299, 300, 450, 600, 899, 900, 901, 960, 1200, 3600, 59, 14 * 60)
REASONS = ("", "not an approver", "change freeze")
KINDS = 6


def decode(code: int) -> tuple[Event, int]:
    """One drawn integer → one event and how often it arrives in a row.

    A single draw per event keeps thousands of examples fast; 0 decodes to the
    simplest event (the requester confirming at once), so shrinking stays useful.
    """
    code, kind = divmod(code, KINDS)
    code, who = divmod(code, len(USERS))
    code, when = divmod(code, len(SECONDS))
    code, allowed = divmod(code, 2)
    code, why = divmod(code, len(REASONS))
    repeat = 1 + code % 3  # double clicks, two Slack clients, replays
    user, at, reason = USERS[who], T0 + timedelta(seconds=SECONDS[when]), REASONS[why]
    event: Event
    if kind == 0:
        event = Confirm(user, at)
    elif kind == 1:
        event = Approve(user, at, allowed == 0, reason)
    elif kind == 2:
        event = Reject(user, at, allowed == 0, reason)
    elif kind == 3:
        event = Cancel(user, at)
    elif kind == 4:
        event = Expire(at)
    else:
        event = Finish(allowed == 0, "done", at)
    return event, repeat


CODES = KINDS * len(USERS) * len(SECONDS) * 2 * len(REASONS) * 3
sequences = st.lists(st.integers(min_value=0, max_value=CODES - 1), max_size=25).map(
    lambda codes: [event for event, times in map(decode, codes) for _ in range(times)]
)


def new(policy: ApprovalPolicy) -> Approval:
    return Approval("id", PLAN, REQUESTER, "C1", "1.1", T0, EXPIRES, policy=policy)


@dataclass
class Model:
    """What must have happened, tracked independently of the machine."""

    policy: ApprovalPolicy
    status: Status = Status.PENDING
    approved_by: set[str] = field(default_factory=set)

    def may_act(self, user: str, allowed: bool) -> bool:
        return (
            not self.policy.requester_may_confirm
            and user != REQUESTER
            and allowed
            and (self.policy.approvers is None or user in self.policy.approvers)
        )

    def step(self, event: Event) -> bool:
        """Advance; True if this event must start the action."""
        if isinstance(event, Finish):
            if self.status is Status.EXECUTING:
                self.status = Status.SUCCEEDED if event.ok else Status.FAILED
            return False
        if self.status is not Status.PENDING:
            return False
        if event.at >= EXPIRES and not isinstance(event, Cancel):  # a Cancel is judged on who, not when
            self.status = Status.EXPIRED
            return False
        if isinstance(event, Expire):
            return False
        if isinstance(event, Cancel):
            if event.user == REQUESTER:
                self.status = Status.CANCELLED
            return False
        if isinstance(event, Confirm):
            if self.policy.requester_may_confirm and event.user == REQUESTER:
                self.status = Status.EXECUTING
                return True
            return False
        if isinstance(event, Reject):
            if self.may_act(event.user, event.allowed):
                self.status = Status.REJECTED
            return False
        if self.may_act(event.user, event.allowed):
            self.approved_by.add(event.user)
            if len(self.approved_by) >= self.policy.approvals_required:
                self.status = Status.EXECUTING
                return True
        return False


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies, sequence=sequences)
def test_execute_at_most_once_and_only_when_due(policy: ApprovalPolicy, sequence: list[Event]) -> None:
    approval = new(policy)
    model = Model(policy)
    executes = 0
    for event in sequence:
        before = approval
        after, effects = transition(approval, event)
        due = model.step(event)
        ran = effects.count(Execute())

        # Execute exactly when the reference model says so, and at most once overall.
        assert ran == (1 if due else 0), (event, effects)
        executes += ran
        assert executes <= 1
        assert after.status is model.status, (event, after.status, model.status)

        if ran:
            # Never after expiry, cancel or reject; only out of pending, by the right people.
            assert before.status is Status.PENDING and event.at < EXPIRES
            assert after.status is Status.EXECUTING
            if policy.requester_may_confirm:
                assert isinstance(event, Confirm) and event.user == REQUESTER
            else:
                assert isinstance(event, Approve) and event.user != REQUESTER and event.allowed
                assert len(set(after.approvers)) == policy.approvals_required
                assert REQUESTER not in after.approvers
                assert policy.approvers is None or set(after.approvers) <= policy.approvers

        # Final states absorb everything: same object, nothing shown but a private notice.
        if before.status.final:
            assert after is before
            assert all(isinstance(e, Notify) for e in effects)

        # A change of state always redraws the card; no change never touches it or the thread.
        if after.status is not before.status or after.approvals != before.approvals:
            assert UpdateCard() in effects
        if after is before:
            assert not any(isinstance(e, UpdateCard | TellThread | Execute) for e in effects)
        if isinstance(event, Approve | Reject) and after is not before and after.status is not Status.EXPIRED:
            tells = [e for e in effects if isinstance(e, TellThread)]
            assert tells and f"<@{event.user}>" in mrkdwn(tells[0].text)

        # Approvals only ever come from distinct, allowed people other than the requester.
        assert len(after.approvers) == len(after.approvals)
        assert REQUESTER not in after.approvers
        assert len(after.approvals) <= policy.approvals_required
        assert len(after.history) >= len(before.history)

        # The card always renders, with buttons only while pending, of the policy's kind.
        card = approval_card(after)
        if after.status is Status.PENDING:
            kind = CONFIRM_ACTION if policy.requester_may_confirm else APPROVE_ACTION
            assert kind in {b.action_id for b in card.buttons}
        else:
            assert card.buttons == ()
        approval = after

    if executes:
        assert approval.status in {Status.EXECUTING, Status.SUCCEEDED, Status.FAILED}
    else:
        assert approval.status in {Status.PENDING, *FINAL_FROM_CLICKS}

    # Replaying every payload once more, after the fact (replayed or forged
    # buttons), never adds an Execute to the one the first pass may have emitted.
    for event in sequence:
        approval, effects = transition(approval, event)
        executes += effects.count(Execute())
    assert executes <= 1
