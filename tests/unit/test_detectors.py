"""Detection matrix: (old state, new state) → which kinds of findings (pure, no I/O).

In the style of kopf's causation tests: each state is built once from the realistic
builders (so "no change" really is the same status), and stacked parametrizations
run every transition under the default and the all-kinds configuration.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsbot.alerts.detectors import DEFAULT_ENABLED, RECENT_TERMINATION, detect, observe
from opsbot.alerts.findings import AlertKind, Observation, Severity, Workload
from opsbot.alerts.owners import DEFAULT_OWNERS, LabelOwnerResolver
from tests.support.fake_kube.builders import (
    crashloop_status,
    create_container_config_error_status,
    deployment,
    evicted_status,
    image_pull_backoff_status,
    node,
    node_not_ready_status,
    oomkilled_status,
    pod,
    recovered_status,
    rfc3339,
    rollout_stuck_status,
)

Obj = dict[str, Any]
ALL_KINDS = frozenset(AlertKind)
NOW = datetime.now(UTC)
CLUSTER = "prod"

CLBO = AlertKind.CRASH_LOOP
OOM = AlertKind.OOM_KILLED
PULL = AlertKind.IMAGE_PULL
CONFIG = AlertKind.CONFIG_ERROR
EVICTED = AlertKind.EVICTED
NODE = AlertKind.NODE_NOT_READY
FAILED = AlertKind.ROLLOUT_FAILED
DONE = AlertKind.ROLLOUT_COMPLETED


def merged(base: Mapping[str, Any], patch: Mapping[str, Any]) -> Obj:
    """JSON merge patch (RFC 7386): dicts merge, None deletes, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def with_status(obj: Mapping[str, Any], status: Mapping[str, Any]) -> Obj:
    return merged(obj, {"status": status})


def kinds(observation: Observation) -> set[AlertKind]:
    return {finding.kind for finding in observation.findings}


# ---------------------------------------------------------------- pod states

HASH = "7d9f8b6c5d"
POD_LABELS = {"app": "web", "pod-template-hash": HASH}
RUNNING = pod(
    f"web-{HASH}-x2x4q",
    "shop",
    labels=POD_LABELS,
    owner={"kind": "ReplicaSet", "name": f"web-{HASH}"},
)
CRASHLOOP_5 = with_status(RUNNING, crashloop_status(RUNNING, restarts=5))
CRASHLOOP_6 = with_status(CRASHLOOP_5, crashloop_status(CRASHLOOP_5, restarts=6))
RECOVERED = with_status(CRASHLOOP_6, recovered_status(CRASHLOOP_6))
OOM_RUNNING = with_status(RUNNING, oomkilled_status(RUNNING, restarts=1, crashloop=False))
OOM_CRASHLOOP_2 = with_status(OOM_RUNNING, oomkilled_status(OOM_RUNNING, restarts=2))
OOM_CRASHLOOP_3 = with_status(OOM_CRASHLOOP_2, oomkilled_status(OOM_CRASHLOOP_2, restarts=3))
OOM_RECOVERED = with_status(OOM_CRASHLOOP_3, recovered_status(OOM_CRASHLOOP_3))
IMAGE_PULL_BACKOFF = with_status(RUNNING, image_pull_backoff_status(RUNNING))
ERR_IMAGE_PULL = with_status(RUNNING, image_pull_backoff_status(RUNNING, err_image_pull=True))
CONFIG_ERROR = with_status(RUNNING, create_container_config_error_status(RUNNING))
EVICTED_POD = with_status(RUNNING, evicted_status(RUNNING))


def _waiting(reason: str, message: str = "") -> Obj:
    status = copy.deepcopy(CONFIG_ERROR["status"])
    status["containerStatuses"][0]["state"] = {"waiting": {"reason": reason, "message": message}}
    return with_status(RUNNING, status)


INVALID_IMAGE = _waiting("InvalidImageName", 'Failed to apply default image tag "web:": invalid reference')
CREATE_ERROR = _waiting("CreateContainerError", "failed to reserve container name")


def _oom_terminated() -> Obj:
    """Killed and not yet restarted: the kill is in state.terminated (restartCount not bumped yet)."""
    status = copy.deepcopy(RUNNING["status"])
    app = status["containerStatuses"][0]
    app["state"] = {
        "terminated": {
            "exitCode": 137,
            "reason": "OOMKilled",
            "startedAt": rfc3339(NOW - timedelta(minutes=5)),
            "finishedAt": rfc3339(NOW - timedelta(seconds=3)),
            "containerID": app["containerID"],
        }
    }
    app["ready"] = False
    status["phase"] = "Running"
    return with_status(RUNNING, status)


