"""The store contract: every backend (SQLite, Redis) keeps the same promises, call by call."""

from __future__ import annotations

import time

import pytest

from opsbot.store.protocol import StateStore
from tests.contract.conftest import OpenStore


async def test_incidents_round_trip_in_write_order_and_filter_by_state(store: StateStore) -> None:
    await store.put_incident("i1", "k1", "open", "C1", {"id": "i1", "n": 1})
    await store.put_incident("i2", "k2", "resolved", "C1", {"id": "i2"})
    await store.put_incident("i3", "k3", "open", "C2", {"id": "i3"})
    await store.put_incident("i1", "k1", "open", "C1", {"id": "i1", "n": 2})  # rewritten: now the newest
    assert [d["id"] for d in await store.incidents()] == ["i2", "i3", "i1"]
    assert [d["id"] for d in await store.incidents(state="open")] == ["i3", "i1"]
    assert await store.incident("i1") == {"id": "i1", "n": 2}
    assert await store.incident("nope") is None


async def test_an_incident_changing_state_leaves_its_old_state(store: StateStore) -> None:
    await store.put_incident("i1", "k1", "open", "C1", {"id": "i1"})
    await store.put_incident("i1", "k1", "resolved", "C1", {"id": "i1", "done": True})
    assert await store.incidents(state="open") == []
    assert await store.incidents(state="resolved") == [{"id": "i1", "done": True}]


async def test_resolved_incidents_written_before_the_cut_are_deleted_and_nothing_else(store: StateStore) -> None:
    await store.put_incident("old", "k1", "resolved", "C1", {"id": "old"})
    await store.put_incident("open", "k2", "open", "C1", {"id": "open"})
    assert store.prune_incidents(resolved_before=time.time() - 3600) == 0  # written just now
    cut = time.time() + 1
    await store.put_incident("later", "k3", "resolved", "C1", {"id": "later"})
    assert store.prune_incidents(resolved_before=cut) == 2
    assert [d["id"] for d in await store.incidents()] == ["open"]
    assert await store.incidents(state="resolved") == [] and await store.incident("old") is None
    await store.put_incident("open", "k2", "resolved", "C1", {"id": "open", "v": 2})
    assert store.prune_incidents(resolved_before=time.time() + 1) == 1 and await store.incidents() == []


async def test_approvals_that_are_over_are_deleted_before_the_cut_and_pending_ones_kept(store: StateStore) -> None:
    await store.put_approval("done", "succeeded", {"id": "done"})
    await store.put_approval("waiting", "pending", {"id": "waiting"})
    await store.put_approval("running", "executing", {"id": "running"})
    assert store.prune_approvals(over_before=time.time() - 3600) == 0  # written just now
    await store.put_approval("refused", "rejected", {"id": "refused"})
    assert store.prune_approvals(over_before=time.time() + 1) == 2
    assert await store.approval("done") is None and await store.approvals(status="rejected") == []
    assert [d["id"] for d in await store.approvals(status="pending") + await store.approvals(status="executing")] == [
        "waiting",
        "running",
    ]


async def test_mutes_end_at_their_time_and_come_soonest_ending_first(store: StateStore) -> None:
    await store.put_mute("m1", "prod/*", 300.0, {"id": "m1"})
    await store.put_mute("m2", "web/*", 200.0, {"id": "m2"})
    await store.put_mute("m3", "old/*", 100.0, {"id": "m3"})
    assert [d["id"] for d in await store.mutes(now=100.0)] == ["m2", "m1"]  # ending at `now` counts as ended
    assert [d["id"] for d in await store.mutes(now=0.0)] == ["m2", "m1"]  # an ended mute is gone for good
    assert await store.delete_mute("m2") is True
    assert await store.delete_mute("m2") is False
    assert [d["id"] for d in await store.mutes(now=0.0)] == ["m1"]


async def test_unsent_messages_are_taken_once_oldest_first(store: StateStore) -> None:
    await store.save_unsent([{"n": 1}, {"n": 2}])
    await store.save_unsent([{"n": 3}])
    assert await store.take_unsent() == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert await store.take_unsent() == []


async def test_approvals_by_status_in_write_order(store: StateStore) -> None:
    await store.put_approval("a1", "pending", {"id": "a1"})
    await store.put_approval("a2", "pending", {"id": "a2"})
    await store.put_approval("a1", "executing", {"id": "a1", "revision": 1})
    assert await store.approvals(status="pending") == [{"id": "a2"}]
    assert await store.approvals(status="executing") == [{"id": "a1", "revision": 1}]
    assert await store.approval("a1") == {"id": "a1", "revision": 1}
    assert await store.approval("nope") is None


