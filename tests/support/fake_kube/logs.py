"""Container logs as the kubelet serves them through ``pods/{name}/log``.

Each line keeps its own timestamp so ``sinceSeconds``/``sinceTime``/``timestamps``
behave like the kubelet's, and the error texts mirror the apiserver/kubelet ones
that code under test shows to users.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from . import errors
from .resources import resolve

_PODLOG = resolve("pods")

LogLine = tuple[datetime, str]
LogInput = str | Sequence[str | tuple[datetime, str]]


def _to_lines(data: LogInput, at: datetime | None) -> list[LogLine]:
    now = at or datetime.now(UTC)
    items: Sequence[str | tuple[datetime, str]]
    if isinstance(data, str):
        text = data[:-1] if data.endswith("\n") else data
        items = text.split("\n") if text else []
    else:
        items = data
    out: list[LogLine] = []
    for item in items:
        if isinstance(item, tuple):
            ts, line = item
            out.append((ts if ts.tzinfo else ts.replace(tzinfo=UTC), line))
        else:
            out.append((now, item))
    return out


class LogStore:
    """Lines per (namespace, pod, container, previous)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[tuple[str, str, str, bool], list[LogLine]] = {}

    def set(
        self,
        namespace: str,
        pod: str,
        container: str,
        data: LogInput,
        *,
        previous: bool = False,
        append: bool = False,
        at: datetime | None = None,
    ) -> None:
        """Replace (or append to) one container's log."""
        lines = _to_lines(data, at)
        key = (namespace, pod, container, previous)
        with self._lock:
            if append:
                self._logs.setdefault(key, []).extend(lines)
            else:
                self._logs[key] = lines

    def get(self, namespace: str, pod: str, container: str, previous: bool) -> list[LogLine] | None:
        """Stored lines or None when nothing was ever set."""
        with self._lock:
            lines = self._logs.get((namespace, pod, container, previous))
            return list(lines) if lines is not None else None

    def forget(self, namespace: str, pod: str) -> None:
        """Drop a deleted pod's logs (a new pod with the same name starts empty)."""
        with self._lock:
            for key in [k for k in self._logs if k[0] == namespace and k[1] == pod]:
                del self._logs[key]


def _first(query: Mapping[str, list[str]], key: str) -> str | None:
    vals = query.get(key)
    return vals[0] if vals else None


def _int_param(query: Mapping[str, list[str]], key: str, pod: str) -> int | None:
    raw = _first(query, key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid value for {key}: {raw!r}") from None
    if value < 0 or (key in ("sinceSeconds", "limitBytes") and value == 0):
        bound = "greater than or equal to 0" if key == "tailLines" else "greater than 0"
        raise errors.invalid(
            _PODLOG, pod, [(key, f"Invalid value: {value}: must be {bound}")], kind_qualified="PodLogOptions"
        )
    return value


def _container_names(spec: Mapping[str, Any], key: str) -> list[str]:
    return [str(c.get("name")) for c in spec.get(key) or []]


def render_logs(
    pod: Mapping[str, Any],
    query: Mapping[str, list[str]],
    store: LogStore,
    node: Mapping[str, Any] | None,
    node_deleted: bool,
) -> bytes:
    """Answer a log request for ``pod`` or raise the error the real server gives."""
    meta = pod.get("metadata") or {}
    name = str(meta.get("name"))
    ns = str(meta.get("namespace"))
    spec = pod.get("spec") or {}
    containers = _container_names(spec, "containers")
    inits = _container_names(spec, "initContainers")
    ephemeral = _container_names(spec, "ephemeralContainers")
    container = _first(query, "container") or ""
    if not container:
        if len(containers) == 1 and not inits:
            container = containers[0]
        else:
            msg = (
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
            )
            if inits:
                msg += f" or one of the init containers: [{' '.join(inits)}]"
            raise errors.bad_request(msg)
    elif container not in containers + inits + ephemeral:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    tail = _int_param(query, "tailLines", name)
    since_s = _int_param(query, "sinceSeconds", name)
    limit = _int_param(query, "limitBytes", name)
    since_time = _first(query, "sinceTime")
    if since_s is not None and since_time:
        raise errors.invalid(
            _PODLOG,
            name,
            [("", "at most one of `sinceTime` or `sinceSeconds` may be specified")],
            kind_qualified="PodLogOptions",
        )
    previous = (_first(query, "previous") or "").lower() in ("true", "1")
    timestamps = (_first(query, "timestamps") or "").lower() in ("true", "1")

    node_name = str(spec.get("nodeName") or "")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    host_ip = str((pod.get("status") or {}).get("hostIP") or "10.0.0.10")
    unreachable = node_deleted or (node is not None and _node_ready_status(node) == "Unknown")
    if unreachable:
        raise errors.generic(
            500,
            f'Get "https://{host_ip}:10250/containerLogs/{ns}/{name}/{container}": '
            f"dial tcp {host_ip}:10250: connect: no route to host",
            reason="",
        )

    statuses = {
        str(s.get("name")): s
        for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
        for s in (pod.get("status") or {}).get(key) or []
    }
    cstatus = statuses.get(container, {})
    if previous:
        lines = store.get(ns, name, container, True)
        if lines is None:
            if "terminated" not in (cstatus.get("lastState") or {}):
                raise errors.bad_request(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            lines = []
    else:
        waiting = (cstatus.get("state") or {}).get("waiting")
        never_ran = int(cstatus.get("restartCount", 0)) == 0 and not (cstatus.get("lastState") or {})
        if waiting is not None and never_ran:
            reason = str(waiting.get("reason") or "ContainerCreating")
            if reason in ("ImagePullBackOff", "ErrImagePull"):
                reason = "trying and failing to pull image"
            raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        lines = store.get(ns, name, container, False) or []

    if since_s is not None:
        cutoff = datetime.now(UTC) - timedelta(seconds=since_s)
        lines = [ln for ln in lines if ln[0] >= cutoff]
    elif since_time:
        try:
            cutoff = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(f"invalid sinceTime: {since_time}") from None
        lines = [ln for ln in lines if ln[0] >= cutoff]
    if tail is not None:
        lines = lines[-tail:] if tail else []
    if timestamps:
        text = "".join(f"{rfc3339_nano(ts)} {ln}\n" for ts, ln in lines)
    else:
        text = "".join(f"{ln}\n" for _, ln in lines)
    data = text.encode()
    if limit is not None:
        data = data[:limit]
    return data


def rfc3339_nano(ts: datetime) -> str:
    """Go's RFC3339Nano (trailing zeros of the fraction trimmed), as the kubelet prefixes lines."""
    utc = ts.astimezone(UTC)
    frac = f"{utc.microsecond:06d}".rstrip("0")
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def _node_ready_status(node: Mapping[str, Any]) -> str:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status"))
    return "True"