OOM_TERMINATED = _oom_terminated()


def _after_oom_terminated() -> Obj:
    """The kubelet moves the kill to lastState and waits in back-off: the same kill."""
    status = copy.deepcopy(OOM_TERMINATED["status"])
    app = status["containerStatuses"][0]
    killed = app["state"]["terminated"]
    app["lastState"] = {"terminated": killed}
    app["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting"}}
    app["restartCount"] = 1
    return with_status(RUNNING, status)


OOM_THEN_CRASHLOOP = _after_oom_terminated()


def _long_ago_oom() -> Obj:
    status = copy.deepcopy(OOM_RUNNING["status"])
    status["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"] = rfc3339(NOW - timedelta(days=3))
    return with_status(RUNNING, status)


OOM_LONG_AGO = _long_ago_oom()

POD_STATES: dict[str, Obj | None] = {
    "absent": None,
    "running": RUNNING,
    "crashloop-5": CRASHLOOP_5,
    "crashloop-6": CRASHLOOP_6,
    "recovered": RECOVERED,
    "oom-running": OOM_RUNNING,
    "oom-crashloop-2": OOM_CRASHLOOP_2,
    "oom-crashloop-3": OOM_CRASHLOOP_3,
    "oom-recovered": OOM_RECOVERED,
    "oom-terminated": OOM_TERMINATED,
    "oom-then-crashloop": OOM_THEN_CRASHLOOP,
    "oom-3-days-ago": OOM_LONG_AGO,
    "imagepullbackoff": IMAGE_PULL_BACKOFF,
    "errimagepull": ERR_IMAGE_PULL,
    "invalidimagename": INVALID_IMAGE,
    "configerror": CONFIG_ERROR,
    "createcontainererror": CREATE_ERROR,
    "evicted": EVICTED_POD,
}

# (old, new, kinds expected with every kind enabled)
POD_MATRIX: list[tuple[str, str, set[AlertKind]]] = [
    # first sight: every problem present now
    ("absent", "running", set()),
    ("absent", "crashloop-5", {CLBO}),
    ("absent", "oom-crashloop-2", {OOM}),
    ("absent", "oom-running", {OOM}),
    ("absent", "oom-terminated", {OOM}),
    ("absent", "oom-3-days-ago", set()),
    ("absent", "recovered", set()),
    ("absent", "imagepullbackoff", {PULL}),
    ("absent", "errimagepull", {PULL}),
    ("absent", "invalidimagename", {PULL}),
    ("absent", "configerror", {CONFIG}),
    ("absent", "createcontainererror", {CONFIG}),
    ("absent", "evicted", {EVICTED}),
    # transitions
    ("running", "crashloop-5", {CLBO}),
    ("running", "oom-running", {OOM}),
    ("running", "oom-terminated", {OOM}),
    ("running", "imagepullbackoff", {PULL}),
    ("running", "errimagepull", {PULL}),
    ("running", "configerror", {CONFIG}),
    ("running", "createcontainererror", {CONFIG}),
    ("running", "evicted", {EVICTED}),
    ("crashloop-6", "evicted", {EVICTED}),
    ("oom-running", "oom-crashloop-2", {OOM}),
    ("imagepullbackoff", "configerror", {CONFIG}),
    ("configerror", "imagepullbackoff", {PULL}),
    # restart count climbs: worse, reported again
    ("crashloop-5", "crashloop-6", {CLBO}),
    ("oom-crashloop-2", "oom-crashloop-3", {OOM}),
    # the same kill moving from state.terminated to lastState is not new
    ("oom-terminated", "oom-then-crashloop", set()),
    # no change
    ("running", "running", set()),
    ("crashloop-5", "crashloop-5", set()),
    ("oom-running", "oom-running", set()),
    ("oom-crashloop-3", "oom-crashloop-3", set()),
    ("imagepullbackoff", "imagepullbackoff", set()),
    ("configerror", "configerror", set()),
    ("evicted", "evicted", set()),
    # the kubelet alternating ErrImagePull/ImagePullBackOff is one problem
    ("errimagepull", "imagepullbackoff", set()),
    ("imagepullbackoff", "errimagepull", set()),
    ("invalidimagename", "errimagepull", set()),
    ("configerror", "createcontainererror", set()),
    # recovery
    ("crashloop-6", "recovered", set()),
    ("oom-crashloop-3", "oom-recovered", set()),
    ("imagepullbackoff", "running", set()),
    ("configerror", "running", set()),
    # deletion
    ("crashloop-6", "absent", set()),
    ("evicted", "absent", set()),
]


