"""Deployment detectors (rollout failed, rollout completed) and deployment health."""

from __future__ import annotations

from typing import Any

from opsbot.alerts.detectors.readers import as_dict, integer, metadata, status, text
from opsbot.alerts.detectors.spec import Change, Symptom
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
    return [Symptom("ProgressDeadlineExceeded", text(stuck.get("message")))]


def rollout_stuck_now(change: Change) -> bool:
    return _rollout_stuck(change.new) is not None


def detect_rollout_completed(change: Change) -> list[Symptom]:
    """A rollout that was under way in ``old`` is fully done in ``new``. Never on first sight.

    Reads ``spec.replicas`` and ``metadata.generation`` too, not only the status.
    """
    if change.old is None or not (_rolling_out(change.old) and _rolled_out(change.new)):
        return []
    progressing = condition(change.new, "Progressing") or {}
    return [Symptom("NewReplicaSetAvailable", text(progressing.get("message")))]


def healthy(change: Change) -> bool:
    """The rollout is not stuck."""
    return _rollout_stuck(change.new) is None
