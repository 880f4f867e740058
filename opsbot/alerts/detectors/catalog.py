"""Every detector, declared once: the table the rest of the alert pipeline derives from.

From :data:`DETECTORS` come the kinds enabled by default, each kind's severity, the
resources to watch (those the enabled detectors read) and what a new incident's
thread shows. Adding a detector: a detect function (and its ``active`` level) in the
module of its resource, one entry here, and its tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from opsbot.alerts.detectors import deployments, events, jobs, nodes, pods, scheduling
from opsbot.alerts.detectors.spec import DetectorSpec, SubjectSpec, never
from opsbot.alerts.findings import AlertKind, Severity
from opsbot.core.resources import ResourceName

DETECTORS: tuple[DetectorSpec, ...] = (
    # Pods. OOMKilled comes before CrashLoopBackOff: it takes precedence while enabled.
    DetectorSpec(
        kind=AlertKind.OOM_KILLED,
        resource="pods",
        severity=Severity.CRITICAL,
        default_on=True,
        detect=pods.detect_oom_killed,
        active=pods.oom_killed_now,
        container_log="previous",
    ),
    DetectorSpec(
        kind=AlertKind.CRASH_LOOP,
        resource="pods",
        severity=Severity.CRITICAL,
        default_on=True,
        detect=pods.detect_crash_loop,
        active=pods.crash_looping_now,
        container_log="previous",
    ),
    DetectorSpec(
        kind=AlertKind.IMAGE_PULL,
        resource="pods",
        severity=Severity.WARNING,
        default_on=True,
        detect=pods.detect_image_pull,
        active=pods.image_pull_failing_now,
        container_log="current",
    ),
    DetectorSpec(
        kind=AlertKind.CONFIG_ERROR,
        resource="pods",
        severity=Severity.WARNING,
        default_on=True,
        detect=pods.detect_config_error,
        active=pods.config_error_now,
        container_log="current",
    ),
    DetectorSpec(
        kind=AlertKind.EVICTED,
        resource="pods",
        severity=Severity.WARNING,
        default_on=True,
        detect=pods.detect_evicted,
        active=pods.evicted_now,
        container_log="current",
    ),
    DetectorSpec(
        kind=AlertKind.UNSCHEDULABLE,
        resource="pods",
        severity=Severity.WARNING,
        default_on=True,
        detect=scheduling.detect_unschedulable,
        active=scheduling.unschedulable_now,
        threshold=timedelta(minutes=5),
    ),
    DetectorSpec(
        kind=AlertKind.STUCK_CREATING,
        resource="pods",
        severity=Severity.WARNING,
        default_on=True,
        detect=scheduling.detect_stuck_creating,
        active=scheduling.stuck_creating_now,
        container_log="events",
        threshold=timedelta(minutes=10),
    ),
    # Nodes.
    DetectorSpec(
        kind=AlertKind.NODE_NOT_READY,
        resource="nodes",
        severity=Severity.CRITICAL,
        default_on=True,
        detect=nodes.detect_node_not_ready,
        active=nodes.not_ready_now,
    ),
    DetectorSpec(
        kind=AlertKind.NODE_PRESSURE,
        resource="nodes",
        severity=Severity.WARNING,
        default_on=True,
        detect=nodes.detect_node_pressure,
        active=nodes.pressure_now,
    ),
    DetectorSpec(
        kind=AlertKind.NODE_UNSCHEDULABLE,
        resource="nodes",
        severity=Severity.WARNING,
        default_on=True,
        detect=nodes.detect_node_unschedulable,
        active=nodes.cordoned_now,
        status_only=False,  # spec.unschedulable
        threshold=timedelta(minutes=60),
    ),
    # Deployments.
    DetectorSpec(
        kind=AlertKind.ROLLOUT_FAILED,
        resource="deployments",
        severity=Severity.CRITICAL,
        default_on=True,
        detect=deployments.detect_rollout_failed,
        active=deployments.rollout_stuck_now,
    ),
    DetectorSpec(
        kind=AlertKind.ROLLOUT_COMPLETED,
        resource="deployments",
        severity=Severity.INFO,
        default_on=False,  # good news: only for those who ask
        detect=deployments.detect_rollout_completed,
        active=never,
        status_only=False,
    ),
    DetectorSpec(
        kind=AlertKind.DEPLOYMENT_UNAVAILABLE,
        resource="deployments",
        severity=Severity.CRITICAL,
        default_on=True,
        detect=deployments.detect_unavailable,
        active=deployments.unavailable_now,
        status_only=False,  # spec.replicas
        threshold=timedelta(minutes=10),
        # Its pods' own problems say more (a crash loop, an image that will not pull).
        yields_to=frozenset(
            {
                AlertKind.CRASH_LOOP,
                AlertKind.OOM_KILLED,
                AlertKind.IMAGE_PULL,
                AlertKind.CONFIG_ERROR,
                AlertKind.UNSCHEDULABLE,
                AlertKind.STUCK_CREATING,
                AlertKind.ROLLOUT_FAILED,
            }
        ),
    ),
    # Jobs and CronJobs.
    DetectorSpec(
        kind=AlertKind.JOB_FAILED,
        resource="jobs",
        severity=Severity.WARNING,
        default_on=True,
        detect=jobs.detect_job_failed,
        active=jobs.job_failed_now,
    ),
    DetectorSpec(
        kind=AlertKind.CRONJOB_FAILED,
        resource="cronjobs",
        severity=Severity.WARNING,
        default_on=True,
        detect=jobs.detect_cronjob_failed,
        active=jobs.cronjob_failed_now,
    ),
    DetectorSpec(
        kind=AlertKind.CRONJOB_MISSED,
        resource="cronjobs",
        severity=Severity.WARNING,
        default_on=True,
        detect=jobs.detect_cronjob_missed,
        active=jobs.cronjob_missed_now,
        status_only=False,  # spec.schedule, spec.suspend
        threshold=timedelta(minutes=10),
    ),
    # Warning events, per involved object (opt-in).
    DetectorSpec(
        kind=AlertKind.WARNING_EVENT,
        resource="events",
        severity=Severity.WARNING,
        default_on=False,
        detect=events.detect_warning_event,
        active=never,
        status_only=False,  # events have no status
    ),
)

SUBJECTS: Mapping[ResourceName, SubjectSpec] = {
    subject.resource: subject
    for subject in (
        SubjectSpec("pods", pods.healthy, owned=True),
        SubjectSpec("nodes", nodes.healthy),
        SubjectSpec("deployments", deployments.healthy),
        SubjectSpec("jobs", jobs.job_healthy, owned=True),
        SubjectSpec("cronjobs", jobs.cronjob_healthy),
        SubjectSpec("events", events.healthy, subject=events.involved),
    )
}

BY_KIND: Mapping[AlertKind, DetectorSpec] = {spec.kind: spec for spec in DETECTORS}
DEFAULT_ENABLED: frozenset[AlertKind] = frozenset(spec.kind for spec in DETECTORS if spec.default_on)
SEVERITY: Mapping[AlertKind, Severity] = {spec.kind: spec.severity for spec in DETECTORS}
YIELDS_TO: Mapping[AlertKind, frozenset[AlertKind]] = {
    spec.kind: spec.yields_to for spec in DETECTORS if spec.yields_to
}
THRESHOLDS: Mapping[AlertKind, timedelta] = {
    spec.kind: spec.threshold for spec in DETECTORS if spec.threshold is not None
}


def detector(kind: AlertKind) -> DetectorSpec:
    return BY_KIND[kind]


def watched_resources(enabled: Iterable[AlertKind]) -> tuple[ResourceName, ...]:
    """What the detectors of ``enabled`` read, in table order: the resources to watch."""
    kinds = frozenset(enabled)
    return tuple(dict.fromkeys(spec.resource for spec in DETECTORS if spec.kind in kinds))


ALERT_RESOURCES: tuple[ResourceName, ...] = watched_resources(AlertKind)
"""Every resource some detector reads (whatever is enabled)."""