@pytest.mark.parametrize("enabled", [DEFAULT_ENABLED, ALL_KINDS], ids=["default-kinds", "all-kinds"])
@pytest.mark.parametrize(
    ("old_state", "new_state", "expected"),
    POD_MATRIX,
    ids=[f"{old}->{new}" for old, new, _ in POD_MATRIX],
)
def test_pod_detection_matrix(
    old_state: str, new_state: str, expected: set[AlertKind], enabled: frozenset[AlertKind]
) -> None:
    observation = observe(
        "pods", POD_STATES[old_state], POD_STATES[new_state], cluster=CLUSTER, now=NOW, enabled=enabled
    )
    assert kinds(observation) == expected & enabled


# (state, healthy, active kinds with every kind enabled)
POD_LEVELS: list[tuple[str, bool, set[AlertKind]]] = [
    ("running", True, set()),
    ("crashloop-5", False, {CLBO}),
    ("recovered", True, set()),
    ("oom-running", True, set()),
    ("oom-crashloop-2", False, {OOM}),
    ("oom-terminated", False, {OOM}),
    ("oom-then-crashloop", False, {OOM}),
    ("oom-recovered", True, set()),
    ("imagepullbackoff", False, {PULL}),
    ("invalidimagename", False, {PULL}),
    ("configerror", False, {CONFIG}),
    ("createcontainererror", False, {CONFIG}),
    ("evicted", False, {EVICTED}),
]


@pytest.mark.parametrize(
    ("state", "healthy", "active"), POD_LEVELS, ids=[state for state, _, _ in POD_LEVELS]
)
def test_pod_health_and_active_problems_are_levels(state: str, healthy: bool, active: set[AlertKind]) -> None:
    for old in (None, RUNNING, POD_STATES[state]):
        observation = observe("pods", old, POD_STATES[state], cluster=CLUSTER, now=NOW, enabled=ALL_KINDS)
        assert observation.healthy is healthy
        assert observation.active == active
        assert observation.deleted is False


def test_deleted_pod_is_healthy_gone_and_without_findings() -> None:
    observation = observe("pods", CRASHLOOP_6, None, cluster=CLUSTER, now=NOW)
    assert observation.deleted is True
    assert observation.healthy is True
    assert observation.findings == ()
    assert observation.active == frozenset()
    assert (observation.namespace, observation.name) == ("shop", f"web-{HASH}-x2x4q")
    assert observation.workload == Workload("Deployment", "web")


def test_crashloop_finding_carries_the_last_termination_and_the_backoff_message() -> None:
    (finding,) = observe("pods", RUNNING, CRASHLOOP_5, cluster=CLUSTER, now=NOW).findings
    assert finding.kind is CLBO
    assert finding.severity is Severity.CRITICAL
    assert (finding.cluster, finding.namespace) == (CLUSTER, "shop")
    assert finding.workload == Workload("Deployment", "web")
    assert (finding.subject_kind, finding.subject) == ("Pod", f"web-{HASH}-x2x4q")
    assert (finding.container, finding.exit_code, finding.reason) == ("app", 1, "Error")
    assert finding.restart_count == 5
    assert finding.message.startswith("back-off 2m40s restarting failed container=app pod=web-")
    assert finding.labels == POD_LABELS
    assert finding.observed_at == NOW
    assert finding.incident_key == "prod/shop/Deployment/web/CrashLoopBackOff"


def test_crashloop_is_reported_again_when_restart_count_climbs() -> None:
    (finding,) = observe("pods", CRASHLOOP_5, CRASHLOOP_6, cluster=CLUSTER, now=NOW).findings
    assert (finding.kind, finding.restart_count) == (CLBO, 6)


def test_oom_kill_beats_crashloop_when_both_hold() -> None:
    observation = observe("pods", RUNNING, OOM_CRASHLOOP_2, cluster=CLUSTER, now=NOW)
    (finding,) = observation.findings
    assert (finding.kind, finding.severity) == (OOM, Severity.CRITICAL)
    assert (finding.reason, finding.exit_code, finding.restart_count) == ("OOMKilled", 137, 2)
    assert finding.container == "app"
    assert observation.active == {OOM}


