"""Detection matrix of the newer detectors: stuck pods, unavailable Deployments, node pressure
and cordons, Jobs and CronJobs, Warning events (pure, no I/O).

Same style as test_detectors.py: realistic states built once, stacked parametrizations over
the default and the all-kinds configuration. Thresholds are levels: a state carries its own
evidence ("unschedulable since 10 minutes ago"), so whether it alerts depends only on
``now``; what does not alert yet is ``waiting`` with the time to look again.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsbot.alerts.detectors import DEFAULT_ENABLED, THRESHOLDS, DetectorOptions, EventFilter, observe
from opsbot.alerts.findings import AlertKind, Observation, Severity, Workload
from tests.support.fake_kube.builders import (
    container_creating_status,
    cordoned_spec,
    cronjob,
    cronjob_status,
    deployment,
    deployment_unavailable_status,
    event,
    job,
    job_failed_status,
    node,
    node_pressure_status,
    pod,
    unschedulable_status,
)
from tests.unit.test_detectors import RUNNING, merged, with_status

Obj = dict[str, Any]
ALL_KINDS = frozenset(AlertKind)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLUSTER = "prod"
AGO_10M = NOW - timedelta(minutes=10)
AGO_1S = NOW - timedelta(seconds=1)

UNSCHED = AlertKind.UNSCHEDULABLE
CREATING = AlertKind.STUCK_CREATING
UNAVAILABLE = AlertKind.DEPLOYMENT_UNAVAILABLE
FAILED = AlertKind.ROLLOUT_FAILED
PRESSURE = AlertKind.NODE_PRESSURE
CORDONED = AlertKind.NODE_UNSCHEDULABLE
NOT_READY = AlertKind.NODE_NOT_READY
JOB = AlertKind.JOB_FAILED
CRON_FAILED = AlertKind.CRONJOB_FAILED
CRON_MISSED = AlertKind.CRONJOB_MISSED
EVENT = AlertKind.WARNING_EVENT


def kinds(observation: Observation) -> set[AlertKind]:
    return {finding.kind for finding in observation.findings}


def waiting(observation: Observation) -> set[AlertKind]:
    return {kind for kind, _since, _due in observation.waiting}


def run(
    resource: str, old: Obj | None, new: Obj | None, enabled: frozenset[AlertKind] = ALL_KINDS, **kw: Any
) -> Observation:
    return observe(resource, old, new, cluster=CLUSTER, now=kw.pop("now", NOW), enabled=enabled, **kw)


# ---------------------------------------------------------------- pods that never get going

PENDING = pod(
    "web-7d9f8b6c5d-x2x4q",
    "shop",
    labels={"app": "web", "pod-template-hash": "7d9f8b6c5d"},
    owner={"kind": "ReplicaSet", "name": "web-7d9f8b6c5d"},
)
UNSCHED_10M = with_status(PENDING, unschedulable_status(PENDING, since=AGO_10M))
UNSCHED_1S = with_status(PENDING, unschedulable_status(PENDING, since=AGO_1S))
CREATING_20M = with_status(PENDING, container_creating_status(PENDING, since=NOW - timedelta(minutes=20)))
CREATING_1M = with_status(PENDING, container_creating_status(PENDING, since=NOW - timedelta(minutes=1)))

POD_STATES: dict[str, Obj | None] = {
    "absent": None,
    "running": RUNNING,
    "unschedulable-10m": UNSCHED_10M,
    "unschedulable-1s": UNSCHED_1S,
    "creating-20m": CREATING_20M,
    "creating-1m": CREATING_1M,
}

# (old, new, findings with every kind enabled, waiting)
POD_MATRIX: list[tuple[str, str, set[AlertKind], set[AlertKind]]] = [
    ("absent", "unschedulable-10m", {UNSCHED}, set()),  # found at start, 10 min old: at once
    ("absent", "unschedulable-1s", set(), {UNSCHED}),  # just happened: after the threshold
    ("unschedulable-1s", "unschedulable-1s", set(), {UNSCHED}),
    ("unschedulable-10m", "unschedulable-10m", {UNSCHED}, set()),  # a level: the book dedups
    ("unschedulable-10m", "running", set(), set()),
    ("absent", "creating-20m", {CREATING}, set()),
    ("absent", "creating-1m", set(), {CREATING}),
    ("creating-1m", "running", set(), set()),
    ("unschedulable-1s", "creating-1m", set(), {CREATING}),
    ("absent", "running", set(), set()),
]


@pytest.mark.parametrize("enabled", [DEFAULT_ENABLED, ALL_KINDS], ids=["default-kinds", "all-kinds"])
@pytest.mark.parametrize(
    ("old", "new", "expected", "waits"), POD_MATRIX, ids=[f"{o}->{n}" for o, n, _, _ in POD_MATRIX]
)
def test_stuck_pod_matrix(
    old: str, new: str, expected: set[AlertKind], waits: set[AlertKind], enabled: frozenset[AlertKind]
) -> None:
    observation = run("pods", POD_STATES[old], POD_STATES[new], enabled)
    assert kinds(observation) == expected & enabled
    assert waiting(observation) == waits & enabled


def test_an_unschedulable_pod_says_why_and_since_when_exactly() -> None:
    observation = run("pods", None, UNSCHED_10M)
    (finding,) = observation.findings
    assert (finding.kind, finding.severity, finding.reason) == (UNSCHED, Severity.WARNING, "Unschedulable")
    assert finding.message.startswith("0/3 nodes are available: 3 Insufficient cpu.")
    assert (finding.since, finding.since_exact) == (AGO_10M, True)
    assert finding.workload == Workload("Deployment", "web")
    assert observation.active == {UNSCHED} and observation.healthy is False


def test_a_pod_that_became_unschedulable_a_second_ago_waits_for_its_threshold() -> None:
    observation = run("pods", RUNNING, UNSCHED_1S)
    ((kind, since, due),) = observation.waiting
    assert (kind, since, due) == (UNSCHED, AGO_1S, AGO_1S + THRESHOLDS[UNSCHED])
    later = run("pods", None, UNSCHED_1S, now=due)
    assert kinds(later) == {UNSCHED} and later.findings[0].since == AGO_1S


def test_thresholds_come_from_the_config() -> None:
    options = DetectorOptions(thresholds={UNSCHED: timedelta(minutes=30)})
    assert kinds(run("pods", None, UNSCHED_10M, options=options)) == set()
    assert kinds(
        run("pods", None, UNSCHED_10M, options=DetectorOptions(thresholds={UNSCHED: timedelta(0)}))
    ) == {UNSCHED}


def test_a_pod_stuck_creating_is_counted_from_its_scheduling() -> None:
    (finding,) = run("pods", None, CREATING_20M).findings
    assert (finding.kind, finding.reason, finding.container) == (CREATING, "ContainerCreating", "app")
    assert finding.since == NOW - timedelta(minutes=20) and finding.since_exact
    assert finding.facts["node"] == "node-1"


# ---------------------------------------------------------------- deployments below their replicas

WEB = merged(deployment("web", "shop", replicas=3), {"metadata": {"generation": 2}})
ALL_UP = with_status(WEB, deployment_unavailable_status(WEB, available=3, since=NOW - timedelta(hours=1)))
WEB_4 = merged(WEB, {"spec": {"replicas": 4}})
# One of four down: within maxUnavailable (25%), so Available stays True and carries no time.
ONE_DOWN_NO_TIME = with_status(WEB_4, deployment_unavailable_status(WEB_4, available=3, since=AGO_10M))
NONE_UP_15M = with_status(
    WEB, deployment_unavailable_status(WEB, available=0, since=NOW - timedelta(minutes=15))
)
NONE_UP_1M = with_status(
    WEB, deployment_unavailable_status(WEB, available=0, since=NOW - timedelta(minutes=1))
)
SCALED_TO_ZERO = merged(
    with_status(WEB, deployment_unavailable_status(WEB, available=0)), {"spec": {"replicas": 0}}
)


def _rolling(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["status"]["updatedReplicas"] = 1
    return out


DEPLOYMENT_STATES: dict[str, Obj | None] = {
    "absent": None,
    "all-up": ALL_UP,
    "one-down": ONE_DOWN_NO_TIME,
    "none-up-15m": NONE_UP_15M,
    "none-up-1m": NONE_UP_1M,
    "rolling-none-up": _rolling(NONE_UP_15M),
    "scaled-to-zero": SCALED_TO_ZERO,
}

DEPLOYMENT_MATRIX: list[tuple[str, str, set[AlertKind], set[AlertKind]]] = [
    ("absent", "all-up", set(), set()),
    ("absent", "none-up-15m", {UNAVAILABLE}, set()),
    ("absent", "none-up-1m", set(), {UNAVAILABLE}),
    ("all-up", "one-down", set(), {UNAVAILABLE}),  # no time of its own: counted from first sight
    ("none-up-15m", "all-up", set(), set()),
    ("absent", "rolling-none-up", set(), set()),  # a rollout's unavailability is RolloutFailed's
    ("absent", "scaled-to-zero", set(), set()),
]


@pytest.mark.parametrize("enabled", [DEFAULT_ENABLED, ALL_KINDS], ids=["default-kinds", "all-kinds"])
@pytest.mark.parametrize(
    ("old", "new", "expected", "waits"),
    DEPLOYMENT_MATRIX,
    ids=[f"{o}->{n}" for o, n, _, _ in DEPLOYMENT_MATRIX],
)
def test_unavailable_deployment_matrix(
    old: str, new: str, expected: set[AlertKind], waits: set[AlertKind], enabled: frozenset[AlertKind]
) -> None:
    observation = run("deployments", DEPLOYMENT_STATES[old], DEPLOYMENT_STATES[new], enabled)
    assert kinds(observation) == expected & enabled
    assert waiting(observation) == waits & enabled


def test_an_unavailable_deployment_finding_counts_replicas() -> None:
    (finding,) = run("deployments", None, NONE_UP_15M).findings
    assert (finding.kind, finding.severity, finding.reason) == (
        UNAVAILABLE,
        Severity.CRITICAL,
        "MinimumReplicasUnavailable",
    )
    assert finding.message.startswith("0 of 3 replicas available.")
    assert finding.facts["replicas"] == "0/3"
    assert (finding.since, finding.since_exact) == (NOW - timedelta(minutes=15), True)


def test_a_shortfall_without_evidence_is_counted_from_when_opsbot_first_saw_it() -> None:
    first = run("deployments", ALL_UP, ONE_DOWN_NO_TIME)
    ((_kind, since, _due),) = first.waiting
    assert since == NOW
    later = NOW + THRESHOLDS[UNAVAILABLE]
    (finding,) = run(
        "deployments", None, ONE_DOWN_NO_TIME, now=later, first_seen={UNAVAILABLE: since}
    ).findings
    assert (finding.since, finding.since_exact) == (NOW, False)  # at least since then


# ---------------------------------------------------------------- nodes

READY = node("node-1")
MEMORY = with_status(READY, node_pressure_status("MemoryPressure", since=AGO_10M))
MEMORY_AND_DISK = with_status(READY, node_pressure_status("MemoryPressure", "DiskPressure", since=AGO_10M))
CORDONED_2H = merged(READY, cordoned_spec(since=NOW - timedelta(hours=2)))
CORDONED_5M = merged(READY, cordoned_spec(since=NOW - timedelta(minutes=5)))

NODE_STATES: dict[str, Obj | None] = {
    "absent": None,
    "ready": READY,
    "memory": MEMORY,
    "memory-disk": MEMORY_AND_DISK,
    "cordoned-2h": CORDONED_2H,
    "cordoned-5m": CORDONED_5M,
}

NODE_MATRIX: list[tuple[str, str, set[AlertKind], set[AlertKind], bool]] = [
    ("absent", "memory", {PRESSURE}, set(), True),
    ("ready", "memory", {PRESSURE}, set(), True),
    ("memory", "memory", set(), set(), True),
    ("memory", "memory-disk", {PRESSURE}, set(), True),  # another pressure joins: the card says so
    ("memory-disk", "memory", set(), set(), True),
    ("memory", "ready", set(), set(), True),
    ("absent", "cordoned-2h", {CORDONED}, set(), True),
    ("ready", "cordoned-5m", set(), {CORDONED}, True),
    ("cordoned-2h", "ready", set(), set(), True),
]


@pytest.mark.parametrize("enabled", [DEFAULT_ENABLED, ALL_KINDS], ids=["default-kinds", "all-kinds"])
@pytest.mark.parametrize(
    ("old", "new", "expected", "waits", "healthy"), NODE_MATRIX, ids=[f"{o}->{n}" for o, n, *_ in NODE_MATRIX]
)
def test_node_pressure_and_cordon_matrix(
    old: str,
    new: str,
    expected: set[AlertKind],
    waits: set[AlertKind],
    healthy: bool,
    enabled: frozenset[AlertKind],
) -> None:
    observation = run("nodes", NODE_STATES[old], NODE_STATES[new], enabled)
    assert kinds(observation) == expected & enabled
    assert waiting(observation) == waits & enabled
    assert observation.healthy is healthy  # Ready: a NotReady incident may resolve under pressure


def test_a_pressure_finding_names_every_pressure_and_when_it_began() -> None:
    (finding,) = run("nodes", MEMORY, MEMORY_AND_DISK).findings
    assert (finding.kind, finding.reason) == (PRESSURE, "MemoryPressure, DiskPressure")
    assert finding.message == "kubelet has insufficient memory available; kubelet has disk pressure"
    assert (finding.since, finding.since_exact, finding.subject_kind) == (AGO_10M, True, "Node")


def test_a_cordon_is_counted_from_its_taint() -> None:
    (finding,) = run("nodes", None, CORDONED_2H).findings
    assert (finding.kind, finding.since, finding.since_exact) == (CORDONED, NOW - timedelta(hours=2), True)


def test_an_unreachable_node_is_not_under_pressure() -> None:
    unknown = with_status(
        READY, {"conditions": [{**c, "status": "Unknown"} for c in READY["status"]["conditions"]]}
    )
    assert kinds(run("nodes", READY, unknown)) == {NOT_READY}


# ---------------------------------------------------------------- jobs and cronjobs

MIGRATE = job("migrate", "shop")
MIGRATE_FAILED = with_status(MIGRATE, job_failed_status(MIGRATE, since=AGO_10M))
MIGRATE_DEADLINE = with_status(MIGRATE, job_failed_status(MIGRATE, "DeadlineExceeded", since=AGO_10M))
BACKUP_RUN = merged(
    job("backup-29538720", "shop"),
    {
        "metadata": {
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": "backup",
                    "uid": "u",
                    "controller": True,
                }
            ]
        }
    },
)
BACKUP_RUN_FAILED = with_status(BACKUP_RUN, job_failed_status(BACKUP_RUN, since=AGO_10M))

JOB_MATRIX: list[tuple[Obj | None, Obj, set[AlertKind], frozenset[AlertKind]]] = [
    (None, MIGRATE_FAILED, {JOB}, ALL_KINDS),
    (MIGRATE, MIGRATE_FAILED, {JOB}, ALL_KINDS),
    (MIGRATE_FAILED, MIGRATE_FAILED, set(), ALL_KINDS),
    (MIGRATE, MIGRATE_DEADLINE, {JOB}, ALL_KINDS),
    (None, MIGRATE, set(), ALL_KINDS),
    (None, BACKUP_RUN_FAILED, set(), ALL_KINDS),  # left to CronJobFailed
    (None, BACKUP_RUN_FAILED, {JOB}, ALL_KINDS - {CRON_FAILED}),
]


@pytest.mark.parametrize(
    ("old", "new", "expected", "enabled"),
    JOB_MATRIX,
    ids=[
        "failed-first-sight",
        "fails",
        "still-failed",
        "deadline",
        "fine",
        "cronjob-run",
        "cronjob-run-when-cronjob-alerts-off",
    ],
)
def test_job_matrix(
    old: Obj | None, new: Obj, expected: set[AlertKind], enabled: frozenset[AlertKind]
) -> None:
    assert kinds(run("jobs", old, new, enabled)) == expected


def test_a_failed_job_says_why_and_a_cronjob_run_belongs_to_its_cronjob() -> None:
    (finding,) = run("jobs", MIGRATE, MIGRATE_FAILED).findings
    assert (finding.reason, finding.message) == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert finding.workload == Workload("Job", "migrate") and finding.since == AGO_10M
    (run_finding,) = run("jobs", None, BACKUP_RUN_FAILED, ALL_KINDS - {CRON_FAILED}).findings
    assert run_finding.workload == Workload("CronJob", "backup")
    assert run("jobs", None, MIGRATE_FAILED).healthy is False


BACKUP = cronjob("backup", "shop", schedule="0 * * * *", created=NOW - timedelta(days=3))
# Ran at 11:00 and failed; ran at 10:00 and succeeded.
BACKUP_FAILED = with_status(
    BACKUP, cronjob_status(last_schedule=NOW - timedelta(hours=1), last_success=NOW - timedelta(hours=2))
)
BACKUP_RUNNING = with_status(
    BACKUP,
    cronjob_status(
        last_schedule=NOW - timedelta(hours=1),
        last_success=NOW - timedelta(hours=2),
        active=["backup-29538660"],
    ),
)
BACKUP_FINE = with_status(BACKUP, cronjob_status(last_schedule=NOW, last_success=NOW))
# Last ran at 10:00: 11:00 was missed (an hour late), 12:00 is due right now.
BACKUP_LATE = with_status(
    BACKUP,
    cronjob_status(
        last_schedule=NOW - timedelta(hours=2), last_success=NOW - timedelta(hours=2) + timedelta(minutes=1)
    ),
)
BACKUP_SUSPENDED = merged(BACKUP_LATE, {"spec": {"suspend": True}})
NEVER_RAN_NEW = cronjob("report", "shop", schedule="0 3 * * *", created=NOW - timedelta(hours=1))

CRON_MATRIX: list[tuple[Obj | None, Obj, set[AlertKind]]] = [
    (None, BACKUP_FAILED, {CRON_FAILED}),
    (BACKUP_RUNNING, BACKUP_FAILED, {CRON_FAILED}),
    (BACKUP_FAILED, BACKUP_FAILED, set()),
    (None, BACKUP_RUNNING, set()),
    (BACKUP_FAILED, BACKUP_FINE, set()),
    (None, BACKUP_LATE, {CRON_MISSED}),
    (None, BACKUP_SUSPENDED, set()),
    (None, NEVER_RAN_NEW, set()),
]


@pytest.mark.parametrize("enabled", [DEFAULT_ENABLED, ALL_KINDS], ids=["default-kinds", "all-kinds"])
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    CRON_MATRIX,
    ids=[
        "failed-first-sight",
        "run-fails",
        "still-failed",
        "running",
        "succeeds",
        "missed",
        "suspended",
        "not-due-yet",
    ],
)
def test_cronjob_matrix(
    old: Obj | None, new: Obj, expected: set[AlertKind], enabled: frozenset[AlertKind]
) -> None:
    assert kinds(run("cronjobs", old, new, enabled)) == expected & enabled


def test_a_failed_cronjob_run_is_named_as_the_controller_names_its_job() -> None:
    (finding,) = run("cronjobs", BACKUP_RUNNING, BACKUP_FAILED).findings
    scheduled = NOW - timedelta(hours=1)
    assert finding.facts["last_run"] == f"backup-{int(scheduled.timestamp()) // 60}"
    assert (finding.since, finding.since_exact) == (NOW, True)  # seen ending
    assert run("cronjobs", None, BACKUP_FAILED).findings[0].since is None  # found already failed
    assert run("cronjobs", None, BACKUP_FINE).healthy is True


def test_a_missed_run_is_late_since_it_was_due_and_the_next_one_waits() -> None:
    (finding,) = run("cronjobs", None, BACKUP_LATE).findings
    assert (finding.since, finding.since_exact) == (NOW - timedelta(hours=1), True)
    assert finding.facts["schedule"] == "0 * * * *"
    due_soon = with_status(BACKUP, cronjob_status(last_schedule=NOW, last_success=NOW))
    observation = run("cronjobs", None, due_soon)
    ((kind, since, due),) = observation.waiting
    assert (kind, since, due) == (
        CRON_MISSED,
        NOW + timedelta(hours=1),
        NOW + timedelta(hours=1) + THRESHOLDS[CRON_MISSED],
    )


# ---------------------------------------------------------------- Warning events (opt-in)

POD_OBJ = with_status(RUNNING, {})
MOUNT = event(
    "shop",
    POD_OBJ,
    "FailedMount",
    'MountVolume.SetUp failed for volume "data" : secret "db" not found',
    count=1,
    last_timestamp=NOW - timedelta(minutes=1),
)
MOUNT_AGAIN = {**MOUNT, "count": 4}
OLD_WARNING = event(
    "shop",
    POD_OBJ,
    "FailedToUpdateEndpoint",
    "Failed to update endpoint",
    last_timestamp=NOW - timedelta(minutes=50),
)
NORMAL = event("shop", POD_OBJ, "Pulled", "Successfully pulled image", type="Normal", last_timestamp=NOW)
CUSTOM = event(
    "shop", POD_OBJ, "FailedToUpdateEndpoint", "Failed to update endpoint shop/web", last_timestamp=NOW
)
EVERYTHING = DetectorOptions(events=EventFilter())


@pytest.mark.parametrize(
    ("old", "new", "options", "expected"),
    [
        (None, MOUNT, EVERYTHING, {EVENT}),
        (MOUNT, MOUNT_AGAIN, EVERYTHING, {EVENT}),
        (MOUNT_AGAIN, MOUNT_AGAIN, EVERYTHING, set()),
        (None, OLD_WARNING, EVERYTHING, set()),  # a relist must not re-post the last hour
        (None, NORMAL, EVERYTHING, set()),
        (None, MOUNT, DetectorOptions(events=EventFilter(exclude_reasons=("Failed*",))), set()),
        (None, CUSTOM, DetectorOptions(events=EventFilter(reasons=("FailedMount",))), set()),
        (None, CUSTOM, DetectorOptions(events=EventFilter(namespaces=("pay*",))), set()),
        (None, CUSTOM, DetectorOptions(events=EventFilter(namespaces=("sh*",))), {EVENT}),
    ],
    ids=[
        "new",
        "repeated",
        "unchanged",
        "old-on-first-sight",
        "normal",
        "excluded",
        "not-included",
        "other-namespace",
        "namespace-glob",
    ],
)
def test_warning_event_matrix(
    old: Obj | None, new: Obj, options: DetectorOptions, expected: set[AlertKind]
) -> None:
    assert kinds(run("events", old, new, options=options)) == expected
    assert kinds(run("events", old, new, DEFAULT_ENABLED, options=options)) == set()  # opt-in


def test_a_warning_event_is_a_finding_about_its_involved_object() -> None:
    observation = run("events", MOUNT, MOUNT_AGAIN, options=EVERYTHING)
    (finding,) = observation.findings
    assert (finding.subject_kind, finding.namespace, finding.subject) == (
        "Pod",
        "shop",
        RUNNING["metadata"]["name"],
    )
    assert finding.workload == Workload("Pod", RUNNING["metadata"]["name"])
    assert (finding.reason, finding.restart_count, finding.novel) == ("FailedMount", 4, True)
    assert observation.scope == frozenset({EVENT})  # says nothing of the pod's other incidents
    assert observation.healthy is True and observation.active == frozenset()


def test_by_default_events_other_detectors_report_are_left_to_them() -> None:
    from opsbot.alerts.routing import detector_options
    from opsbot.alerts.settings import AlertsSettings

    options = detector_options(AlertsSettings())
    assert kinds(run("events", None, MOUNT, options=options)) == set()
    assert kinds(run("events", None, CUSTOM, options=options)) == {EVENT}
