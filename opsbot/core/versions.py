"""What runs: an app's identity, its version and its rollout state, read from a Deployment.

Pure functions over the Deployment as the API server sends it (a plain JSON dict).
The version is what a person would call it: the `app.kubernetes.io/version` label when
the chart sets one, else the tag of the main container's image, else a short digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opsbot.core.kubeobjects import KubeObject, meta, spec, status

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
VERSION_LABEL = "app.kubernetes.io/version"
IMPLICIT_TAG = "latest"

# The distribution reference grammar, reduced to what tells the parts apart.
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into its parts, keeping the registry exactly as written
    (`registry:5000`), so an edit changes the tag and nothing else."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Registry and repository: what kustomize's `images[].name` matches."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def version(self) -> str:
        """The tag, else a short digest, else `latest` (what the runtime pulls)."""
        if self.tag:
            return self.tag
        if self.digest:
            return short_digest(self.digest)
        return IMPLICIT_TAG

    def with_tag(self, tag: str) -> str:
        """The same image at another tag; a pinned digest is dropped (it names the old build)."""
        return f"{self.name}:{tag}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(reference: str) -> ImageRef:
    """`registry:5000/org/app:1.2@sha256:…` → its parts. Raises ValueError when it is not
    an image reference (the message quotes it)."""
    text = reference.strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"`{reference}` is not an image reference")
    remainder, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ValueError(f"`{reference}` has an invalid digest")
    registry = ""
    first, slash, rest = remainder.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, remainder = first, rest
    tag: str | None = None
    path, colon, maybe_tag = remainder.rpartition(":")
    if colon:
        if "/" in maybe_tag or not _TAG.match(maybe_tag):
            raise ValueError(f"`{reference}` has an invalid tag")
        remainder, tag = path, maybe_tag
    if not remainder or not all(_COMPONENT.match(part) for part in remainder.split("/")):
        raise ValueError(f"`{reference}` has an invalid repository name")
    return ImageRef(registry, remainder, tag, digest or None)


def short_digest(digest: str) -> str:
    """`sha256:abcdef1234…` → `abcdef1`: enough to tell builds apart in a chat line."""
    return digest.partition(":")[2][:7] or digest[:7]


# -- identity ------------------------------------------------------------------------------


def _labels(obj: KubeObject) -> dict[str, Any]:
    labels = meta(obj).get("labels")
    return labels if isinstance(labels, dict) else {}


def app_names(deployment: KubeObject) -> tuple[str, ...]:
    """Every name the app goes by: `metadata.name`, then the `app.kubernetes.io/name` and
    `app.kubernetes.io/instance` labels (distinct, in that order)."""
    labels = _labels(deployment)
    names: list[str] = []
    for value in (meta(deployment).get("name"), labels.get(NAME_LABEL), labels.get(INSTANCE_LABEL)):
        if isinstance(value, str) and value and value not in names:
            names.append(value)
    return tuple(names)


def is_app(deployment: KubeObject, app: str) -> bool:
    """Whether `app` is one of the names this Deployment goes by."""
    return app in app_names(deployment)


def containers(deployment: KubeObject) -> list[dict[str, Any]]:
    template = spec(deployment).get("template")
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    items = pod_spec.get("containers") if isinstance(pod_spec, dict) else None
    return [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []


def main_container(deployment: KubeObject) -> dict[str, Any] | None:
    """The container named like the app (any of its names), else the first: sidecars
    come and go, the app's own container carries its version."""
    items = containers(deployment)
    for name in app_names(deployment):
        for container in items:
            if container.get("name") == name:
                return container
    return items[0] if items else None


def version_of(deployment: KubeObject) -> str | None:
    """The version label, else the main container's tag or short digest; None without
    either (no containers, or an unparseable image)."""
    label = _labels(deployment).get(VERSION_LABEL)
    if isinstance(label, str) and label:
        return label
    container = main_container(deployment)
    image = container.get("image") if container else None
    if not isinstance(image, str):
        return None
    try:
        return parse_image(image).version
    except ValueError:
        return None


# -- rollout -------------------------------------------------------------------------------


class RolloutState(StrEnum):
    OK = "ok"
    ROLLING_OUT = "rolling out"
    DEGRADED = "degraded"
    FAILED = "failed"


@dataclass(frozen=True)
class Rollout:
    """The state and a one-line reason a person can act on."""

    state: RolloutState
    detail: str

    @property
    def done(self) -> bool:
        """Nothing more will happen by waiting: the rollout finished or failed."""
        return self.state in (RolloutState.OK, RolloutState.FAILED, RolloutState.DEGRADED)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _condition(deployment: KubeObject, kind: str) -> dict[str, Any]:
    for cond in status(deployment).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return {}


def rollout_state(deployment: KubeObject) -> Rollout:
    """kubectl's `rollout status` rules, plus `degraded` for a finished rollout that lost
    availability (crashing pods flip only `Available` once a rollout completed).

    Failed: `Progressing=False` with `ProgressDeadlineExceeded` (only reported while a
    rollout is stuck). Complete: observedGeneration ≥ generation, every replica updated
    and available, no old replica left.
    """
    desired = _int(spec(deployment).get("replicas", 1)) if "replicas" in spec(deployment) else 1
    st = status(deployment)
    generation = _int(meta(deployment).get("generation"))
    if _int(st.get("observedGeneration")) < generation:
        return Rollout(RolloutState.ROLLING_OUT, "waiting for the controller to see the new spec")
    progressing = _condition(deployment, "Progressing")
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Rollout(RolloutState.FAILED, str(progressing.get("message") or "progress deadline exceeded"))
    updated = _int(st.get("updatedReplicas"))
    replicas = _int(st.get("replicas"))
    available = _int(st.get("availableReplicas"))
    if spec(deployment).get("paused") and (updated < desired or replicas > updated):
        return Rollout(RolloutState.ROLLING_OUT, "the Deployment is paused mid-rollout")
    if updated < desired:
        return Rollout(RolloutState.ROLLING_OUT, f"{updated} of {desired} replicas updated")
    if replicas > updated:
        return Rollout(RolloutState.ROLLING_OUT, f"{replicas - updated} old replicas are pending termination")
    if available < updated:
        if progressing.get("reason") == "NewReplicaSetAvailable":
            return Rollout(RolloutState.DEGRADED, f"{available} of {desired} replicas available")
        return Rollout(RolloutState.ROLLING_OUT, f"{available} of {updated} updated replicas available")
    return Rollout(RolloutState.OK, f"{available} of {desired} replicas available")