def test_oom_caused_crashloop_is_reported_as_crashloop_when_oom_alerts_are_off() -> None:
    enabled = DEFAULT_ENABLED - {OOM}
    observation = observe("pods", RUNNING, OOM_CRASHLOOP_2, cluster=CLUSTER, now=NOW, enabled=enabled)
    (finding,) = observation.findings
    assert (finding.kind, finding.reason, finding.exit_code) == (CLBO, "OOMKilled", 137)
    assert observation.active == {CLBO}


def test_detectors_compose_but_also_work_alone() -> None:
    assert detect(CLBO, RUNNING, OOM_CRASHLOOP_2, cluster=CLUSTER, now=NOW) == ()
    assert len(detect(CLBO, RUNNING, OOM_CRASHLOOP_2, cluster=CLUSTER, now=NOW, enabled={CLBO})) == 1
    assert len(detect(OOM, RUNNING, OOM_CRASHLOOP_2, cluster=CLUSTER, now=NOW)) == 1
    assert detect(OOM, RUNNING, None, cluster=CLUSTER, now=NOW) == ()


def test_oom_kill_already_got_over_is_reported_on_first_sight_only_while_recent() -> None:
    recent = observe("pods", None, OOM_RUNNING, cluster=CLUSTER, now=NOW)
    later = observe(
        "pods", None, OOM_RUNNING, cluster=CLUSTER, now=NOW + RECENT_TERMINATION + timedelta(minutes=1)
    )
    assert kinds(recent) == {OOM}
    assert kinds(later) == set()
    assert later.healthy is True


def test_oom_kill_still_keeping_the_container_down_is_reported_on_first_sight_however_old() -> None:
    status = copy.deepcopy(OOM_CRASHLOOP_3["status"])
    status["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"] = "2020-01-01T00:00:00Z"
    assert kinds(observe("pods", None, with_status(RUNNING, status), cluster=CLUSTER, now=NOW)) == {OOM}


def test_image_pull_finding_keeps_the_raw_reason() -> None:
    (finding,) = observe("pods", RUNNING, ERR_IMAGE_PULL, cluster=CLUSTER, now=NOW).findings
    assert (finding.kind, finding.reason, finding.severity) == (PULL, "ErrImagePull", Severity.WARNING)
    assert "failed to pull and unpack image" in finding.message


def test_config_error_finding_says_what_is_missing() -> None:
    (finding,) = observe("pods", None, CONFIG_ERROR, cluster=CLUSTER, now=NOW).findings
    assert (finding.kind, finding.reason, finding.severity) == (
        CONFIG,
        "CreateContainerConfigError",
        Severity.WARNING,
    )
    assert finding.message == 'secret "app-secrets" not found'


def test_evicted_finding_is_about_the_pod_with_the_kubelet_message() -> None:
    (finding,) = observe("pods", RUNNING, EVICTED_POD, cluster=CLUSTER, now=NOW).findings
    assert (finding.kind, finding.reason, finding.severity) == (EVICTED, "Evicted", Severity.WARNING)
    assert finding.container is None
    assert finding.message.startswith("The node was low on resource: memory.")


def test_evicted_pod_whose_containers_exited_cleanly_is_still_unhealthy() -> None:
    status = copy.deepcopy(EVICTED_POD["status"])
    for container in status["containerStatuses"]:
        container["state"]["terminated"].update(exitCode=0, reason="Completed")
    assert observe("pods", None, with_status(RUNNING, status), cluster=CLUSTER, now=NOW).healthy is False


def test_each_broken_container_is_its_own_finding() -> None:
    two = pod("api-0", "shop", containers=("app", "sidecar"), owner={"kind": "StatefulSet", "name": "api"})
    broken = with_status(two, crashloop_status(two, "app", restarts=2))
    broken = with_status(broken, image_pull_backoff_status(broken, "sidecar"))
    observation = observe("pods", two, broken, cluster=CLUSTER, now=NOW)
    assert {(f.kind, f.container) for f in observation.findings} == {(CLBO, "app"), (PULL, "sidecar")}
    assert {f.workload for f in observation.findings} == {Workload("StatefulSet", "api")}
    assert observation.active == {CLBO, PULL}


def test_init_container_stuck_pulling_its_image_is_reported() -> None:
    status = copy.deepcopy(RUNNING["status"])
    status["phase"] = "Pending"
    status["initContainerStatuses"] = [
        {
            "name": "migrate",
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "m:1"'}},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": "m:1",
            "imageID": "",
        }
    ]
    observation = observe("pods", RUNNING, with_status(RUNNING, status), cluster=CLUSTER, now=NOW)
    assert [(f.kind, f.container) for f in observation.findings] == [(PULL, "migrate")]
    assert observation.healthy is False