async def test_an_approval_is_replaced_only_over_the_revision_it_was_read_at(store: StateStore) -> None:
    await store.put_approval("a1", "pending", {"id": "a1", "revision": 0})
    assert await store.replace_approval("a1", "executing", {"id": "a1", "revision": 1}, revision=0) is True
    # A second writer that read revision 0 loses and changes nothing.
    assert await store.replace_approval("a1", "rejected", {"id": "a1", "revision": 1}, revision=0) is False
    assert await store.approval("a1") == {"id": "a1", "revision": 1}
    assert await store.approvals(status="rejected") == []
    assert [d["id"] for d in await store.approvals(status="executing")] == ["a1"]
    assert await store.replace_approval("ghost", "executing", {"id": "ghost", "revision": 1}, revision=0) is False
    assert await store.approval("ghost") is None


async def test_a_notification_counts_once_until_forgotten(store: StateStore) -> None:
    assert await store.first_notification("n1", 100.0) is True
    assert await store.first_notification("n1", 101.0) is False
    await store.forget_notification("n1")
    assert await store.first_notification("n1", 102.0) is True


async def test_old_notifications_are_forgotten_and_newer_ones_kept(store: StateStore) -> None:
    await store.first_notification("old", 100.0)
    await store.first_notification("edge", 200.0)
    await store.forget_notifications(200.0)  # strictly before
    assert await store.first_notification("old", 300.0) is True
    assert await store.first_notification("edge", 300.0) is False


async def test_alert_groups_are_kept_by_key_in_write_order(store: StateStore) -> None:
    await store.put_am_group("g1", {"key": "g1", "v": 1})
    await store.put_am_group("g2", {"key": "g2"})
    await store.put_am_group("g1", {"key": "g1", "v": 2})
    assert await store.am_groups() == [{"key": "g2"}, {"key": "g1", "v": 2}]
    assert await store.am_group("g1") == {"key": "g1", "v": 2}
    assert await store.am_group("nope") is None


async def test_remediations_open_until_closed_and_pending_until_delivered(store: StateStore) -> None:
    await store.put_remediation("r1", "k1", "", {"id": "r1"}, delivery=("w1", "pending"))
    await store.put_remediation("r2", "k2", "", {"id": "r2"}, delivery=None)
    assert [d["id"] for d in await store.open_remediations()] == ["r1", "r2"]
    assert await store.pending_deliveries() == [{"id": "r1"}]
    await store.put_remediation("r1", "k1", "", {"id": "r1", "sent": True}, delivery=("w1", "delivered"))
    assert await store.pending_deliveries() == []
    await store.put_remediation("r2", "k2", "expired", {"id": "r2", "closed": "expired"}, delivery=None)
    assert [d["id"] for d in await store.open_remediations()] == ["r1"]
    assert await store.remediation("r2") == {"id": "r2", "closed": "expired"}
    assert await store.remediation("nope") is None


async def test_a_remediation_is_replaced_only_over_the_revision_it_was_read_at(store: StateStore) -> None:
    await store.put_remediation("r1", "k1", "", {"id": "r1", "revision": 0}, delivery=None)
    decided = {"id": "r1", "revision": 1, "by": "B"}
    assert await store.replace_remediation("r1", "k1", "", decided, delivery=("w1", "pending"), revision=0) is True
    # A second writer that read revision 0 too loses, and its delivery is not written either.
    loser = {"id": "r1", "revision": 1, "by": "C"}
    assert await store.replace_remediation("r1", "k1", "", loser, delivery=("w2", "pending"), revision=0) is False
    assert await store.remediation("r1") == decided
    assert await store.pending_deliveries() == [decided]
    done = {"id": "r1", "revision": 2, "closed": "rejected"}
    assert await store.replace_remediation("r1", "k1", "rejected", done, delivery=("w1", "delivered"), revision=1) is True
    assert await store.pending_deliveries() == [] and await store.open_remediations() == []
    ghost = {"id": "ghost", "revision": 1}
    assert await store.replace_remediation("ghost", "k", "", ghost, delivery=None, revision=0) is False
    assert await store.remediation("ghost") is None


def test_one_active_release_per_app_and_cluster_until_it_ends(store: StateStore) -> None:
    assert store.claim_release("a", "prod", "web/api", {"id": "a"}) is None
    assert store.claim_release("b", "prod", "web/api", {"id": "b"}) == {"id": "a"}
    assert store.claim_release("c", "stage", "web/api", {"id": "c"}) is None
    assert store.claim_release("d", "prod", "web/db", {"id": "d"}) is None
    assert [d["id"] for d in store.active_releases()] == ["a", "c", "d"]
    store.put_release("a", False, {"id": "a", "phase": "available"})
    assert [d["id"] for d in store.active_releases()] == ["c", "d"]
    assert store.claim_release("b", "prod", "web/api", {"id": "b"}) is None
    store.put_release("ghost", False, {"id": "ghost"})  # never claimed: nothing to update
    assert [d["id"] for d in store.active_releases()] == ["c", "d", "b"]


