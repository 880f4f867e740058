"""Every detector, declared once: the table the rest of the alert pipeline derives from.

From :data:`DETECTORS` come the kinds enabled by default, each kind's severity, the
resources to watch (those the enabled detectors read) and what a new incident's
thread shows. Adding a detector: a detect function (and its ``active`` level) in the
module of its resource, one entry here, and its tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opsbot.alerts.detectors import deployments, nodes, pods
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
    # Nodes.
    DetectorSpec(
        kind=AlertKind.NODE_NOT_READY,
        resource="nodes",
        severity=Severity.CRITICAL,
        default_on=True,
        detect=nodes.detect_node_not_ready,
        active=nodes.not_ready_now,
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
)

SUBJECTS: Mapping[ResourceName, SubjectSpec] = {
    subject.resource: subject
    for subject in (
        SubjectSpec("pods", pods.healthy, owned=True),
        SubjectSpec("nodes", nodes.healthy),
        SubjectSpec("deployments", deployments.healthy),
    )
}

BY_KIND: Mapping[AlertKind, DetectorSpec] = {spec.kind: spec for spec in DETECTORS}
DEFAULT_ENABLED: frozenset[AlertKind] = frozenset(spec.kind for spec in DETECTORS if spec.default_on)
SEVERITY: Mapping[AlertKind, Severity] = {spec.kind: spec.severity for spec in DETECTORS}


def detector(kind: AlertKind) -> DetectorSpec:
    return BY_KIND[kind]


def watched_resources(enabled: Iterable[AlertKind]) -> tuple[ResourceName, ...]:
    """What the detectors of ``enabled`` read, in table order: the resources to watch."""
    kinds = frozenset(enabled)
    return tuple(dict.fromkeys(spec.resource for spec in DETECTORS if spec.kind in kinds))


ALERT_RESOURCES: tuple[ResourceName, ...] = watched_resources(AlertKind)
"""Every resource some detector reads (whatever is enabled)."""
