"""Remediations without a network: decisions through the approval machine, exactly once, and what
a restart finds (decided but not run, running, a signal still to send)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

import pytest

from opsbot.alertmanager.delivery import Attempt
from opsbot.alertmanager.groups import AlertGroup, AlertRecord
from opsbot.alertmanager.remediation import StatusUpdate
from opsbot.alerts.incidents import Incident
from opsbot.approvals.machine import Status
from opsbot.errors import StoreUnavailable
from opsbot.store.sqlite import SqliteStore
from tests.support.remediation_world import ALICE, BOB, CAROL, NOW, remediation, settle, subject, world


async def test_concurrent_approvals_run_the_command_once() -> None:
    w = await world(run_delay=0.01)
    await w.state.put_remediation(remediation())
    await asyncio.gather(*(w.service.decide("r1", True, subject(u), "C0ALERTS01") for u in (BOB, ALICE, BOB)))
    await settle(w)
    assert len(w.runs) == 1
    final = await w.state.remediation("r1")
    assert final is not None and final.status is Status.SUCCEEDED and final.run == "done"
    assert len(w.notices) == 2


async def test_the_requester_is_never_a_person_and_a_role_is_needed() -> None:
    w = await world()
    await w.state.put_remediation(remediation())
    await w.service.decide("r1", True, subject(CAROL), "C0ALERTS01")
    assert w.runs == [] and "not allowed to approve" in w.notices[0][1]
    current = await w.state.remediation("r1")
    assert current is not None and current.pending and current.approval is not None
    assert current.approval.requester == "Alertmanager" and current.approval.policy.second_person_required


async def test_after_a_restart_a_decided_command_runs_once() -> None:
    store = SqliteStore(":memory:")
    first = await world(store)
    await first.state.put_remediation(remediation(status=Status.EXECUTING, run="decided"))
    second = await world(store)
    await second.state.load()
    await second.service.resume()
    await settle(second)
    assert len(second.runs) == 1
    final = await second.state.remediation("r1")
    assert final is not None and final.status is Status.SUCCEEDED


async def test_after_a_restart_a_command_that_was_running_is_reported_not_rerun() -> None:
    store = SqliteStore(":memory:")
    await (await world(store)).state.put_remediation(remediation(status=Status.EXECUTING, run="started"))
    second = await world(store)
    await second.state.load()
    await second.service.resume()
    await settle(second)
    final = await second.state.remediation("r1")
    assert second.runs == []
    assert final is not None and final.approval is not None
    assert final.status is Status.FAILED and "interrupted by a restart" in final.approval.result


async def test_a_decided_signal_is_sent_after_a_restart_with_its_stable_id() -> None:
    store = SqliteStore(":memory:")
    first = await world(store, long_backoff=True)
    await first.state.put_remediation(remediation("signal"))
    first.sender.answers = [Attempt(False, False, 503, "HTTP 503")]
    await first.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    await first.backing_off.wait()
    await first.service.drain()  # stopped during the back-off
    second = await world(store)
    await second.state.load()
    await second.service.resume()
    await settle(second)
    assert [d.webhook_id for d in first.sender.sent + second.sender.sent] == ["msg_r1", "msg_r1"]
    assert first.sender.sent[0].body == second.sender.sent[0].body
    final = await second.state.remediation("r1")
    assert final is not None and final.delivery is not None and final.delivery.state == "delivered"
    assert final.delivery.attempts == 2 and final.status is Status.SUCCEEDED and not final.closed


async def test_retries_back_off_and_a_refusal_is_final() -> None:
    w = await world()
    await w.state.put_remediation(remediation("signal"))
    w.sender.answers = [Attempt(False, False, None, "timed out"), Attempt(False, True, 400, "HTTP 400")]
    await w.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    await settle(w)
    assert w.slept == [1.0]
    final = await w.state.remediation("r1")
    assert final is not None and final.delivery is not None
    assert final.delivery.state == "failed" and "refused" in final.delivery.error
    assert final.status is Status.FAILED and final.closed == "failed"


async def test_a_rejected_signal_tells_the_target_and_closes() -> None:
    w = await world()
    await w.state.put_remediation(remediation("signal"))
    await w.service.decide("r1", False, subject(BOB), "C0ALERTS01")
    await settle(w)
    (sent,) = w.sender.sent
    assert '"decision":"rejected"' in sent.body
    final = await w.state.remediation("r1")
    assert final is not None and final.closed == "rejected"


@pytest.mark.parametrize(("how", "closed"), [("expire", "expired"), ("resolve", "withdrawn")])
async def test_proposals_nobody_decided_expire_or_are_withdrawn_when_the_alerts_resolve(
    how: str, closed: str
) -> None:
    w = await world()
    await w.state.put_remediation(remediation())
    group = w.state.group("am/k")
    assert group is not None
    await w.state.put_group(replace(group, remediations=("r1",)))
    if how == "expire":
        w.clock.at = NOW + timedelta(hours=2)
        await w.service.sweep()
    else:
        incident = cast(Incident, type("I", (), {"id": "am/k@1"})())
        await w.service.on_resolved(cast(AlertGroup, w.state.group("am/k")), incident)
    final = await w.state.remediation("r1")
    assert final is not None and final.closed == closed and not final.pending
    await w.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    assert w.runs == [] and "already" in w.notices[-1][1]


async def test_status_updates_append_and_a_final_one_closes() -> None:
    w = await world()
    await w.state.put_remediation(remediation("signal", status=Status.SUCCEEDED))
    await w.service.update("r1", StatusUpdate("in_progress", "half", NOW, "deploybot"))
    updated = await w.service.update("r1", StatusUpdate("succeeded", "done", NOW, "deploybot"))
    assert updated is not None and [u.state for u in updated.updates] == ["in_progress", "succeeded"]
    assert updated.closed == "succeeded"
    assert await w.service.update("nope", StatusUpdate("succeeded", "", NOW, "x")) is None


async def test_of_two_replicas_resuming_a_decided_command_one_runs_it() -> None:
    store = SqliteStore(":memory:")
    first, second = await world(store, run_delay=0.01), await world(store, run_delay=0.01)
    await first.state.put_remediation(remediation(status=Status.EXECUTING, run="decided"))
    await first.service.resume()
    await second.service.resume()
    await asyncio.gather(settle(first), settle(second))
    assert len(first.runs) + len(second.runs) == 1
    final = await first.state.remediation("r1")
    assert final is not None and final.status is Status.SUCCEEDED and final.run == "done"


async def test_with_replicas_a_running_command_is_reported_only_once_orphaned() -> None:
    """It may be running on another replica: not failed at start, only after longer than any
    action runs (its replica died), and never while this replica runs it."""
    store = SqliteStore(":memory:")
    w = await world(store, shared=True)
    await w.state.put_remediation(remediation(status=Status.EXECUTING, run="started"))
    await w.service.resume()
    w.clock.at = NOW + timedelta(minutes=5)
    await w.service.sweep()
    running = await w.state.remediation("r1")
    assert running is not None and running.status is Status.EXECUTING
    w.clock.at = NOW + timedelta(minutes=11)
    await w.service.sweep()
    final = await w.state.remediation("r1")
    assert final is not None and final.approval is not None and final.status is Status.FAILED
    assert "replica running it stopped" in final.approval.result and final.closed == "failed"
    assert w.runs == []


async def test_the_loops_follow_a_rollout_that_another_replica_ran() -> None:
    store = SqliteStore(":memory:")
    w = await world(store)
    await w.state.put_remediation(remediation(status=Status.SUCCEEDED, run="done"))
    await w.service.sweep()
    assert w.followed == ["r1"]


async def test_a_signal_decided_on_a_replica_without_the_group_carries_its_alerts() -> None:
    """The replica taking the click never ran the Alertmanager loops: the alerts come from the
    store, as the replica running them wrote the group."""
    store = SqliteStore(":memory:")
    loops = await world(store)
    group = loops.state.group("am/k")
    assert group is not None
    alert = AlertRecord("f1", "firing", {"alertname": "Y", "pod": "api-1"}, {}, NOW, None, "", NOW)
    await loops.state.put_group(replace(group, alerts={"f1": alert}))
    await loops.state.put_remediation(remediation("signal", fingerprints=("f1",)))
    other = await world(store)
    other.state.forget()
    await other.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    await settle(other)
    (sent,) = other.sender.sent
    assert '"pod":"api-1"' in sent.body and '"groupKey":"gk"' in sent.body


async def test_a_click_while_the_store_cannot_answer_changes_nothing_and_says_so() -> None:
    store = SqliteStore(":memory:")
    w = await world(store)
    await w.state.put_remediation(remediation())

    async def unavailable(*args: object, **kwargs: object) -> bool:
        raise StoreUnavailable("the shared store (Redis) is unavailable")

    w.state.store.replace_remediation = unavailable  # type: ignore[method-assign]
    await w.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    assert w.runs == [] and "Nothing was changed" in w.notices[-1][1]
    current = await SqliteStore.remediation(store, "r1")
    assert current is not None and current["approval"]["status"] == "pending"


@pytest.mark.parametrize(
    ("drain", "status"),
    [
        ({"keep_runs": True}, Status.SUCCEEDED),  # handing the loops over
        ({"runs_grace": 5.0}, Status.SUCCEEDED),  # stopping: waited for
        ({}, Status.EXECUTING),  # cancelled: reported as interrupted later
    ],
)
async def test_a_command_under_way_finishes_when_the_loops_are_handed_over_or_the_bot_stops(
    drain: dict[str, Any], status: Status
) -> None:
    """Its outcome is stored instead of it being reported as interrupted later."""
    w = await world(run_delay=0.05)
    await w.state.put_remediation(remediation())
    await w.service.decide("r1", True, subject(BOB), "C0ALERTS01")
    await asyncio.sleep(0)  # the run has started
    await w.service.drain(**drain)
    await settle(w)
    final = await w.state.remediation("r1")
    assert final is not None and final.status is status and len(w.runs) == 1
