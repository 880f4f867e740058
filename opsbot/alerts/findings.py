"""What the detectors report, as plain data shared by detectors, incidents and routing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AlertKind(StrEnum):
    CRASH_LOOP = "CrashLoopBackOff"
    OOM_KILLED = "OOMKilled"
    IMAGE_PULL = "ImagePullBackOff"
    CONFIG_ERROR = "CreateContainerConfigError"
    EVICTED = "Evicted"
    NODE_NOT_READY = "NodeNotReady"
    ROLLOUT_FAILED = "RolloutFailed"
    ROLLOUT_COMPLETED = "RolloutCompleted"
    # Not a detector's: alert groups that Alertmanager sends (opsbot.alertmanager).
    ALERTMANAGER = "Alertmanager"


EXTERNAL_KINDS: frozenset[AlertKind] = frozenset({AlertKind.ALERTMANAGER})
"""Kinds whose findings come from outside opsbot (no detector, no watch): routed like the others."""


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Workload:
    """What owns the thing that broke: Deployment/StatefulSet/DaemonSet/Job, or the pod/node itself."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


@dataclass(frozen=True)
class Finding:
    """One problem seen on one object (a pod, a node, a deployment) at one moment."""

    kind: AlertKind
    severity: Severity
    cluster: str
    namespace: str  # "" for cluster-scoped objects (nodes)
    workload: Workload
    subject_kind: str  # "Pod" | "Node" | "Deployment"
    subject: str  # the object's name
    reason: str  # as Kubernetes wrote it, e.g. "ErrImagePull"
    message: str = ""
    container: str | None = None
    exit_code: int | None = None
    restart_count: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    observed_at: datetime | None = None
    key: str | None = None
    """The incident key when the source groups findings itself (an Alertmanager group)."""

    @property
    def incident_key(self) -> str:
        """One incident per cluster + namespace + workload + kind of problem (or the source's `key`)."""
        if self.key is not None:
            return self.key
        return "/".join(
            (self.cluster, self.namespace or "-", self.workload.kind, self.workload.name, self.kind.value)
        )


@dataclass(frozen=True)
class Observation:
    """What one watch event says about one object: its current health and any new findings.

    `healthy` is about the problems the detectors know: a pod is healthy when it is
    Running with every container ready (or Succeeded); a node when Ready=True; a
    deployment when its rollout is not stuck. `findings` are edges: problems that
    appeared, or got worse (restart count went up), between `old` and `new`.
    """

    cluster: str
    subject_kind: str
    namespace: str
    name: str
    workload: Workload
    healthy: bool
    deleted: bool = False
    findings: tuple[Finding, ...] = ()
    active: frozenset[AlertKind] = frozenset()