# ---------------------------------------------------------------- nodes

READY_NODE = node("node-1", labels={"topology.kubernetes.io/zone": "a"})
NOT_READY_NODE = with_status(READY_NODE, node_not_ready_status())
UNKNOWN_NODE = with_status(READY_NODE, node_not_ready_status("NodeStatusUnknown"))
NO_CONDITIONS_NODE = with_status(READY_NODE, {"conditions": []})

NODE_STATES: dict[str, Obj | None] = {
    "absent": None,
    "ready": READY_NODE,
    "notready-false": NOT_READY_NODE,
    "notready-unknown": UNKNOWN_NODE,
    "no-conditions": NO_CONDITIONS_NODE,
}

NODE_MATRIX: list[tuple[str, str, set[AlertKind], bool]] = [
    ("absent", "ready", set(), True),
    ("absent", "notready-false", {NODE}, False),
    ("absent", "notready-unknown", {NODE}, False),
    ("ready", "notready-false", {NODE}, False),
    ("ready", "notready-unknown", {NODE}, False),
    ("no-conditions", "notready-false", {NODE}, False),
    ("notready-false", "notready-unknown", set(), False),
    ("notready-unknown", "notready-false", set(), False),
    ("notready-false", "notready-false", set(), False),
    ("ready", "ready", set(), True),
    ("notready-false", "ready", set(), True),
    ("notready-unknown", "ready", set(), True),
    ("absent", "no-conditions", set(), False),
    ("notready-unknown", "absent", set(), True),
]


@pytest.mark.parametrize("enabled", [DEFAULT_ENABLED, ALL_KINDS], ids=["default-kinds", "all-kinds"])
@pytest.mark.parametrize(
    ("old_state", "new_state", "expected", "healthy"),
    NODE_MATRIX,
    ids=[f"{old}->{new}" for old, new, _, _ in NODE_MATRIX],
)
def test_node_detection_matrix(
    old_state: str, new_state: str, expected: set[AlertKind], healthy: bool, enabled: frozenset[AlertKind]
) -> None:
    observation = observe(
        "nodes", NODE_STATES[old_state], NODE_STATES[new_state], cluster=CLUSTER, now=NOW, enabled=enabled
    )
    assert kinds(observation) == expected & enabled
    assert observation.healthy is healthy
    assert observation.active == ({NODE} if new_state.startswith("notready") else set())


@pytest.mark.parametrize(
    ("state", "reason"),
    [(NOT_READY_NODE, "KubeletNotReady"), (UNKNOWN_NODE, "NodeStatusUnknown")],
    ids=["ready-false", "ready-unknown"],
)
def test_node_not_ready_finding_carries_the_condition_reason(state: Obj, reason: str) -> None:
    observation = observe("nodes", READY_NODE, state, cluster=CLUSTER, now=NOW)
    (finding,) = observation.findings
    assert (finding.kind, finding.severity, finding.reason) == (NODE, Severity.CRITICAL, reason)
    assert (finding.namespace, finding.subject_kind, finding.subject) == ("", "Node", "node-1")
    assert finding.workload == Workload("Node", "node-1")
    assert finding.labels["topology.kubernetes.io/zone"] == "a"
    assert finding.message
    assert (observation.namespace, observation.workload) == ("", Workload("Node", "node-1"))


# ---------------------------------------------------------------- deployments

_WEB = merged(deployment("web", "shop", replicas=3), {"metadata": {"generation": 2}})


def _progressing(reason: str, status: str = "True", message: str = "") -> Obj:
    return {
        "type": "Progressing",
        "status": status,
        "lastUpdateTime": rfc3339(NOW),
        "lastTransitionTime": rfc3339(NOW),
        "reason": reason,
        "message": message,
    }


_AVAILABLE = {
    "type": "Available",
    "status": "True",
    "lastUpdateTime": rfc3339(NOW),
    "lastTransitionTime": rfc3339(NOW),
    "reason": "MinimumReplicasAvailable",
    "message": "Deployment has minimum availability.",
}


def _rollout(updated: int, available: int, total: int, progressing: Obj, observed: int = 2) -> Obj:
    return with_status(
        _WEB,
        {
            "observedGeneration": observed,
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": [_AVAILABLE, progressing],
        },
    )


