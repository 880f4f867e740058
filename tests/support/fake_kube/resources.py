"""Resource registry of the fake API server: which kinds exist and how they behave.

One table drives routing, discovery, RBAC attributes, field selectors and the
wire prefix used to strip ``kind``/``apiVersion`` from list items, so adding a
kind is one entry here rather than changes spread over the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
FieldGetter = Callable[[Obj], str]


def _path(*keys: str) -> FieldGetter:
    """Build a getter for a nested string field; missing fields read as ``""``."""

    def get(obj: Obj) -> str:
        cur: Any = obj
        for key in keys:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(key)
        if cur is None:
            return ""
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)

    return get


_META_FIELDS: dict[str, FieldGetter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}

_POD_FIELDS: dict[str, FieldGetter] = {
    "spec.nodeName": _path("spec", "nodeName"),
    "spec.restartPolicy": _path("spec", "restartPolicy"),
    "spec.schedulerName": _path("spec", "schedulerName"),
    "spec.serviceAccountName": _path("spec", "serviceAccountName"),
    "spec.hostNetwork": _path("spec", "hostNetwork"),
    "status.phase": _path("status", "phase"),
    "status.podIP": _path("status", "podIP"),
    "status.nominatedNodeName": _path("status", "nominatedNodeName"),
}

_EVENT_FIELDS: dict[str, FieldGetter] = {
    "involvedObject.kind": _path("involvedObject", "kind"),
    "involvedObject.namespace": _path("involvedObject", "namespace"),
    "involvedObject.name": _path("involvedObject", "name"),
    "involvedObject.uid": _path("involvedObject", "uid"),
    "involvedObject.apiVersion": _path("involvedObject", "apiVersion"),
    "involvedObject.resourceVersion": _path("involvedObject", "resourceVersion"),
    "involvedObject.fieldPath": _path("involvedObject", "fieldPath"),
    "reason": _path("reason"),
    "reportingComponent": _path("reportingComponent"),
    "source": _path("source", "component"),
    "type": _path("type"),
}


@dataclass(frozen=True, eq=False)
class ResourceType:
    """Static description of one REST resource (e.g. ``deployments.apps``); compared by identity."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    # Pods and namespaces answer DELETE with the object; the rest with a Status.
    returns_deleted_object: bool = False
    # Kinds whose metadata.generation tracks spec changes.
    tracks_generation: bool = False
    # Virtual kinds (reviews) are never stored.
    virtual: bool = False
    # Custom resources (CRDs): no strategic merge patch, like the real server.
    custom: bool = False
    extra_fields: Mapping[str, FieldGetter] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` string written into objects of this kind."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``plural.group`` as the API server prints it in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_qualified(self) -> str:
        """``Kind.group`` as used in Invalid messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        """Whether writes to the main resource must leave ``status`` untouched."""
        return "status" in self.subresources

    @property
    def list_kind(self) -> str:
        """Kind of the list wrapper (``PodList``)."""
        return self.kind + "List"

    @property
    def wire_prefix(self) -> bytes:
        """Serialized start of every stored object; stripped for list items."""
        head = json.dumps({"kind": self.kind, "apiVersion": self.api_version}, separators=(",", ":"))
        return head[:-1].encode() + b","

    def field_getters(self) -> dict[str, FieldGetter]:
        """Field labels the real server accepts in ``fieldSelector`` for this kind."""
        getters = dict(_META_FIELDS)
        if not self.namespaced:
            getters.pop("metadata.namespace")
        getters.update(self.extra_fields)
        return getters


_WORKLOAD_SUBS = frozenset({"status", "scale"})

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        namespaced=False,
        subresources=frozenset({"status", "finalize"}),
        short_names=("ns",),
        returns_deleted_object=True,
        extra_fields={"status.phase": _path("status", "phase")},
    ),
    ResourceType(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        namespaced=True,
        subresources=frozenset({"status", "log", "eviction", "binding"}),
        short_names=("po",),
        returns_deleted_object=True,
        tracks_generation=True,
        extra_fields=_POD_FIELDS,
    ),
    ResourceType(
        "",
        "v1",
        "nodes",
        "node",
        "Node",
        namespaced=False,
        subresources=frozenset({"status"}),
        short_names=("no",),
        extra_fields={"spec.unschedulable": _path("spec", "unschedulable")},
    ),
    ResourceType(
        "",
        "v1",
        "events",
        "event",
        "Event",
        namespaced=True,
        short_names=("ev",),
        extra_fields=_EVENT_FIELDS,
    ),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        namespaced=True,
        subresources=_WORKLOAD_SUBS,
        short_names=("deploy",),
        tracks_generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        namespaced=True,
        subresources=_WORKLOAD_SUBS,
        short_names=("rs",),
        tracks_generation=True,
        extra_fields={"status.replicas": _path("status", "replicas")},
    ),
    ResourceType(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        namespaced=True,
        subresources=_WORKLOAD_SUBS,
        short_names=("sts",),
        tracks_generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        namespaced=True,
        subresources=frozenset({"status"}),
        short_names=("ds",),
        tracks_generation=True,
    ),
    ResourceType(
        "batch",
        "v1",
        "jobs",
        "job",
        "Job",
        namespaced=True,
        subresources=frozenset({"status"}),
        tracks_generation=True,
        extra_fields={"status.successful": _path("status", "succeeded")},
    ),
    # Flux's kinds, served from CRDs on a cluster that runs Flux (status subresource,
    # generation tracked on spec changes; strategic merge patch refused).
    ResourceType(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "kustomizations",
        "kustomization",
        "Kustomization",
        namespaced=True,
        subresources=frozenset({"status"}),
        short_names=("ks",),
        tracks_generation=True,
        custom=True,
    ),
    ResourceType(
        "helm.toolkit.fluxcd.io",
        "v2",
        "helmreleases",
        "helmrelease",
        "HelmRelease",
        namespaced=True,
        subresources=frozenset({"status"}),
        short_names=("hr",),
        tracks_generation=True,
        custom=True,
    ),
    # Leader election: updates carry resourceVersion and lose with 409 when someone else wrote first.
    ResourceType(
        "coordination.k8s.io",
        "v1",
        "leases",
        "lease",
        "Lease",
        namespaced=True,
    ),
    ResourceType(
        "batch",
        "v1",
        "cronjobs",
        "cronjob",
        "CronJob",
        namespaced=True,
        subresources=frozenset({"status"}),
        short_names=("cj",),
        tracks_generation=True,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        namespaced=False,
        verbs=("create",),
        virtual=True,
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        namespaced=False,
        verbs=("create",),
        virtual=True,
    ),
)

BY_GROUP_PLURAL: dict[tuple[str, str, str], ResourceType] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}


def resolve(name: str, api_version: str | None = None) -> ResourceType:
    """Find a resource by kind, plural, singular, short name or ``plural.group``.

    Tests say ``"Pod"``, ``"pods"`` or ``"deployments.apps"`` interchangeably.
    """
    wanted = name.strip()
    low = wanted.lower()
    group_filter: str | None = None
    if api_version is not None:
        group_filter = api_version.rpartition("/")[0] if "/" in api_version else ""
    for r in RESOURCES:
        if group_filter is not None and r.group != group_filter:
            continue
        if low in (r.kind.lower(), r.plural, r.singular, r.qualified) or low in r.short_names:
            return r
    raise KeyError(f"unknown resource kind {name!r}")


def group_of(plural: str) -> str:
    """API group of a plural resource name (``""`` when unknown or core)."""
    for r in RESOURCES:
        if r.plural == plural:
            return r.group
    return ""
