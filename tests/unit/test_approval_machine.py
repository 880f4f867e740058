"""The approval state machine (pure): every transition and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsbot.approvals.cards import CANCEL_ACTION, CONFIRM_ACTION, approval_card
from opsbot.approvals.machine import (
    Approval,
    Cancel,
    Confirm,
    Execute,
    Expire,
    Finish,
    Notify,
    Status,
    TellThread,
    UpdateCard,
    transition,
)
from opsbot.commands.results import ActionPlan

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
    assert isinstance(second[0], Notify) and "already executing" in second[0].text


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
    assert any(isinstance(e, TellThread) and "result text" in e.text for e in effects)


def test_finish_is_ignored_unless_executing() -> None:
    approval, effects = transition(pending(), Finish(True, "x", T0))
    assert approval.status is Status.PENDING and effects == ()


def test_card_has_buttons_only_while_pending() -> None:
    card = approval_card(pending())
    assert {b.action_id for b in card.buttons} == {CONFIRM_ACTION, CANCEL_ACTION}
    assert all(b.value == "id1" for b in card.buttons)
    assert "replicas 3 → 0" in card.parts[0].markdown  # type: ignore[union-attr]
    executing, _ = transition(pending(), Confirm("UREQ", T0))
    assert approval_card(executing).buttons == ()
    assert "Confirmed by <@UREQ>" in " ".join(
        getattr(p, "markdown", "") for p in approval_card(executing).parts
    )