def shuffled(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["status"]["conditions"].reverse()
    return out


ROLLING = _rollout(1, 3, 4, _progressing("ReplicaSetUpdated", message='ReplicaSet "web-abc" is progressing.'))
NOT_OBSERVED = _rollout(3, 3, 3, _progressing("NewReplicaSetAvailable"), observed=1)
COMPLETE = _rollout(
    3,
    3,
    3,
    _progressing("NewReplicaSetAvailable", message='ReplicaSet "web-abc" has successfully progressed.'),
)
STUCK = with_status(_WEB, rollout_stuck_status(_WEB))

DEPLOYMENT_STATES: dict[str, Obj | None] = {
    "absent": None,
    "rolling": ROLLING,
    "not-observed": NOT_OBSERVED,
    "complete": COMPLETE,
    "complete-shuffled": shuffled(COMPLETE),
    "stuck": STUCK,
    "stuck-shuffled": shuffled(STUCK),
}

DEPLOYMENT_MATRIX: list[tuple[str, str, set[AlertKind], bool]] = [
    ("absent", "stuck", {FAILED}, False),
    ("absent", "stuck-shuffled", {FAILED}, False),
    ("absent", "complete", set(), True),  # rollout completed is never reported on first sight
    ("absent", "rolling", set(), True),
    ("rolling", "stuck", {FAILED}, False),
    ("rolling", "stuck-shuffled", {FAILED}, False),
    ("complete", "stuck", {FAILED}, False),
    ("stuck", "stuck", set(), False),
    ("stuck", "stuck-shuffled", set(), False),
    ("stuck-shuffled", "stuck", set(), False),
    ("rolling", "complete", {DONE}, True),
    ("rolling", "complete-shuffled", {DONE}, True),
    ("not-observed", "complete", {DONE}, True),
    ("stuck", "complete", {DONE}, True),
    ("complete", "complete", set(), True),
    ("complete", "complete-shuffled", set(), True),
    ("complete", "rolling", set(), True),
    ("rolling", "rolling", set(), True),
    ("stuck", "absent", set(), True),
]


@pytest.mark.parametrize("enabled", [DEFAULT_ENABLED, ALL_KINDS], ids=["default-kinds", "all-kinds"])
@pytest.mark.parametrize(
    ("old_state", "new_state", "expected", "healthy"),
    DEPLOYMENT_MATRIX,
    ids=[f"{old}->{new}" for old, new, _, _ in DEPLOYMENT_MATRIX],
)
def test_deployment_detection_matrix(
    old_state: str, new_state: str, expected: set[AlertKind], healthy: bool, enabled: frozenset[AlertKind]
) -> None:
    observation = observe(
        "deployments",
        DEPLOYMENT_STATES[old_state],
        DEPLOYMENT_STATES[new_state],
        cluster=CLUSTER,
        now=NOW,
        enabled=enabled,
    )
    assert kinds(observation) == expected & enabled
    assert observation.healthy is healthy
    assert observation.active == ({FAILED} if new_state.startswith("stuck") else set())


def test_rollout_completed_is_off_by_default() -> None:
    assert DONE not in DEFAULT_ENABLED
    assert observe("deployments", ROLLING, COMPLETE, cluster=CLUSTER, now=NOW).findings == ()


def test_stuck_rollout_finding_is_critical_and_about_the_deployment() -> None:
    (finding,) = observe("deployments", ROLLING, shuffled(STUCK), cluster=CLUSTER, now=NOW).findings
    assert (finding.kind, finding.severity, finding.reason) == (
        FAILED,
        Severity.CRITICAL,
        "ProgressDeadlineExceeded",
    )
    assert (finding.namespace, finding.subject_kind, finding.subject) == ("shop", "Deployment", "web")
    assert finding.workload == Workload("Deployment", "web")
    assert finding.message.endswith("has timed out progressing.")
    assert finding.labels == {"app": "web"}


def test_completed_rollout_finding_is_info() -> None:
    (finding,) = observe(
        "deployments", ROLLING, COMPLETE, cluster=CLUSTER, now=NOW, enabled=ALL_KINDS
    ).findings
    assert (finding.kind, finding.severity, finding.reason) == (DONE, Severity.INFO, "NewReplicaSetAvailable")
    assert finding.message == 'ReplicaSet "web-abc" has successfully progressed.'


# ---------------------------------------------------------------- owners


def _owned_pod(
    pod_name: str, labels: Mapping[str, str] | None = None, *, kind: str = "", name: str = ""
) -> Obj:
    return pod(pod_name, "shop", labels=labels, owner={"kind": kind, "name": name} if kind else None)


OWNER_CASES: list[tuple[str, Obj, Workload]] = [
    (
        "replicaset-to-deployment",
        _owned_pod(f"web-{HASH}-x2x4q", POD_LABELS, kind="ReplicaSet", name=f"web-{HASH}"),
        Workload("Deployment", "web"),
    ),
    (
        "replicaset-of-hyphenated-deployment",
        _owned_pod(f"my-web-app-{HASH}-abcde", POD_LABELS, kind="ReplicaSet", name=f"my-web-app-{HASH}"),
        Workload("Deployment", "my-web-app"),
    ),
    (
        "replicaset-name-without-the-hash",
        _owned_pod("legacy-abcde", POD_LABELS, kind="ReplicaSet", name="legacy"),
        Workload("ReplicaSet", "legacy"),
    ),
    (
        "replicaset-without-hash-label",
        _owned_pod(f"web-{HASH}-x2x4q", {"app": "web"}, kind="ReplicaSet", name=f"web-{HASH}"),
        Workload("ReplicaSet", f"web-{HASH}"),
    ),
    ("statefulset", _owned_pod("db-0", kind="StatefulSet", name="db"), Workload("StatefulSet", "db")),
    (
        "daemonset",
        _owned_pod("fluentd-8xk2p", kind="DaemonSet", name="fluentd"),
        Workload("DaemonSet", "fluentd"),
    ),
    ("job", _owned_pod("migrate-7kq2z", kind="Job", name="migrate"), Workload("Job", "migrate")),
    (
        "cronjob-run-stays-the-job",
        _owned_pod("backup-28934210-zx9k2", kind="Job", name="backup-28934210"),
        Workload("Job", "backup-28934210"),
    ),
    ("bare-pod", _owned_pod("debug"), Workload("Pod", "debug")),
    (
        "mirror-pod-owned-by-its-node",
        _owned_pod("kube-apiserver-node-1", kind="Node", name="node-1"),
        Workload("Pod", "kube-apiserver-node-1"),
    ),
]


@pytest.mark.parametrize(
    ("pod_obj", "expected"), [c[1:] for c in OWNER_CASES], ids=[c[0] for c in OWNER_CASES]
)
def test_owner_resolution(pod_obj: Obj, expected: Workload) -> None:
    assert DEFAULT_OWNERS.workload_of(pod_obj) == expected
    assert observe("pods", None, pod_obj, cluster=CLUSTER, now=NOW).workload == expected


def test_known_replicaset_owners_are_consulted_first() -> None:
    legacy = _owned_pod("legacy-abcde", POD_LABELS, kind="ReplicaSet", name="legacy")
    resolver = LabelOwnerResolver(replicaset_owners={("shop", "legacy"): "storefront"})
    assert resolver.workload_of(legacy) == Workload("Deployment", "storefront")
    broken = with_status(legacy, crashloop_status(legacy))
    (finding,) = observe("pods", None, broken, cluster=CLUSTER, now=NOW, owners=resolver).findings
    assert finding.workload == Workload("Deployment", "storefront")


def test_only_the_controller_owner_reference_counts() -> None:
    adopted = pod("orphan", "shop")
    adopted["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "holder", "uid": "u1"},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u2", "controller": False},
    ]
    assert DEFAULT_OWNERS.workload_of(adopted) == Workload("Pod", "orphan")


