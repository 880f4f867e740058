"""The approval state machine (pure): every transition and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsbot.approvals.cards import (
    APPROVE_ACTION,
    CANCEL_ACTION,
    CONFIRM_ACTION,
    REJECT_ACTION,
    approval_card,
)
from opsbot.approvals.machine import (
    Approval,
    ApprovalPolicy,
    Approve,
    Cancel,
    Confirm,
    Execute,
    Expire,
    Finish,
    Notify,
    Reject,
    Status,
    Step,
    TellThread,
    UpdateCard,
    transition,
)
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Part, Text
from opsbot.slack.render import mrkdwn

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PLAN = ActionPlan(
    "scale", "prod", "web", "deployment", "api", ("replicas 3 → 0",), {"replicas": 0, "from": 3}
)


def pending() -> Approval:
    return Approval("id1", PLAN, "UREQ", "C1", "111.1", T0, T0 + timedelta(minutes=15))


def test_requester_confirm_starts_execution_exactly_once() -> None:
    approval, effects = transition(pending(), Confirm("UREQ", T0 + timedelta(seconds=5)))
    assert approval.status is Status.EXECUTING
    assert effects == (UpdateCard(), Execute())
    again, second = transition(approval, Confirm("UREQ", T0 + timedelta(seconds=6)))
    assert again is approval
    assert not any(isinstance(e, Execute) for e in second)
    assert isinstance(second[0], Notify) and "already executing" in mrkdwn(second[0].text)


def test_someone_else_cannot_confirm_or_cancel() -> None:
    for event in (Confirm("UOTHER", T0), Cancel("UOTHER", T0)):
        approval, effects = transition(pending(), event)
        assert approval.status is Status.PENDING
        assert effects and all(isinstance(e, Notify) and e.user == "UOTHER" for e in effects)


def test_cancel_by_requester_is_final() -> None:
    approval, effects = transition(pending(), Cancel("UREQ", T0))
    assert approval.status is Status.CANCELLED
    assert effects == (UpdateCard(),)
    after, later = transition(approval, Confirm("UREQ", T0))
    assert after.status is Status.CANCELLED
    assert not any(isinstance(e, Execute) for e in later)


def test_confirm_after_expiry_expires_instead_of_running() -> None:
    approval, effects = transition(pending(), Confirm("UREQ", T0 + timedelta(minutes=16)))
    assert approval.status is Status.EXPIRED
    assert not any(isinstance(e, Execute) for e in effects)
    assert any(isinstance(e, TellThread) for e in effects)


def test_expire_event_only_acts_when_due_and_pending() -> None:
    early, none = transition(pending(), Expire(T0 + timedelta(minutes=1)))
    assert early.status is Status.PENDING and none == ()
    due, effects = transition(pending(), Expire(T0 + timedelta(minutes=15)))
    assert due.status is Status.EXPIRED and UpdateCard() in effects


@pytest.mark.parametrize(("ok", "status"), [(True, Status.SUCCEEDED), (False, Status.FAILED)])
def test_finish_records_the_outcome(ok: bool, status: Status) -> None:
    executing, _ = transition(pending(), Confirm("UREQ", T0))
    done, effects = transition(executing, Finish(ok, "result text", T0))
    assert done.status is status
    assert done.result == "result text"
    assert any(isinstance(e, TellThread) and "result text" in mrkdwn(e.text) for e in effects)


def test_finish_is_ignored_unless_executing() -> None:
    approval, effects = transition(pending(), Finish(True, "x", T0))
    assert approval.status is Status.PENDING and effects == ()


def test_card_has_buttons_only_while_pending() -> None:
    card = approval_card(pending())
    assert {b.action_id for b in card.buttons} == {CONFIRM_ACTION, CANCEL_ACTION}
    assert all(b.value == "id1" for b in card.buttons)
    assert "• replicas 3 → 0" in text_of(card.parts[:1])
    executing, _ = transition(pending(), Confirm("UREQ", T0))
    assert approval_card(executing).buttons == ()
    assert "_Confirmed by <@UREQ> at <!date^1795348800^{date_short_pretty} {time}|2026-11-22 12:00 UTC>_" in text_of(approval_card(executing).parts)


# a second person required ---------------------------------------------------

TWO = ApprovalPolicy(requester_may_confirm=False, approvals_required=2)
ONE = ApprovalPolicy(requester_may_confirm=False)


def needs(policy: ApprovalPolicy) -> Approval:
    return Approval("id2", PLAN, "UREQ", "C1", "111.1", T0, T0 + timedelta(minutes=15), policy=policy)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def text_of(card_parts: tuple[Part, ...]) -> str:
    """The card's paragraphs as Slack shows them."""
    return " ".join(mrkdwn(p) for p in card_parts if isinstance(p, Text))


def test_default_policy_is_self_confirm_with_one_approval() -> None:
    assert ApprovalPolicy() == ApprovalPolicy(True, 1, None)
    assert not ApprovalPolicy().second_person_required
    with pytest.raises(ValueError, match="at least 1"):
        ApprovalPolicy(approvals_required=0)


