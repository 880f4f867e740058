"""The incident book (opsbot.alerts.incidents.IncidentBook): findings grouped into incidents,
updated only when something is new, resolved after a quiet period, reopened within the
cooldown. Pure: hand-made observations, explicit times, no clock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest

from opsbot.alerts.findings import AlertKind, Finding, Observation, Severity, Workload
from opsbot.alerts.incidents import (
    Affected,
    Changed,
    Incident,
    IncidentBook,
    IncidentEffect,
    IncidentPolicy,
    IncidentState,
    Opened,
    Reopened,
    Resolved,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RESOLVE_AFTER = timedelta(minutes=5)
COOLDOWN = timedelta(minutes=30)
CHANNEL = "C0ALERTS01"
CLBO = AlertKind.CRASH_LOOP
WEB = Workload("Deployment", "web")


def finding(
    pod: str = "web-1", restarts: int = 3, *, reason: str = "Error", kind: AlertKind = CLBO
) -> Finding:
    return Finding(
        kind=kind,
        severity=Severity.CRITICAL,
        cluster="prod",
        namespace="shop",
        workload=WEB,
        subject_kind="Pod",
        subject=pod,
        reason=reason,
        container="app",
        restart_count=restarts,
    )


def seen(
    pod: str = "web-1",
    *findings: Finding,
    healthy: bool = False,
    deleted: bool = False,
    active: Sequence[AlertKind] | None = None,
) -> Observation:
    """What one event on ``pod`` said: its findings, its health, the problems holding now."""
    holding = frozenset(active if active is not None else ({f.kind for f in findings} or ()))
    return Observation(
        cluster="prod",
        subject_kind="Pod",
        namespace="shop",
        name=pod,
        workload=WEB,
        healthy=healthy,
        deleted=deleted,
        findings=findings,
        active=holding,
    )


def crashing(pod: str = "web-1", restarts: int = 3, *, reason: str = "Error") -> Observation:
    return seen(pod, finding(pod, restarts, reason=reason))


def recovered(pod: str = "web-1") -> Observation:
    return seen(pod, healthy=True, active=())


def new_book(route: str | None = CHANNEL) -> IncidentBook:
    return IncidentBook(IncidentPolicy(resolve_after=RESOLVE_AFTER, cooldown=COOLDOWN), lambda _: route)


def only(effects: list[IncidentEffect]) -> IncidentEffect:
    assert len(effects) == 1, effects
    return effects[0]


def opened(book: IncidentBook, at: datetime = T0, pod: str = "web-1") -> Incident:
    effect = only(book.observe(crashing(pod), at))
    assert isinstance(effect, Opened)
    return effect.incident


def resolved(book: IncidentBook, at: datetime = T0) -> Incident:
    """Open, recover at once, resolve after the quiet period; the resolved incident."""
    opened(book, at)
    book.observe(recovered(), at)
    effect = only(book.tick(at + RESOLVE_AFTER))
    assert isinstance(effect, Resolved)
    return effect.incident


# -- opening and updating -----------------------------------------------------------------


def test_the_first_finding_opens_an_incident_routed_to_its_channel() -> None:
    incident = opened(new_book())
    assert incident.state is IncidentState.OPEN
    assert (incident.kind, incident.channel, incident.workload) == (CLBO, CHANNEL, WEB)
    assert incident.key == finding().incident_key
    assert [(item.name, item.restarts) for item in incident.affected] == [("web-1", 3)]


def test_an_unrouted_finding_opens_nothing() -> None:
    book = new_book(route=None)
    assert book.observe(crashing(), T0) == []
    assert book.open_incidents() == []


@pytest.mark.parametrize(
    ("again", "changes"),
    [
        (crashing("web-1", 3), False),
        (crashing("web-1", 2), False),
        (crashing("web-1", 4), True),
        (crashing("web-2", 1), True),
        (crashing("web-1", 0, reason="OOMKilled"), True),
    ],
    ids=[
        "same-facts",
        "lower-restart-count",
        "higher-restart-count",
        "another-pod",
        "new-reason-without-count",
    ],
)
def test_an_incident_is_updated_only_when_a_finding_adds_something(again: Observation, changes: bool) -> None:
    book = new_book()
    first = opened(book)
    effects = book.observe(again, T0 + timedelta(minutes=1))
    if not changes:
        assert effects == []
        assert book.open_incidents()[0].occurrences == 1
        return
    effect = only(effects)
    assert isinstance(effect, Changed)
    assert effect.incident.id == first.id and effect.incident.occurrences == 2


def test_pods_of_one_workload_share_one_incident() -> None:
    book = new_book()
    first = opened(book)
    book.observe(crashing("web-2"), T0)
    (incident,) = book.open_incidents()
    assert incident.id == first.id
    assert [item.name for item in incident.affected] == ["web-1", "web-2"]


def test_a_relist_re_observing_the_same_facts_changes_nothing() -> None:
    book = new_book()
    opened(book)
    book.observe(crashing("web-2", 5), T0)
    before = book.all()
    for pod, restarts in (("web-1", 3), ("web-2", 5)):
        assert book.observe(crashing(pod, restarts), T0 + timedelta(minutes=2)) == []
    assert book.all() == before


# -- resolving ------------------------------------------------------------------------------


def test_incident_resolves_after_every_pod_is_quiet_for_resolve_after() -> None:
    book = new_book()
    opened(book)
    book.observe(crashing("web-2"), T0)
    book.observe(recovered("web-1"), T0 + timedelta(minutes=1))
    book.observe(recovered("web-2"), T0 + timedelta(minutes=3))
    assert book.tick(T0 + timedelta(minutes=1) + RESOLVE_AFTER) == []  # web-2 quiet for 3 min only
    effect = only(book.tick(T0 + timedelta(minutes=3) + RESOLVE_AFTER))
    assert isinstance(effect, Resolved)
    assert effect.incident.state is IncidentState.RESOLVED
    assert effect.incident.resolved_at == T0 + timedelta(minutes=3) + RESOLVE_AFTER
    assert book.open_incidents() == []


def test_a_pod_that_breaks_again_restarts_the_quiet_period() -> None:
    book = new_book()
    opened(book)
    book.observe(recovered(), T0)
    book.observe(seen("web-1", active=[CLBO]), T0 + timedelta(minutes=2))  # no new finding, still down
    assert book.tick(T0 + RESOLVE_AFTER) == []
    book.observe(recovered(), T0 + timedelta(minutes=6))
    assert book.tick(T0 + timedelta(minutes=10)) == []
    assert isinstance(only(book.tick(T0 + timedelta(minutes=6) + RESOLVE_AFTER)), Resolved)


def test_a_problem_still_active_keeps_the_incident_open_even_if_the_pod_looks_healthy() -> None:
    book = new_book()
    opened(book)
    book.observe(seen("web-1", healthy=True, active=[CLBO]), T0)
    assert book.tick(T0 + RESOLVE_AFTER * 10) == []


def test_a_deleted_pod_counts_as_recovered_and_is_shown_as_gone() -> None:
    book = new_book()
    opened(book)
    effect = only(book.observe(seen("web-1", deleted=True), T0 + timedelta(minutes=1)))
    assert isinstance(effect, Changed) and effect.incident.affected[0].gone
    assert isinstance(only(book.tick(T0 + timedelta(minutes=1) + RESOLVE_AFTER)), Resolved)


# -- after resolving --------------------------------------------------------------------------


def test_a_relapse_within_the_cooldown_reopens_the_same_incident() -> None:
    book = new_book()
    first = resolved(book)
    effect = only(book.observe(crashing("web-1", 4), T0 + RESOLVE_AFTER + COOLDOWN))
    assert isinstance(effect, Reopened)
    assert effect.incident.id == first.id
    assert (effect.incident.state, effect.incident.reopened, effect.incident.resolved_at) == (
        IncidentState.OPEN,
        1,
        None,
    )


def test_a_relapse_after_the_cooldown_opens_a_new_incident() -> None:
    book = new_book()
    first = resolved(book)
    later = T0 + RESOLVE_AFTER + COOLDOWN + timedelta(seconds=1)
    effect = only(book.observe(crashing("web-1", 4), later))
    assert isinstance(effect, Opened)
    assert effect.incident.id != first.id and effect.incident.key == first.key
    assert effect.incident.reopened == 0


# -- lists after a restart ------------------------------------------------------------------------


def test_forget_missing_marks_subjects_no_list_showed_as_gone() -> None:
    book = new_book()
    opened(book)
    book.observe(crashing("web-2"), T0)
    effect = only(book.forget_missing("prod", "Pod", {("shop", "web-2")}, T0 + timedelta(minutes=1)))
    assert isinstance(effect, Changed)
    gone = {item.name: item.gone for item in effect.incident.affected}
    assert gone == {"web-1": True, "web-2": False}


def test_forget_missing_leaves_other_clusters_kinds_and_present_subjects_alone() -> None:
    book = new_book()
    opened(book)
    present = {("shop", "web-1")}
    assert book.forget_missing("prod", "Pod", present, T0) == []
    assert book.forget_missing("staging", "Pod", set(), T0) == []
    assert book.forget_missing("prod", "Node", set(), T0) == []


def test_a_restored_book_re_observing_the_same_facts_changes_nothing() -> None:
    book = new_book()
    opened(book)
    restored = new_book()
    restored.load(book.all())
    assert restored.observe(crashing(), T0 + timedelta(minutes=1)) == []
    assert restored.open_incidents() == book.open_incidents()


def test_only_the_current_incident_of_a_key_takes_facts_learnt_outside() -> None:
    book = new_book()
    first = opened(book)
    book.replace(replace(first, root="1700000000.000100"))
    book.replace(replace(first, id="someone-else", root="1700000000.000200"))
    assert [incident.root for incident in book.all()] == ["1700000000.000100"]


# -- what an incident says about time, and its short id ------------------------------------------


def test_the_duration_runs_from_the_first_failure_to_the_recovery_not_through_the_quiet_period() -> None:
    book = new_book()
    opened(book)
    book.observe(recovered(), T0 + timedelta(seconds=1))
    effect = only(book.tick(T0 + timedelta(seconds=1) + RESOLVE_AFTER))
    assert isinstance(effect, Resolved)
    incident = effect.incident
    assert incident.recovered_at == T0 + timedelta(seconds=1)
    assert incident.duration == timedelta(seconds=1)
    assert incident.quiet == RESOLVE_AFTER


def test_since_comes_from_the_findings_evidence_and_moves_back_when_another_pod_shows_earlier() -> None:
    book = new_book()
    early = T0 - timedelta(minutes=20)
    first = finding("web-1")
    effect = only(book.observe(seen("web-1", replace(first, since=T0 - timedelta(minutes=5))), T0))
    assert isinstance(effect, Opened)
    assert (effect.incident.since, effect.incident.since_exact) == (T0 - timedelta(minutes=5), False)
    book.observe(seen("web-2", replace(finding("web-2"), since=early, since_exact=True)), T0)
    (incident,) = book.open_incidents()
    assert (incident.since, incident.since_exact, incident.started) == (early, True, early)


def test_without_evidence_an_incident_started_when_it_was_opened() -> None:
    incident = opened(new_book())
    assert (incident.since, incident.since_exact, incident.started) == (T0, False, T0)


def test_a_since_in_the_future_is_never_believed() -> None:
    book = new_book()
    effect = only(book.observe(seen("web-1", replace(finding(), since=T0 + timedelta(hours=1))), T0))
    assert effect.incident.since == T0


def test_two_workloads_failing_in_the_same_second_get_different_short_ids() -> None:
    book = new_book()
    one = opened(book)
    other = replace(finding("api-1"), workload=Workload("Deployment", "api"))
    effect = only(book.observe(seen("api-1", other), T0))
    assert one.ref != effect.incident.ref
    assert len(one.ref) == 6 and one.ref.isalnum()
    assert book.by_id(one.ref) == book.get(one.key)
    assert book.by_id(effect.incident.ref) == book.get(effect.incident.key)


def test_the_short_id_is_stable_across_a_restart_and_given_to_incidents_stored_without_one() -> None:
    book = new_book()
    incident = opened(book)
    restored = new_book()
    restored.load([Incident.from_dict(incident.to_dict())])
    assert restored.by_id(incident.ref) is not None
    old_record = incident.to_dict()
    for key in ("ref", "since", "since_exact", "recovered_at", "facts", "enrichment"):
        del old_record[key]
    older = new_book()
    older.load([Incident.from_dict(old_record)])
    (loaded,) = older.all()
    assert loaded.ref == incident.ref  # derived from the id, as when it was opened
    assert loaded.since is None and loaded.started == incident.opened_at
    assert loaded.enrichment == "pending"  # no root on record: the thread is still to come


def test_an_old_record_with_a_root_had_its_thread_already() -> None:
    incident = replace(opened(new_book()), root="1700000000.000100")
    record = incident.to_dict()
    del record["enrichment"]
    assert Incident.from_dict(record).enrichment == "posted"


def test_failures_are_counted_per_pod_and_in_total() -> None:
    book = new_book()
    opened(book)
    book.observe(seen("web-1", replace(finding("web-1", 4), failures=2)), T0)
    book.observe(crashing("web-1", 4), T0)  # nothing new
    (incident,) = book.open_incidents()
    assert incident.failures == 3


def test_an_observation_scoped_to_other_kinds_leaves_an_incident_alone() -> None:
    book = new_book()
    opened(book)
    book.observe(replace(recovered(), scope=frozenset({AlertKind.WARNING_EVENT})), T0)
    assert book.tick(T0 + RESOLVE_AFTER * 2) == []


def test_a_deployment_short_of_replicas_because_its_pods_crash_is_told_by_the_pods() -> None:
    book = new_book()
    opened(book)  # the crash loop of deployment/web's pods
    short = replace(
        finding(),
        kind=AlertKind.DEPLOYMENT_UNAVAILABLE,
        subject_kind="Deployment",
        subject="web",
        restart_count=None,
    )
    deployment = Observation("prod", "Deployment", "shop", "web", WEB, False, findings=(short,))
    assert book.observe(deployment, T0) == []
    book.observe(recovered(), T0)
    book.tick(T0 + RESOLVE_AFTER)
    (effect,) = book.observe(deployment, T0 + RESOLVE_AFTER)  # the pods are fine: its own story now
    assert isinstance(effect, Opened) and effect.incident.kind is AlertKind.DEPLOYMENT_UNAVAILABLE


def test_the_stored_form_has_every_field_and_reads_back_the_same() -> None:
    book = new_book()
    opened(book)
    book.observe(recovered(), T0)
    (effect,) = book.tick(T0 + RESOLVE_AFTER)
    incident = replace(effect.incident, root="1.2", digest=None, facts={"node": "node-1"}, labels={"app": "web"})
    data = incident.to_dict()
    assert set(data) == {f.name for f in fields(Incident)}
    assert set(data["affected"][0]) == {f.name for f in fields(Affected)}
    assert Incident.from_dict(json.loads(json.dumps(data))) == incident
