"""What list commands show of an object, computed once per change instead of once per command.

A row is a small tuple of strings and numbers: the watch caches keep one per object and
update it as the object changes, and a live list (a namespace no watch covers) turns
each page's items into rows at once, so no command ever holds a whole decoded list.
Ages and "restarted 2m ago" depend on the moment of the answer, so rows keep times
(epoch seconds), never durations. Rows are small: what repeats across them (namespaces,
node names, statuses, label maps) is kept once and shared, and nothing else of the
decoded object stays referenced.
"""

from __future__ import annotations

import hashlib
import heapq
import sys
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from opsbot.core import kubeobjects as fmt
from opsbot.core.durations import short_duration
from opsbot.core.kubeobjects import KubeObject
from opsbot.core.versions import RolloutState, app_names, containers, rollout_state, version_of


def _epoch(value: object) -> float | None:
    moment = fmt.parse_time(value)
    return moment.timestamp() if moment is not None else None


class Labels(dict[str, str]):
    """An object's labels as rows keep them: shared by every row with the same labels, never mutated."""

    __slots__ = ("__weakref__",)


# Rows with equal labels share one Labels (the pods of a ReplicaSet have the same ones): a
# cache of 10,000 pods keeps a few hundred label maps instead of 10,000. Weak, so the label
# sets of objects gone go with their last row.
_LABELS: weakref.WeakValueDictionary[tuple[tuple[str, str], ...], Labels] = weakref.WeakValueDictionary()
_LABELS_LOCK = threading.Lock()
_NO_LABELS = Labels()


def _labels(obj: KubeObject) -> Mapping[str, str]:
    labels = fmt.meta(obj).get("labels")
    if not isinstance(labels, dict) or not labels:
        return _NO_LABELS
    key = tuple((str(k), str(v)) for k, v in labels.items())
    with _LABELS_LOCK:
        shared = _LABELS.get(key)
        if shared is None:
            shared = Labels((sys.intern(k), v) for k, v in key)
            _LABELS[key] = shared
    return shared


def _word(value: str) -> str:
    """Strings that repeat across rows (namespaces, node names, phases, statuses) kept once."""
    return sys.intern(value)


class PodRow(NamedTuple):
    namespace: str
    name: str
    labels: Mapping[str, str]
    node: str
    phase: str
    healthy: bool
    ready: str  # "1/2"
    status: str  # the STATUS column of `kubectl get pods`
    restarts: int
    last_restart: float | None  # when a container last terminated (epoch seconds)
    created: float | None

    def restarts_text(self, now: datetime) -> str:
        """kubectl style: `5 (3m ago)`."""
        if self.restarts and self.last_restart is not None:
            return f"{self.restarts} ({short_duration(max(0, int(now.timestamp() - self.last_restart)))} ago)"
        return str(self.restarts)


