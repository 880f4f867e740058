"""The STATUS column of `kubectl get pods` (opsbot.core.kubeobjects.pod_status), and pod health.

Each case is a realistic pod from the fake API server's builders, changed where
kubectl's printer looks: init containers first, then app containers from the last
one, then the deletion timestamp.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from opsbot.core.kubeobjects import pod_is_healthy, pod_status
from tests.support.fake_kube.builders import (
    crashloop_status,
    create_container_config_error_status,
    evicted_status,
    image_pull_backoff_status,
    oomkilled_status,
    pod,
    rfc3339,
)

Obj = dict[str, Any]
RUNNING = pod("web-1", "shop")


def with_status(base: Obj, status: Obj) -> Obj:
    changed = copy.deepcopy(base)
    changed["status"] = {**changed["status"], **status}
    return changed


def app_state(base: Obj, state: Obj, *, ready: bool = False) -> Obj:
    changed = copy.deepcopy(base)
    (container,) = changed["status"]["containerStatuses"]
    container["state"] = state
    container["ready"] = ready
    return changed


def with_init(base: Obj, *states: Obj, specs: int | None = None) -> Obj:
    """Init containers in the given states (spec lists ``specs`` of them, default: as many)."""
    changed = copy.deepcopy(base)
    names = [f"init-{index}" for index in range(specs if specs is not None else len(states))]
    changed["spec"]["initContainers"] = [{"name": name, "image": "busybox"} for name in names]
    changed["status"]["initContainerStatuses"] = [
        {"name": name, "state": state, "ready": False, "restartCount": 0}
        for name, state in zip(names, states, strict=False)
    ]
    return changed


def deleted(base: Obj, **status: Any) -> Obj:
    changed = with_status(base, status) if status else copy.deepcopy(base)
    changed["metadata"]["deletionTimestamp"] = rfc3339()
    return changed


DONE = {"terminated": {"exitCode": 0, "reason": "Completed"}}
INIT_RUNNING = {"running": {"startedAt": rfc3339()}}

CASES: dict[str, tuple[Obj, str, bool]] = {
    # id: (pod, STATUS column, healthy)
    "running-and-ready": (RUNNING, "Running", True),
    "running-not-ready": (pod("web-1", "shop", ready=False), "Running", False),
    "crashloop": (with_status(RUNNING, crashloop_status(RUNNING, restarts=4)), "CrashLoopBackOff", False),
    "oom-killed-then-crashloop": (
        with_status(RUNNING, oomkilled_status(RUNNING, restarts=2)),
        "CrashLoopBackOff",
        False,
    ),
    "oom-killed-not-yet-restarted": (
        app_state(RUNNING, {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}),
        "OOMKilled",
        False,
    ),
    "image-pull-backoff": (
        with_status(RUNNING, image_pull_backoff_status(RUNNING)),
        "ImagePullBackOff",
        False,
    ),
    "err-image-pull": (
        with_status(RUNNING, image_pull_backoff_status(RUNNING, err_image_pull=True)),
        "ErrImagePull",
        False,
    ),
    "config-error": (
        with_status(RUNNING, create_container_config_error_status(RUNNING)),
        "CreateContainerConfigError",
        False,
    ),
    "container-creating": (pod("web-1", "shop", phase="Pending"), "ContainerCreating", False),
    "pending-unscheduled": (pod("web-1", "shop", phase="Pending", node=None), "Pending", False),
    "completed": (pod("job-1", "shop", phase="Succeeded"), "Completed", True),
    "failed-with-error": (pod("job-1", "shop", phase="Failed"), "Error", False),
    "evicted": (with_status(RUNNING, {**evicted_status(RUNNING), "containerStatuses": []}), "Evicted", False),
    "evicted-container-reason-wins": (with_status(RUNNING, evicted_status(RUNNING)), "Error", False),
    "exit-code-without-reason": (app_state(RUNNING, {"terminated": {"exitCode": 2}}), "ExitCode:2", False),
    "signal-without-reason": (
        app_state(RUNNING, {"terminated": {"exitCode": 137, "signal": 9}}),
        "Signal:9",
        False,
    ),
    "init-running": (with_init(RUNNING, INIT_RUNNING, specs=2), "Init:0/2", False),
    "init-second-of-two": (with_init(RUNNING, DONE, INIT_RUNNING), "Init:1/2", False),
    "init-crashloop": (
        with_init(RUNNING, {"waiting": {"reason": "CrashLoopBackOff"}}),
        "Init:CrashLoopBackOff",
        False,
    ),
    "init-image-pull": (
        with_init(RUNNING, {"waiting": {"reason": "ImagePullBackOff"}}),
        "Init:ImagePullBackOff",
        False,
    ),
    "init-pod-initializing-counts": (
        with_init(RUNNING, {"waiting": {"reason": "PodInitializing"}}),
        "Init:0/1",
        False,
    ),
    "init-failed-with-reason": (
        with_init(RUNNING, {"terminated": {"exitCode": 1, "reason": "Error"}}),
        "Init:Error",
        False,
    ),
    "init-failed-exit-code": (with_init(RUNNING, {"terminated": {"exitCode": 3}}), "Init:ExitCode:3", False),
    "init-killed-by-signal": (
        with_init(RUNNING, {"terminated": {"exitCode": 137, "signal": 9}}),
        "Init:Signal:9",
        False,
    ),
    "init-all-done": (with_init(RUNNING, DONE, DONE), "Running", True),
    "terminating": (deleted(RUNNING), "Terminating", False),
    "terminating-on-a-lost-node": (deleted(RUNNING, reason="NodeLost"), "Unknown", False),
    "no-status-at-all": ({"metadata": {"name": "bare"}}, "Unknown", False),
}


@pytest.mark.parametrize(("obj", "column", "healthy"), CASES.values(), ids=CASES.keys())
def test_pod_status_reads_like_kubectl_get_pods(obj: Obj, column: str, healthy: bool) -> None:
    assert pod_status(obj) == column
    assert pod_is_healthy(obj) is healthy


def test_a_completed_container_beside_a_ready_running_one_shows_running() -> None:
    """kubectl says Running (not Completed) while another container of a Ready pod still runs."""
    two = pod("web-1", "shop", containers=("app", "sidecar"))
    two["status"]["containerStatuses"][0]["state"] = DONE
    two["status"]["containerStatuses"][0]["ready"] = False
    assert pod_status(two) == "Running"
    not_ready = copy.deepcopy(two)
    for item in not_ready["status"]["conditions"]:
        if item["type"] == "Ready":
            item["status"] = "False"
    assert pod_status(not_ready) == "NotReady"
