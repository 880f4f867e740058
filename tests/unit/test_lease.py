"""Who leads, from the Lease record (pure): client-go's rules on the local clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsbot.ha.lease import (
    Create,
    LeaseRecord,
    Renew,
    Take,
    Wait,
    decide,
    lease_body,
    observe,
    read,
    released_body,
)

AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def record(holder: str, renewed: datetime = AT, transitions: int = 3) -> LeaseRecord:
    return LeaseRecord(holder, timedelta(seconds=15), AT - timedelta(hours=1), renewed, transitions, "42")


def test_no_lease_is_created() -> None:
    assert decide(None, "me", 100.0) == Create()


def test_our_own_lease_is_renewed() -> None:
    assert decide(observe(None, record("me"), 100.0), "me", 100.0) == Renew()


def test_someone_elses_lease_is_waited_for_until_it_expires_on_our_clock() -> None:
    seen = observe(None, record("other"), 100.0)
    assert decide(seen, "me", 105.0) == Wait("other", 10.0)
    assert decide(seen, "me", 115.0) == Take()


def test_a_renewal_restarts_the_clock_the_same_record_does_not() -> None:
    first = observe(None, record("other"), 100.0)
    assert observe(first, record("other"), 110.0) is first  # nothing changed: the clock runs on
    renewed = observe(first, record("other", renewed=AT + timedelta(seconds=10)), 110.0)
    assert renewed.since == 110.0 and decide(renewed, "me", 120.0) == Wait("other", 5.0)


def test_a_released_lease_is_taken_at_once() -> None:
    assert decide(observe(None, record(""), 100.0), "me", 100.0) == Take()


def test_taking_over_counts_a_transition_and_keeps_the_resource_version() -> None:
    body = lease_body("opsbot-leader-prod", "opsbot", "me", Take(), record("other"), timedelta(seconds=15), AT)
    assert body["spec"]["holderIdentity"] == "me" and body["spec"]["leaseTransitions"] == 4
    assert body["metadata"]["resourceVersion"] == "42"
    assert body["spec"]["renewTime"] == "2026-12-03T12:00:00.000000Z"
    again = read({**body, "metadata": {**body["metadata"], "resourceVersion": "43"}})
    assert again.holder == "me" and again.duration == timedelta(seconds=15) and again.resource_version == "43"


def test_a_renewal_keeps_the_acquire_time() -> None:
    body = lease_body("l", "opsbot", "me", Renew(), record("me"), timedelta(seconds=15), AT)
    assert body["spec"]["acquireTime"] == "2026-12-03T11:00:00.000000Z"
    assert body["spec"]["leaseTransitions"] == 3


def test_a_release_names_no_holder() -> None:
    body = released_body("l", "opsbot", record("me"), AT)
    assert body["spec"]["holderIdentity"] == "" and body["spec"]["leaseDurationSeconds"] == 1
