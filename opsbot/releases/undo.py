"""`kubectl rollout undo` for a Deployment, computed from the objects (pure).

The same steps as kubectl (polymorphichelpers/rollback.go), so a rollback from chat does
what the on-call engineer would have done by hand:

1. refuse a paused Deployment;
2. take the ReplicaSets the Deployment controls (selector + controller ownerReference);
3. pick `to_revision`, or the newest revision below the latest (`deployment.kubernetes.io/revision`);
4. skip when that template equals the Deployment's, ignoring `pod-template-hash`;
5. drop `pod-template-hash` from the template;
6. JSON-patch `/spec/template` with it, and `/metadata/annotations` with the Deployment's
   own bookkeeping annotations plus the ReplicaSet's others (kubectl's annotationsToSkip).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from opsbot.core.kubeobjects import meta, spec
from opsbot.core.versions import version_of
from opsbot.ports import KubeObject
from opsbot.releases.errors import NoRolloutHistoryError, PausedDeploymentError, RevisionNotFoundError

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
# Annotations the Deployment keeps as its own through a rollback (kubectl's annotationsToSkip).
KEPT_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
JsonPatch = list[dict[str, Any]]


def label_selector(selector: object) -> str:
    """A Deployment's `spec.selector` as a label selector string for a list call."""
    if not isinstance(selector, dict):
        return ""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(sorted(str(v) for v in expression.get("values") or []))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def revision_of(obj: KubeObject) -> int | None:
    value = (meta(obj).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def owned_replicasets(deployment: KubeObject, replicasets: list[KubeObject]) -> list[KubeObject]:
    """The ReplicaSets whose controller reference is this Deployment (by uid): a selector
    alone also matches ReplicaSets another Deployment with overlapping labels owns."""
    uid = meta(deployment).get("uid")
    return [
        rs
        for rs in replicasets
        if any(
            ref.get("controller") and ref.get("uid") == uid and ref.get("kind") == "Deployment"
            for ref in meta(rs).get("ownerReferences") or []
        )
    ]


def _without_hash(template: object) -> dict[str, Any]:
    result: dict[str, Any] = copy.deepcopy(template) if isinstance(template, dict) else {}
    labels = (result.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return result


def template_version(deployment: KubeObject, template: dict[str, Any]) -> str | None:
    """The version a pod template runs, read as for the Deployment itself."""
    labels = (template.get("metadata") or {}).get("labels") or {}
    view = {
        "metadata": {"name": meta(deployment).get("name"), "labels": labels},
        "spec": {"template": template},
    }
    return version_of(view)


@dataclass(frozen=True)
class Revision:
    """One entry of a Deployment's rollout history."""

    number: int
    replicaset: str
    version: str | None
    current: bool


def rollout_history(deployment: KubeObject, replicasets: list[KubeObject]) -> list[Revision]:
    """Newest first, like `kubectl rollout history` reversed; bounded by revisionHistoryLimit."""
    current = _without_hash(spec(deployment).get("template"))
    entries = []
    for rs in owned_replicasets(deployment, replicasets):
        number = revision_of(rs)
        if number is None:
            continue
        template = _without_hash(spec(rs).get("template"))
        entries.append(
            Revision(
                number, str(meta(rs).get("name")), template_version(deployment, template), template == current
            )
        )
    return sorted(entries, key=lambda r: r.number, reverse=True)


@dataclass(frozen=True)
class UndoPlan:
    """The JSON patch that rolls the Deployment back to `to_revision`."""

    namespace: str
    deployment: str
    to_revision: int
    replicaset: str
    from_version: str | None
    to_version: str | None
    patch: JsonPatch


@dataclass(frozen=True)
class UndoSkipped:
    """Nothing to do: the Deployment already runs that revision's template."""

    to_revision: int
    replicaset: str
    reason: str


def _pick(deployment: KubeObject, owned: list[KubeObject], to_revision: int | None) -> KubeObject:
    numbered = [(revision_of(rs), rs) for rs in owned]
    known = [(number, rs) for number, rs in numbered if number is not None]
    name = meta(deployment).get("name")
    if to_revision:
        for number, rs in known:
            if number == to_revision:
                return rs
        raise RevisionNotFoundError(
            f"unable to find revision {to_revision} of deployment `{name}` in its history."
        )
    known.sort(key=lambda pair: pair[0], reverse=True)
    if len(known) < 2:
        raise NoRolloutHistoryError(f"no rollout history found for deployment `{name}`.")
    return known[1][1]


def plan_undo(
    deployment: KubeObject, replicasets: list[KubeObject], *, to_revision: int | None = None
) -> UndoPlan | UndoSkipped:
    """The rollback kubectl would make. `to_revision` None or 0: the previous revision.

    Raises PausedDeploymentError, RevisionNotFoundError, NoRolloutHistoryError.
    """
    name = str(meta(deployment).get("name"))
    if spec(deployment).get("paused"):
        raise PausedDeploymentError(
            f"deployment `{name}` is paused: resume it first (`kubectl rollout resume`), then roll back."
        )
    chosen = _pick(deployment, owned_replicasets(deployment, replicasets), to_revision)
    number = revision_of(chosen) or 0
    rs_name = str(meta(chosen).get("name"))
    template = _without_hash(spec(chosen).get("template"))
    current = _without_hash(spec(deployment).get("template"))
    if template == current:
        return UndoSkipped(number, rs_name, f"the current template already matches revision {number}")
    own = meta(deployment).get("annotations") or {}
    annotations = {key: value for key, value in own.items() if key in KEPT_ANNOTATIONS}
    for key, value in (meta(chosen).get("annotations") or {}).items():
        if key not in KEPT_ANNOTATIONS:
            annotations[key] = value
    patch: JsonPatch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    return UndoPlan(
        namespace=str(meta(deployment).get("namespace", "")),
        deployment=name,
        to_revision=number,
        replicaset=rs_name,
        from_version=template_version(deployment, current),
        to_version=template_version(deployment, template),
        patch=patch,
    )