# ---------------------------------------------------------------- switches


@pytest.mark.parametrize(
    ("resource", "old", "new"),
    [
        ("pods", RUNNING, CRASHLOOP_5),
        ("pods", RUNNING, OOM_CRASHLOOP_2),
        ("pods", RUNNING, IMAGE_PULL_BACKOFF),
        ("pods", RUNNING, CONFIG_ERROR),
        ("pods", RUNNING, EVICTED_POD),
        ("nodes", READY_NODE, UNKNOWN_NODE),
        ("deployments", ROLLING, STUCK),
        ("deployments", ROLLING, COMPLETE),
    ],
    ids=[
        "crashloop",
        "oom",
        "image-pull",
        "config-error",
        "evicted",
        "node",
        "rollout-failed",
        "rollout-done",
    ],
)
def test_disabled_kinds_produce_nothing(resource: str, old: Obj, new: Obj) -> None:
    observation = observe(resource, old, new, cluster=CLUSTER, now=NOW, enabled=frozenset())
    assert observation.findings == ()
    assert observation.active == frozenset()


def test_unknown_resource_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="unknown resource"):
        observe("services", None, {}, cluster=CLUSTER, now=NOW)


# ---------------------------------------------------------------- junk

JUNK: list[Any] = [
    {},
    [],
    "pod",
    7,
    {"metadata": None, "status": None, "spec": None},
    {"metadata": [], "status": "Running", "spec": 3},
    {"metadata": {"name": 3, "namespace": None, "labels": ["a"], "ownerReferences": "x"}},
    {
        "metadata": {
            "labels": {"a": 1, 2: "b"},
            "ownerReferences": [None, 1, {"controller": True}, {"controller": "yes"}],
        }
    },
    {
        "metadata": {
            "ownerReferences": [{"controller": True, "kind": "ReplicaSet", "name": "rs"}],
            "labels": {"pod-template-hash": 5},
        }
    },
    {"status": {"containerStatuses": "x", "initContainerStatuses": {"a": 1}}},
    {"status": {"containerStatuses": [None, 1, "x", [], {}]}},
    {"status": {"containerStatuses": [{"state": "waiting"}, {"state": ["waiting"]}, {"state": None}]}},
    {
        "status": {
            "containerStatuses": [{"state": {"waiting": "CrashLoopBackOff", "terminated": 1, "running": []}}]
        }
    },
    {"status": {"containerStatuses": [{"name": 1, "state": {"waiting": {"reason": 5, "message": {}}}}]}},
    {"status": {"containerStatuses": [{"restartCount": "many", "lastState": {"terminated": []}}]}},
    {"status": {"containerStatuses": [{"restartCount": None, "lastState": "x"}]}},
    {
        "status": {
            "containerStatuses": [
                {
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": "x",
                            "finishedAt": 5,
                            "containerID": [],
                        }
                    }
                },
                {"state": {"terminated": {"reason": "OOMKilled", "finishedAt": "not a time"}}},
                {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 2.5},
            ]
        }
    },
    {"status": {"phase": "Failed", "reason": "Evicted", "message": None}},
    {"status": {"phase": ["Failed"], "reason": {"x": 1}}},
    {"status": {"conditions": "Ready"}},
    {"status": {"conditions": [None, "Ready", {"type": "Ready"}, {"type": "Ready", "status": None}]}},
    {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": None, "message": 3}]}},
    {
        "status": {
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": [],
                }
            ]
        }
    },
    {
        "status": {
            "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]
        }
    },
    {
        "metadata": {"generation": "two"},
        "spec": {"replicas": "three"},
        "status": {
            "replicas": None,
            "updatedReplicas": "x",
            "availableReplicas": [],
            "observedGeneration": {},
        },
    },
]


