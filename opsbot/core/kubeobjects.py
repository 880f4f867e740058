"""Reading Kubernetes objects the way kubectl prints them (pure functions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from opsbot.core.durations import short_duration

KubeObject = dict[str, Any]
_DIGITS = re.compile(r"(\d+)")
"""A Kubernetes object as the API server sends it: a plain JSON dict (no generated models)."""


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(value: object, now: datetime) -> str:
    """kubectl's short human duration: 45s, 12m, 3h4m, 5d, 2y."""
    started = parse_time(value)
    if started is None:
        return "<unknown>"
    seconds = max(0, int((now - started).total_seconds()))
    return short_duration(seconds)


def meta(obj: KubeObject) -> dict[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def spec(obj: KubeObject) -> dict[str, Any]:
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


def status(obj: KubeObject) -> dict[str, Any]:
    value = obj.get("status")
    return value if isinstance(value, dict) else {}


def name_of(obj: KubeObject) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: KubeObject) -> str:
    return str(meta(obj).get("namespace", ""))


def _list(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def container_statuses(pod: KubeObject) -> list[dict[str, Any]]:
    return _list(status(pod).get("containerStatuses"))


def init_container_statuses(pod: KubeObject) -> list[dict[str, Any]]:
    return _list(status(pod).get("initContainerStatuses"))


def pod_status(pod: KubeObject) -> str:
    """The STATUS column of `kubectl get pods`."""
    pod_state = status(pod)
    reason = str(pod_state.get("reason") or pod_state.get("phase") or "Unknown")
    init_specs = _list(spec(pod).get("initContainers"))
    initializing = False
    for index, container in enumerate(init_container_statuses(pod)):
        state = container.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        initializing = True
        if terminated:
            if terminated.get("reason"):
                reason = f"Init:{terminated['reason']}"
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode')}"
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(init_specs) or len(init_container_statuses(pod))}"
        break
    if not initializing:
        has_running = False
        for container in reversed(container_statuses(pod)):
            state = container.get("state") or {}
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif terminated:
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode')}"
            elif container.get("ready") and state.get("running"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "NotReady" if not pod_is_ready(pod) else "Running"
    if meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if pod_state.get("reason") == "NodeLost" else "Terminating"
    return reason


def pod_is_ready(pod: KubeObject) -> bool:
    for condition in _list(status(pod).get("conditions")):
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def pod_ready(pod: KubeObject) -> str:
    statuses = container_statuses(pod)
    total = len(_list(spec(pod).get("containers"))) or len(statuses)
    ready = sum(1 for container in statuses if container.get("ready"))
    return f"{ready}/{total}"


def pod_restarts(pod: KubeObject, now: datetime) -> str:
    """kubectl style: `5 (3m ago)`."""
    count = 0
    last: datetime | None = None
    for container in container_statuses(pod):
        count += int(container.get("restartCount") or 0)
        finished = parse_time(((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished and (last is None or finished > last):
            last = finished
    if count and last:
        return f"{count} ({short_duration(int((now - last).total_seconds()))} ago)"
    return str(count)


def restart_count(pod: KubeObject) -> int:
    return sum(int(container.get("restartCount") or 0) for container in container_statuses(pod))


def pod_is_healthy(pod: KubeObject) -> bool:
    state = pod_status(pod)
    if state in {"Completed", "Succeeded"}:
        return True
    return state == "Running" and pod_is_ready(pod)


def condition(obj: KubeObject, kind: str) -> dict[str, Any] | None:
    for item in _list(status(obj).get("conditions")):
        if item.get("type") == kind:
            return item
    return None


def node_status(node: KubeObject) -> str:
    ready = condition(node, "Ready")
    state = "Unknown"
    if ready is not None:
        state = {"True": "Ready", "False": "NotReady"}.get(str(ready.get("status")), "Unknown")
    if spec(node).get("unschedulable"):
        state += ",SchedulingDisabled"
    return state


def node_roles(node: KubeObject) -> str:
    labels = meta(node).get("labels") or {}
    roles = sorted(
        key.removeprefix("node-role.kubernetes.io/")
        for key in labels
        if key.startswith("node-role.kubernetes.io/")
    )
    if not roles and labels.get("kubernetes.io/role"):
        roles = [str(labels["kubernetes.io/role"])]
    return ",".join(role for role in roles if role) or "<none>"


def node_pressure(node: KubeObject) -> str:
    flagged = [
        str(item.get("type"))
        for item in _list(status(node).get("conditions"))
        if item.get("type") in {"MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"}
        and item.get("status") == "True"
    ]
    return ",".join(flagged) or "-"


def node_version(node: KubeObject) -> str:
    return str((status(node).get("nodeInfo") or {}).get("kubeletVersion", ""))


def template_containers(workload: KubeObject) -> list[dict[str, Any]]:
    template = spec(workload).get("template") or {}
    return _list((template.get("spec") or {}).get("containers"))


def images(workload: KubeObject) -> str:
    return ",".join(str(c.get("image", "")) for c in template_containers(workload))


def deployment_ready(deployment: KubeObject) -> str:
    desired = spec(deployment).get("replicas", 1)
    return f"{status(deployment).get('readyReplicas') or 0}/{desired}"


def selector_string(workload: KubeObject) -> str | None:
    """matchLabels/matchExpressions → a label selector string."""
    selector = spec(workload).get("selector") or {}
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in _list(selector.get("matchExpressions")):
        key = expression.get("key")
        operator = expression.get("operator")
        values = ",".join(expression.get("values") or [])
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or None


def owner(obj: KubeObject) -> tuple[str, str] | None:
    for ref in _list(meta(obj).get("ownerReferences")):
        if ref.get("controller"):
            return str(ref.get("kind")), str(ref.get("name"))
    return None


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key that orders the numbers in names by value: `node-2` before `node-10`."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(name))


def clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def event_time(event: KubeObject) -> datetime | None:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        moment = parse_time(event.get(key))
        if moment:
            return moment
    return parse_time(meta(event).get("creationTimestamp"))


def sort_events(events: list[KubeObject]) -> list[KubeObject]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda event: event_time(event) or epoch)
