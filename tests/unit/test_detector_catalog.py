"""The detectors' table (opsbot.alerts.detectors.catalog) and what derives from it: the kinds
enabled by default, each kind's severity, the resources to watch, the enrichment."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime

import pytest

from opsbot.alerts.detectors import (
    ALERT_RESOURCES,
    DEFAULT_ENABLED,
    DETECTORS,
    SEVERITY,
    SUBJECTS,
    Change,
    DetectorSpec,
    watched_resources,
)
from opsbot.alerts.findings import EXTERNAL_KINDS, AlertKind, Severity
from opsbot.alerts.routing import enabled_kinds
from opsbot.alerts.settings import AlertsSettings
from opsbot.core.resources import RESOURCES
from tests.unit import test_detectors as states
from tests.unit import test_detectors_more as more

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_every_alert_kind_has_exactly_one_detector() -> None:
    """Except the kinds whose alerts come from outside (Alertmanager): they have none."""
    assert Counter(spec.kind for spec in DETECTORS) == Counter(frozenset(AlertKind) - EXTERNAL_KINDS)


def test_what_is_on_by_default_and_how_severe_comes_from_the_table() -> None:
    assert frozenset(AlertKind) - DEFAULT_ENABLED - EXTERNAL_KINDS == {
        AlertKind.ROLLOUT_COMPLETED,
        AlertKind.WARNING_EVENT,
    }
    assert SEVERITY[AlertKind.CRASH_LOOP] is Severity.CRITICAL
    assert SEVERITY[AlertKind.IMAGE_PULL] is Severity.WARNING
    assert SEVERITY[AlertKind.ROLLOUT_COMPLETED] is Severity.INFO
    assert enabled_kinds(AlertsSettings()) == DEFAULT_ENABLED


def test_every_resource_a_detector_reads_can_be_watched_and_observed() -> None:
    assert ALERT_RESOURCES == ("pods", "nodes", "deployments", "jobs", "cronjobs", "events")
    for resource in ALERT_RESOURCES:
        # The cache keeps what `old` needs, no more (events: their whole body is what they say).
        assert RESOURCES[resource].projected is (resource != "events")
        assert SUBJECTS[resource].resource == resource


def test_every_detector_with_a_threshold_reports_a_level_the_skip_on_unchanged_status_cannot_hide() -> None:
    """observe never skips a threshold detector: it must say when to look again, every time."""
    from opsbot.alerts.detectors import THRESHOLDS

    assert set(THRESHOLDS) == {
        AlertKind.UNSCHEDULABLE,
        AlertKind.STUCK_CREATING,
        AlertKind.NODE_UNSCHEDULABLE,
        AlertKind.DEPLOYMENT_UNAVAILABLE,
        AlertKind.CRONJOB_MISSED,
    }


def test_only_pod_detectors_ask_for_container_logs_and_crashes_want_the_previous_run() -> None:
    logs = {spec.kind: spec.container_log for spec in DETECTORS}
    assert {spec.kind for spec in DETECTORS if spec.container_log} == {
        spec.kind for spec in DETECTORS if spec.resource == "pods" and spec.kind is not AlertKind.UNSCHEDULABLE
    }
    assert logs[AlertKind.STUCK_CREATING] == "events"  # no container ran: only its events
    assert {kind for kind, log in logs.items() if log == "previous"} == {
        AlertKind.CRASH_LOOP,
        AlertKind.OOM_KILLED,
    }


@pytest.mark.parametrize("disabled", list(AlertKind), ids=[kind.value for kind in AlertKind])
def test_disabling_a_kind_drops_its_resource_only_when_no_other_enabled_detector_reads_it(
    disabled: AlertKind,
) -> None:
    enabled = frozenset(AlertKind) - {disabled}
    watched = watched_resources(enabled)
    for resource in ALERT_RESOURCES:
        needed = any(spec.resource == resource and spec.kind in enabled for spec in DETECTORS)
        assert (resource in watched) is needed


@pytest.mark.parametrize(
    ("kinds", "watched"),
    [
        ({}, ("pods", "nodes", "deployments", "jobs", "cronjobs")),
        (
            {"NodeNotReady": False, "NodePressure": False, "NodeUnschedulable": False},
            ("pods", "deployments", "jobs", "cronjobs"),
        ),
        ({"NodeNotReady": False}, ("pods", "nodes", "deployments", "jobs", "cronjobs")),
        ({"CrashLoopBackOff": False}, ("pods", "nodes", "deployments", "jobs", "cronjobs")),
        ({"RolloutFailed": False, "DeploymentUnavailable": False}, ("pods", "nodes", "jobs", "cronjobs")),
        (
            {"RolloutFailed": False, "DeploymentUnavailable": False, "RolloutCompleted": True},
            ("pods", "nodes", "deployments", "jobs", "cronjobs"),
        ),
        (
            {kind: False for kind in ("CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "Evicted")},
            ("pods", "nodes", "deployments", "jobs", "cronjobs"),
        ),
        (
            {
                kind: False
                for kind in (
                    "CrashLoopBackOff",
                    "OOMKilled",
                    "ImagePullBackOff",
                    "CreateContainerConfigError",
                    "Evicted",
                    "PodUnschedulable",
                    "StuckContainerCreating",
                )
            },
            ("nodes", "deployments", "jobs", "cronjobs"),
        ),
        ({"JobFailed": False, "CronJobFailed": False}, ("pods", "nodes", "deployments", "cronjobs")),
        ({"WarningEvent": True}, ("pods", "nodes", "deployments", "jobs", "cronjobs", "events")),
    ],
    ids=[
        "defaults",
        "no-node-alerts",
        "one-node-kind-off",
        "one-pod-kind-off",
        "deployment-kinds-off",
        "deployment-kinds-off-completed-on",
        "one-pod-kind-left",
        "every-pod-kind-off",
        "job-kinds-off",
        "warning-events-on",
    ],
)
def test_the_watches_follow_the_configured_kinds(kinds: dict[str, bool], watched: tuple[str, ...]) -> None:
    settings = AlertsSettings.model_validate({"kinds": kinds})
    assert watched_resources(enabled_kinds(settings)) == watched


def _same_status_other_fields(obj: states.Obj) -> states.Obj:
    """The object with its labels, annotations and spec changed, but not its status."""
    changed = copy.deepcopy(obj)
    changed["metadata"].setdefault("labels", {})["changed"] = "yes"
    changed["metadata"]["annotations"] = {"note": "edited"}
    changed.setdefault("spec", {})["replicas"] = 7
    changed["spec"]["unschedulable"] = True
    return changed


# A few realistic states per resource, built by the detection matrix.
STATES = {
    "pods": [
        states.RUNNING,
        states.CRASHLOOP_5,
        states.OOM_CRASHLOOP_2,
        states.OOM_TERMINATED,
        states.IMAGE_PULL_BACKOFF,
        states.CONFIG_ERROR,
        states.EVICTED_POD,
    ],
    "nodes": [states.READY_NODE, states.NOT_READY_NODE, states.UNKNOWN_NODE, more.MEMORY],
    "deployments": [states.ROLLING, states.COMPLETE, states.STUCK],
    "jobs": [more.MIGRATE, more.MIGRATE_FAILED],
    "cronjobs": [more.BACKUP_FAILED, more.BACKUP_RUNNING],
}


@pytest.mark.parametrize(
    "spec", [spec for spec in DETECTORS if spec.status_only], ids=lambda spec: spec.kind.value
)
def test_a_status_only_detector_finds_nothing_when_only_other_fields_change(spec: DetectorSpec) -> None:
    """What lets observe skip it when the status did not change (``DetectorSpec.status_only``)."""
    for obj in STATES[spec.resource]:
        change = Change(obj, _same_status_other_fields(obj), now=more.NOW, enabled=frozenset(AlertKind))
        assert spec.detect(change) == []
