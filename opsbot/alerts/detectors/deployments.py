"""Deployment detectors (rollout failed, rollout completed, replicas unavailable) and deployment health.

Unavailable: fewer replicas available than desired (or ``Available=False``) for longer
than a threshold, while no rollout is under way (a rollout's own unavailability is
RolloutFailed's once it runs past its deadline). What keeps the pods unavailable —
typically failing readiness or liveness probes — is in their Unhealthy events, which
the incident's thread gathers (enrichment).
"""

from __future__ import annotations

from typing import Any

from opsbot.alerts.detectors.facts import REPLICAS
from opsbot.alerts.detectors.readers import as_dict, integer, metadata, moment_of, status, text
from opsbot.alerts.detectors.spec import Change, Symptom
from opsbot.alerts.findings import AlertKind
from opsbot.core.kubeobjects import condition
from opsbot.ports import KubeObject


def _rollout_stuck(deployment: KubeObject | None) -> dict[str, Any] | None:
    """The Progressing condition when it says the rollout ran past its deadline (found by type)."""
    if deployment is None:
        return None
    progressing = condition(deployment, "Progressing")
    if progressing is None:
        return None
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return progressing
    return None


def _desired_replicas(deployment: KubeObject) -> int:
    spec = as_dict(deployment.get("spec"))
    if "replicas" not in spec:
        return 1  # the API server's default
    desired = integer(spec.get("replicas"))
    return -1 if desired is None else desired  # unreadable: never "complete"


def _counter(deployment: KubeObject, key: str) -> int:
    return integer(status(deployment).get(key)) or 0


def _generation_observed(deployment: KubeObject) -> bool:
    generation = integer(metadata(deployment).get("generation")) or 0
    return _counter(deployment, "observedGeneration") >= generation


def _rolled_out(deployment: KubeObject) -> bool:
    """What ``kubectl rollout status`` calls done, plus the controller saying so."""
    progressing = condition(deployment, "Progressing") or {}
    desired = _desired_replicas(deployment)
    return (
        progressing.get("status") == "True"
        and progressing.get("reason") == "NewReplicaSetAvailable"
        and _generation_observed(deployment)
        and _counter(deployment, "updatedReplicas")
        == _counter(deployment, "availableReplicas")
        == _counter(deployment, "replicas")
        == desired
    )


def _rolling_out(deployment: KubeObject) -> bool:
    """A rollout is (or may be) under way: not every replica updated, spec not yet observed, or
    the controller not yet reporting the new ReplicaSet available."""
    progressing = condition(deployment, "Progressing") or {}
    return (
        _counter(deployment, "updatedReplicas") < _desired_replicas(deployment)
        or not _generation_observed(deployment)
        or progressing.get("reason") != "NewReplicaSetAvailable"
    )


def detect_rollout_failed(change: Change) -> list[Symptom]:
    """Progressing=False with ProgressDeadlineExceeded appeared (conditions are found by type)."""
    stuck = _rollout_stuck(change.new)
    if stuck is None or _rollout_stuck(change.old) is not None:
        return []
    since = moment_of(stuck.get("lastTransitionTime"))
    return [
        Symptom(
            "ProgressDeadlineExceeded",
            text(stuck.get("message")),
            since=since,
            since_exact=since is not None,
            facts={REPLICAS: _replicas_text(change.new)},
        )
    ]


def _replicas_text(deployment: KubeObject) -> str:
    return f"{_counter(deployment, 'availableReplicas')}/{max(_desired_replicas(deployment), 0)}"


def _unavailable(change: Change) -> dict[str, Any] | None:
    """The Available condition (or {}) when replicas are missing and no rollout explains it."""
    deployment = change.new
    desired = _desired_replicas(deployment)
    if desired <= 0:
        return None
    available = condition(deployment, "Available") or {}
    short = _counter(deployment, "availableReplicas") < desired or available.get("status") == "False"
    if not short or _rolling_out(deployment):
        return None
    if AlertKind.ROLLOUT_FAILED in change.enabled and _rollout_stuck(deployment) is not None:
        return None
    return available


def detect_unavailable(change: Change) -> list[Symptom]:
    """Fewer replicas available than desired: a level, alerted once it has lasted its threshold.

    ``since`` is the Available condition's transition when it says False; a shortfall
    the condition tolerates (``maxUnavailable``) carries no time of its own.
    """
    available = _unavailable(change)
    if available is None:
        return []
    since = moment_of(available.get("lastTransitionTime")) if available.get("status") == "False" else None
    deployment = change.new
    desired = _desired_replicas(deployment)
    have = _counter(deployment, "availableReplicas")
    return [
        Symptom(
            text(available.get("reason")) or "ReplicasUnavailable",
            f"{have} of {desired} replicas available. {text(available.get('message'))}".strip(),
            since=since,
            since_exact=since is not None,
            facts={REPLICAS: f"{have}/{desired}"},
        )
    ]


def unavailable_now(change: Change) -> bool:
    return _unavailable(change) is not None


def rollout_stuck_now(change: Change) -> bool:
    return _rollout_stuck(change.new) is not None


def detect_rollout_completed(change: Change) -> list[Symptom]:
    """A rollout that was under way in ``old`` is fully done in ``new``. Never on first sight.

    Reads ``spec.replicas`` and ``metadata.generation`` too, not only the status.
    """
    if change.old is None or not (_rolling_out(change.old) and _rolled_out(change.new)):
        return []
    progressing = condition(change.new, "Progressing") or {}
    done = moment_of(progressing.get("lastUpdateTime"))
    return [
        Symptom(
            "NewReplicaSetAvailable",
            text(progressing.get("message")),
            since=done,
            since_exact=done is not None,
            facts={REPLICAS: _replicas_text(change.new)},
        )
    ]


def healthy(change: Change) -> bool:
    """The rollout is not stuck (availability is the Unavailable detector's level)."""
    return _rollout_stuck(change.new) is None