def test_requester_cannot_confirm_when_a_second_person_is_required() -> None:
    approval = needs(ONE)
    after, effects = transition(approval, Confirm("UREQ", at(1)))
    assert after is approval
    assert len(effects) == 1 and isinstance(effects[0], Notify) and effects[0].user == "UREQ"
    assert "second person" in mrkdwn(effects[0].text)
    _, two = transition(needs(TWO), Confirm("UREQ", at(1)))
    assert isinstance(two[0], Notify) and "2 other people" in mrkdwn(two[0].text)


def test_someone_else_confirming_is_pointed_at_approve() -> None:
    approval = needs(ONE)
    after, effects = transition(approval, Confirm("UOTHER", at(1)))
    assert after is approval
    assert isinstance(effects[0], Notify) and "Approve" in mrkdwn(effects[0].text)


def test_one_approval_by_someone_else_executes() -> None:
    approval, effects = transition(needs(ONE), Approve("UAPP", at(5)))
    assert approval.status is Status.EXECUTING
    assert approval.approvals == (Step("approved", "UAPP", at(5)),)
    assert approval.history[-1] == Step("approved", "UAPP", at(5))
    assert effects[0] == UpdateCard() and effects[-1] == Execute()
    assert sum(isinstance(e, Execute) for e in effects) == 1
    tell = [e for e in effects if isinstance(e, TellThread)]
    assert len(tell) == 1 and "<@UAPP> approved" in mrkdwn(tell[0].text) and "<@UREQ>" in mrkdwn(tell[0].text)
    assert "<!date^1795348805^{date_short_pretty} {time}|2026-11-22 12:00 UTC>" in mrkdwn(tell[0].text) and "(1 of 1)" in mrkdwn(tell[0].text)


def test_two_approvals_needed_count_distinct_people() -> None:
    first, effects = transition(needs(TWO), Approve("UA", at(1)))
    assert first.status is Status.PENDING
    assert first.approvers == ("UA",)
    assert not any(isinstance(e, Execute) for e in effects)
    assert UpdateCard() in effects
    assert any(
        isinstance(e, TellThread) and "(1 of 2)" in mrkdwn(e.text) and "<@UA>" in mrkdwn(e.text)
        for e in effects
    )

    again, dup = transition(first, Approve("UA", at(2)))
    assert again is first
    assert dup == (Notify("UA", Text("This request is already approved by you.")),)

    second, effects = transition(first, Approve("UB", at(3)))
    assert second.status is Status.EXECUTING
    assert second.approvers == ("UA", "UB")
    assert effects.count(Execute()) == 1

    late, more = transition(second, Approve("UC", at(4)))
    assert late is second
    assert not any(isinstance(e, Execute) for e in more)
    assert isinstance(more[0], Notify) and "already executing" in mrkdwn(more[0].text)


def test_requester_cannot_approve_their_own_request() -> None:
    approval = needs(ONE)
    after, effects = transition(approval, Approve("UREQ", at(1)))
    assert after is approval
    assert effects == (Notify("UREQ", Text("You cannot approve your own request; someone else has to.")),)


def test_approve_by_someone_not_allowed_explains_why() -> None:
    approval = needs(ONE)
    after, effects = transition(approval, Approve("UX", at(1), allowed=False, reason="not in ops-approvers"))
    assert after is approval
    assert len(effects) == 1 and isinstance(effects[0], Notify) and effects[0].user == "UX"
    assert "not in ops-approvers" in mrkdwn(effects[0].text)
    _, bare = transition(approval, Approve("UX", at(1), allowed=False))
    assert isinstance(bare[0], Notify) and "not allowed to approve" in mrkdwn(bare[0].text)


def test_policy_approvers_set_is_enforced_too() -> None:
    policy = ApprovalPolicy(requester_may_confirm=False, approvers=frozenset({"UA"}))
    approval = needs(policy)
    outsider, effects = transition(approval, Approve("UB", at(1)))
    assert outsider is approval and isinstance(effects[0], Notify)
    rejecter, effects = transition(approval, Reject("UB", at(1)))
    assert rejecter is approval and isinstance(effects[0], Notify)
    insider, effects = transition(approval, Approve("UA", at(1)))
    assert insider.status is Status.EXECUTING and Execute() in effects


def test_reject_by_an_allowed_person_is_final() -> None:
    first, _ = transition(needs(TWO), Approve("UA", at(1)))
    rejected, effects = transition(first, Reject("UB", at(2), reason="not during the freeze"))
    assert rejected.status is Status.REJECTED and rejected.status.final
    assert rejected.history[-1] == Step("rejected", "UB", at(2))
    assert "not during the freeze" in rejected.result
    assert effects[0] == UpdateCard()
    tell = [e for e in effects if isinstance(e, TellThread)]
    assert (
        tell and "<@UB> rejected" in mrkdwn(tell[0].text) and "<!date^1795348802^{date_short_pretty} {time}|2026-11-22 12:00 UTC>" in mrkdwn(tell[0].text)
    )
    for event in (Approve("UC", at(3)), Confirm("UREQ", at(3)), Cancel("UREQ", at(3)), Reject("UC", at(3))):
        after, later = transition(rejected, event)
        assert after is rejected
        assert not any(isinstance(e, Execute | UpdateCard) for e in later)
        assert isinstance(later[0], Notify) and "already rejected by <@UB>" in mrkdwn(later[0].text)