def test_a_release_claiming_the_slot_it_holds_again_still_holds_it(store: StateStore) -> None:
    """The same claim made twice (a store call sent again) is not refused by its own first."""
    assert store.claim_release("a", "prod", "web/api", {"id": "a"}) is None
    assert store.claim_release("a", "prod", "web/api", {"id": "a"}) is None
    assert store.claim_release("b", "prod", "web/api", {"id": "b"}) == {"id": "a"}


def test_versions_newest_first_by_cluster_and_whole_app_names(store: StateStore) -> None:
    store.add_version("prod", "ns/podinfo", ["podinfo", "podinfo-chart"], 1.0, {"v": "1", "c": "prod"})
    store.add_version("prod", "ns/podinfo", ["podinfo", "podinfo-chart"], 2.0, {"v": "2", "c": "prod"})
    store.add_version("stage", "ns/podinfo", ["podinfo"], 3.0, {"v": "2", "c": "stage"})
    store.add_version("prod", "ns/web", ["web"], 4.0, {"v": "9", "c": "prod"})
    assert [d["v"] for d in store.versions(cluster="prod", app="podinfo-chart", limit=10)] == ["2", "1"]
    assert [d["v"] for d in store.versions(cluster=None, app="podinfo", limit=10)] == ["2", "2", "1"]
    assert [d["v"] for d in store.versions(cluster="prod", app=None, limit=2)] == ["9", "2"]
    assert len(store.versions(cluster=None, app=None, limit=100)) == 4
    assert store.versions(cluster=None, app="podinfo-char", limit=10) == []
    assert store.latest_versions() == [{"v": "2", "c": "prod"}, {"v": "2", "c": "stage"}, {"v": "9", "c": "prod"}]


def test_audit_gives_the_newest_records_oldest_first_and_per_user(store: StateStore) -> None:
    for n in range(30):
        store.append_audit(float(n), "U1" if n % 3 else "U2", "command", {"n": n})
    assert [d["n"] for d in store.audit_records(last=3)] == [27, 28, 29]
    assert [d["n"] for d in store.audit_records(user_id="U2", last=3)] == [21, 24, 27]
    assert len(store.audit_records()) == 20
    assert store.audit_records(user_id="nobody") == []


def test_contexts_round_trip_touch_and_delete(store: StateStore) -> None:
    assert store.contexts(["U1/C1"])[0] is None
    store.put_context("U1/C1", {"app": "web"}, 10.0)
    store.touch_context("U1/C1", 20.0)
    store.touch_context("gone", 30.0)  # nothing to touch
    assert store.contexts(["U1/C1"])[0] == ({"app": "web"}, 20.0)
    assert store.contexts(["gone"])[0] is None
    assert store.delete_context("U1/C1") is True
    assert store.delete_context("U1/C1") is False


def test_contexts_are_read_several_at_once_in_the_order_asked(store: StateStore) -> None:
    store.put_context("channel:C1", {"cluster": "prod"}, 1.0)
    store.put_context("user:U1:C1", {"app": "web"}, 2.0)
    found = store.contexts(["user:U1:C1", "nobody", "channel:C1"])
    assert found == [({"app": "web"}, 2.0), None, ({"cluster": "prod"}, 1.0)]
    assert store.contexts([]) == []


async def test_everything_written_is_seen_by_another_handle(open_store: OpenStore) -> None:
    """Another replica (Redis) or a reopened file (SQLite) reads what the first one wrote."""
    first = open_store()
    await first.put_incident("i1", "k1", "open", "C1", {"id": "i1"})
    await first.put_approval("a1", "pending", {"id": "a1"})
    first.append_audit(1.0, "U1", "command", {"n": 1})
    first.put_context("U1/C1", {"app": "web"}, 5.0)
    second = open_store()
    assert await second.incident("i1") == {"id": "i1"}
    assert await second.approvals(status="pending") == [{"id": "a1"}]
    assert second.audit_records(user_id="U1") == [{"n": 1}]
    assert second.contexts(["U1/C1"])[0] == ({"app": "web"}, 5.0)
    assert second.problem() is None


@pytest.mark.parametrize("last", [0, 1])
def test_audit_limits_are_exact(store: StateStore, last: int) -> None:
    store.append_audit(1.0, "U1", "command", {"n": 1})
    store.append_audit(2.0, "U1", "command", {"n": 2})
    assert [d["n"] for d in store.audit_records(last=last)] == [2][:last]
