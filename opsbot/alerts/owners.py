"""Which workload a pod belongs to, worked out from the pod alone (pure, no API calls).

Pods carry a controller ``ownerReference``. StatefulSets, DaemonSets and Jobs own
their pods directly. Deployments own them through a ReplicaSet named
``<deployment>-<pod-template-hash>``, and every such pod carries the
``pod-template-hash`` label, so the Deployment's name is the ReplicaSet's name
without ``-<hash>``; no ReplicaSet lookup is needed.

What the pod cannot tell:

* a Job created by a CronJob stays the Job (the CronJob is the Job's owner, not
  the pod's), so each scheduled run is its own workload;
* a ReplicaSet whose name does not end with ``-<pod-template-hash>`` (made by hand
  or by another controller) stays the ReplicaSet, unless the caller watches
  ReplicaSets and hands over ``replicaset_owners``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from opsbot.alerts.findings import Workload
from opsbot.ports import KubeObject

TEMPLATE_HASH_LABEL = "pod-template-hash"


class OwnerResolver(Protocol):
    def workload_of(self, pod: KubeObject) -> Workload: ...


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def controller_of(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the ownerReference with ``controller: true``, if any."""
    refs = _dict(obj.get("metadata")).get("ownerReferences")
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, dict) and ref.get("controller") is True:
            kind, name = _text(ref.get("kind")), _text(ref.get("name"))
            if kind and name:
                return kind, name
    return None


def deployment_of_replicaset(replicaset: str, template_hash: str) -> str | None:
    """``web-7d9f8b6c5d`` with hash ``7d9f8b6c5d`` → ``web``; None when the name does not fit."""
    suffix = f"-{template_hash}"
    if template_hash and replicaset.endswith(suffix) and len(replicaset) > len(suffix):
        return replicaset[: -len(suffix)]
    return None


class LabelOwnerResolver:
    """Pod → owning workload from ownerReferences and the ``pod-template-hash`` label.

    ``replicaset_owners`` maps (namespace, replicaset) → deployment for callers
    that do watch ReplicaSets; it is consulted before the name heuristic.
    """

    def __init__(self, replicaset_owners: Mapping[tuple[str, str], str] | None = None) -> None:
        self._replicaset_owners: Mapping[tuple[str, str], str] = replicaset_owners or {}

    def workload_of(self, pod: Mapping[str, Any]) -> Workload:
        if not isinstance(pod, Mapping):
            return Workload("Pod", "")
        metadata = _dict(pod.get("metadata"))
        pod_name = _text(metadata.get("name"))
        owner = controller_of(pod)
        if owner is None:
            return Workload("Pod", pod_name)
        kind, name = owner
        if kind == "ReplicaSet":
            return self._replicaset_workload(_text(metadata.get("namespace")), name, metadata)
        if kind == "Node":
            # A mirror pod (static pod from the kubelet's manifest dir) is owned by its
            # Node; the workload is the static pod itself, not the node.
            return Workload("Pod", pod_name)
        return Workload(kind, name)

    def _replicaset_workload(self, namespace: str, replicaset: str, metadata: Mapping[str, Any]) -> Workload:
        known = self._replicaset_owners.get((namespace, replicaset))
        if known:
            return Workload("Deployment", known)
        template_hash = _text(_dict(metadata.get("labels")).get(TEMPLATE_HASH_LABEL))
        deployment = deployment_of_replicaset(replicaset, template_hash)
        if deployment is None:
            return Workload("ReplicaSet", replicaset)
        return Workload("Deployment", deployment)


DEFAULT_OWNERS: OwnerResolver = LabelOwnerResolver()