def test_reject_refusals_requester_and_not_allowed() -> None:
    approval = needs(ONE)
    own, effects = transition(approval, Reject("UREQ", at(1)))
    assert own is approval and isinstance(effects[0], Notify) and "Cancel" in mrkdwn(effects[0].text)
    denied, effects = transition(approval, Reject("UX", at(1), allowed=False, reason="viewer role"))
    assert denied is approval and isinstance(effects[0], Notify) and "viewer role" in mrkdwn(effects[0].text)


def test_requester_may_still_cancel_a_request_awaiting_approval() -> None:
    first, _ = transition(needs(TWO), Approve("UA", at(1)))
    cancelled, effects = transition(first, Cancel("UREQ", at(2)))
    assert cancelled.status is Status.CANCELLED and effects == (UpdateCard(),)
    after, later = transition(cancelled, Approve("UB", at(3)))
    assert after is cancelled and not any(isinstance(e, Execute) for e in later)


def test_approvals_after_expiry_expire_instead_of_counting() -> None:
    first, _ = transition(needs(TWO), Approve("UA", at(1)))
    for event in (Approve("UB", at(15 * 60)), Reject("UB", at(16 * 60))):
        expired, effects = transition(first, event)
        assert expired.status is Status.EXPIRED
        assert not any(isinstance(e, Execute) for e in effects)
        assert UpdateCard() in effects and any(isinstance(e, TellThread) for e in effects)
    due, effects = transition(first, Expire(at(15 * 60)))
    assert due.status is Status.EXPIRED and UpdateCard() in effects


def test_approve_and_reject_do_nothing_on_self_confirm_requests() -> None:
    approval = pending()
    for event in (Approve("UOTHER", T0), Reject("UOTHER", T0), Approve("UREQ", T0), Reject("UREQ", T0)):
        after, effects = transition(approval, event)
        assert after is approval
        assert (
            len(effects) == 1
            and isinstance(effects[0], Notify)
            and "does not need approval" in mrkdwn(effects[0].text)
        )


def test_finish_only_from_executing_after_approval() -> None:
    first, _ = transition(needs(TWO), Approve("UA", at(1)))
    assert transition(first, Finish(True, "x", at(2))) == (first, ())
    running, _ = transition(first, Approve("UB", at(2)))
    done, effects = transition(running, Finish(True, "scaled", at(3)))
    assert done.status is Status.SUCCEEDED and UpdateCard() in effects
    assert transition(done, Finish(False, "again", at(4))) == (done, ())


def test_card_for_a_second_person_shows_approvals_and_approve_buttons() -> None:
    card = approval_card(needs(TWO))
    assert [b.action_id for b in card.buttons] == [APPROVE_ACTION, REJECT_ACTION, CANCEL_ACTION]
    assert all(b.value == "id2" for b in card.buttons)
    assert mrkdwn(card.title).startswith("Approval needed")
    assert "Approvals: 0 of 2" in text_of(card.parts)
    first, _ = transition(needs(TWO), Approve("UA", at(7)))
    card = approval_card(first)
    assert "Approvals: 1 of 2 (by <@UA> at <!date^1795348807^{date_short_pretty} {time}|2026-11-22 12:00 UTC>)" in text_of(card.parts)
    assert "Approved by <@UA> at <!date^1795348807^{date_short_pretty} {time}|2026-11-22 12:00 UTC>" in text_of(card.parts)
    assert len(card.buttons) == 3
    running, _ = transition(first, Approve("UB", at(8)))
    card = approval_card(running)
    assert card.buttons == ()
    assert "Approvals: 2 of 2 (by <@UA> at <!date^1795348807^{date_short_pretty} {time}|2026-11-22 12:00 UTC>, <@UB> at <!date^1795348808^{date_short_pretty} {time}|2026-11-22 12:00 UTC>)" in text_of(
        card.parts
    )


def test_rejected_card_has_no_buttons_and_says_who() -> None:
    rejected, _ = transition(needs(ONE), Reject("UB", at(2), reason="freeze"))
    card = approval_card(rejected)
    assert card.buttons == () and mrkdwn(card.title).startswith("Rejected:")
    assert "Rejected by <@UB> at <!date^1795348802^{date_short_pretty} {time}|2026-11-22 12:00 UTC>" in text_of(card.parts)
    assert "freeze" in text_of(card.parts)


def test_self_confirm_card_is_unchanged() -> None:
    card = approval_card(pending())
    assert [b.label for b in card.buttons] == ["Confirm", "Cancel"]
    assert mrkdwn(card.title).startswith("Confirm:")
    assert "Approvals:" not in text_of(card.parts)