@pytest.mark.parametrize("resource", ["pods", "nodes", "deployments"])
@pytest.mark.parametrize("junk", JUNK, ids=[f"junk{i}" for i in range(len(JUNK))])
def test_junk_never_raises(resource: str, junk: Any) -> None:
    for old, new in (
        (None, junk),
        (junk, junk),
        (junk, None),
        (RUNNING, junk),
        (junk, RUNNING),
        (junk, READY_NODE),
        (junk, COMPLETE),
    ):
        observation = observe(resource, old, new, cluster=CLUSTER, now=NOW, enabled=ALL_KINDS)
        assert isinstance(observation, Observation)
        assert observation.active <= ALL_KINDS


def test_a_naive_clock_is_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)  # a caller passing a naive UTC time must not crash us
    assert kinds(observe("pods", None, OOM_RUNNING, cluster=CLUSTER, now=naive)) == {OOM}
    later = naive + RECENT_TERMINATION + timedelta(minutes=1)
    assert kinds(observe("pods", None, OOM_RUNNING, cluster=CLUSTER, now=later)) == set()


def test_a_bare_minimal_status_is_still_read() -> None:
    minimal = {"status": {"containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    observation = observe("pods", None, minimal, cluster=CLUSTER, now=NOW)
    (finding,) = observation.findings
    assert (finding.kind, finding.container, finding.reason, finding.subject) == (
        CLBO,
        None,
        "CrashLoopBackOff",
        "",
    )
    assert observation.workload == Workload("Pod", "")
    assert observation.healthy is False


def test_untraceable_oom_kill_falls_back_on_the_restart_count() -> None:
    def oom(restarts: int) -> Obj:
        return {
            "status": {
                "containerStatuses": [
                    {
                        "name": "app",
                        "state": {"running": {}},
                        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
                        "restartCount": restarts,
                    }
                ]
            }
        }

    assert kinds(observe("pods", oom(1), oom(1), cluster=CLUSTER, now=NOW)) == set()
    assert kinds(observe("pods", oom(1), oom(2), cluster=CLUSTER, now=NOW)) == {OOM}