def pod_row(pod: KubeObject) -> PodRow:
    last: float | None = None
    for container in fmt.container_statuses(pod):
        finished = _epoch(((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished is not None and (last is None or finished > last):
            last = finished
    meta = fmt.meta(pod)
    return PodRow(
        namespace=_word(fmt.namespace_of(pod)),
        name=fmt.name_of(pod),
        labels=_labels(pod),
        node=_word(str(fmt.spec(pod).get("nodeName") or "<none>")),
        phase=_word(str(fmt.status(pod).get("phase", "Unknown"))),
        healthy=fmt.pod_is_healthy(pod),
        ready=_word(fmt.pod_ready(pod)),
        status=_word(fmt.pod_status(pod)),
        restarts=fmt.restart_count(pod),
        last_restart=last,
        created=_epoch(meta.get("creationTimestamp")),
    )


SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL")
"""An env var whose name holds one of these is never shown, only compared (by digest)."""


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


class EnvValue(NamedTuple):
    """One env var as `diff` compares it. `kind`: ``value`` (a literal, shown), ``secret``
    (a literal under a secret-looking name: `text` is a digest, never shown) or ``ref``
    (`valueFrom`: `text` says where from, e.g. ``secret db/password``)."""

    name: str
    kind: str
    text: str


class ContainerRow(NamedTuple):
    """What `diff` compares of a container: image, command, args, resources, env."""

    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]  # ("limits.cpu", "500m"), sorted
    env: tuple[EnvValue, ...]


def _reference(source: object) -> str:
    if not isinstance(source, dict):
        return "a reference"
    for key, label in (("secretKeyRef", "secret"), ("configMapKeyRef", "configmap")):
        ref = source.get(key)
        if isinstance(ref, dict):
            return f"{label} {ref.get('name', '?')}/{ref.get('key', '?')}"
    field_ref = source.get("fieldRef")
    if isinstance(field_ref, dict):
        return f"field {field_ref.get('fieldPath', '?')}"
    resource_ref = source.get("resourceFieldRef")
    if isinstance(resource_ref, dict):
        return f"resource {resource_ref.get('resource', '?')}"
    return "a reference"


def _env(items: object) -> tuple[EnvValue, ...]:
    found: list[EnvValue] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        if "valueFrom" in item:
            found.append(EnvValue(name, "ref", _reference(item.get("valueFrom"))))
        elif looks_secret(name):
            digest = hashlib.sha256(str(item.get("value", "")).encode()).hexdigest()[:16]
            found.append(EnvValue(name, "secret", digest))
        else:
            found.append(EnvValue(name, "value", str(item.get("value", ""))))
    return tuple(found)


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def container_row(container: Mapping[str, Any]) -> ContainerRow:
    resources: list[tuple[str, str]] = []
    spec = container.get("resources")
    for kind in ("requests", "limits"):
        amounts = spec.get(kind) if isinstance(spec, dict) else None
        if isinstance(amounts, dict):
            resources.extend((f"{kind}.{key}", str(value)) for key, value in amounts.items())
    return ContainerRow(
        name=str(container.get("name", "")),
        image=str(container.get("image", "")),
        command=_strings(container.get("command")),
        args=_strings(container.get("args")),
        resources=tuple(sorted(resources)),
        env=_env(container.get("env")),
    )


class DeploymentRow(NamedTuple):
    namespace: str
    name: str
    labels: Mapping[str, str]
    desired: int
    ready: str  # "ready/desired"
    updated: int
    available: int
    images: str
    created: float | None
    # What `apps`, `diff` and the release follow-up read (opsbot.core.versions):
    apps: tuple[str, ...] = ()  # every name the app goes by: metadata.name, name/instance labels
    version: str | None = None
    rollout: RolloutState = RolloutState.OK
    rollout_detail: str = ""
    changed: float | None = None  # when its rollout last progressed (epoch seconds)
    containers: tuple[ContainerRow, ...] = ()

    @property
    def degraded(self) -> bool:
        return self.available < self.desired


def _last_change(deployment: KubeObject) -> float | None:
    """When the Deployment's rollout last progressed (its `Progressing` condition), else
    when it was created: the age of the running version, as close as the object tells."""
    progressing = fmt.condition(deployment, "Progressing") or {}
    return _epoch(progressing.get("lastUpdateTime") or progressing.get("lastTransitionTime")) or _epoch(
        fmt.meta(deployment).get("creationTimestamp")
    )


def deployment_row(deployment: KubeObject) -> DeploymentRow:
    state = fmt.status(deployment)
    rollout = rollout_state(deployment)
    return DeploymentRow(
        namespace=_word(fmt.namespace_of(deployment)),
        name=fmt.name_of(deployment),
        labels=_labels(deployment),
        desired=int(fmt.spec(deployment).get("replicas", 1) or 0),
        ready=fmt.deployment_ready(deployment),
        updated=int(state.get("updatedReplicas") or 0),
        available=int(state.get("availableReplicas") or 0),
        images=fmt.images(deployment),
        created=_epoch(fmt.meta(deployment).get("creationTimestamp")),
        apps=app_names(deployment),
        version=version_of(deployment),
        rollout=rollout.state,
        rollout_detail=rollout.detail,
        changed=_last_change(deployment),
        containers=tuple(container_row(c) for c in containers(deployment)),
    )


class NodeRow(NamedTuple):
    name: str
    labels: Mapping[str, str]
    status: str  # "Ready", "NotReady,SchedulingDisabled"
    roles: str
    version: str
    pressure: str
    created: float | None

    @property
    def ready(self) -> bool:
        return self.status.startswith("Ready")


def node_row(node: KubeObject) -> NodeRow:
    return NodeRow(
        name=fmt.name_of(node),
        labels=_labels(node),
        status=_word(fmt.node_status(node)),
        roles=_word(fmt.node_roles(node)),
        version=_word(fmt.node_version(node)),
        pressure=_word(fmt.node_pressure(node)),
        created=_epoch(fmt.meta(node).get("creationTimestamp")),
    )


def age_text(created: float | None, now: datetime) -> str:
    if created is None:
        return "<unknown>"
    return short_duration(max(0, int(now.timestamp() - created)))


Named = TypeVar("Named", PodRow, DeploymentRow)


def first_in_order(rows: Sequence[Named], count: int, *, ahead: Callable[[Named], bool] | None = None) -> list[Named]:
    """The first `count` rows by namespace then name, numbers in names by value (`natural_key`),
    the rows for which `ahead` holds before all others: what `sorted()` would put first.

    Only the names of the namespaces shown get a sort key: a table of 10,000 pods shows 40, and
    sorting all of them by natural key cost ~70 ms per `pods -A`.
    """
    shown: list[Named] = []
    groups = [[row for row in rows if ahead(row)], [row for row in rows if not ahead(row)]] if ahead else [rows]
    namespace_keys: dict[str, tuple[str | int, ...]] = {}
    for group in groups:
        by_namespace: dict[tuple[str | int, ...], list[Named]] = {}
        for row in group:
            key = namespace_keys.get(row.namespace)
            if key is None:
                key = namespace_keys[row.namespace] = fmt.natural_key(row.namespace)
            by_namespace.setdefault(key, []).append(row)
        for key in sorted(by_namespace):
            wanted = count - len(shown)
            if wanted <= 0:
                return shown
            shown.extend(heapq.nsmallest(wanted, by_namespace[key], key=lambda row: fmt.natural_key(row.name)))
    return shown
