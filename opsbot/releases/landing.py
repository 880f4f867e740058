"""Has a delivered change landed? Flux's and the Deployment's own words, read purely.

- Kustomization: `Ready=True` and `status.lastAppliedRevision` names the commit
  (`main@sha1:<sha>`; older Flux wrote `main/<sha>`).
- HelmRelease: `Ready=True` at the current generation and `status.history[0].chartVersion`
  starts with the version (Helm may append `+<build metadata>`).
Then the Deployment's rollout must complete (`versions.rollout_state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opsbot.core.kubeobjects import meta, status
from opsbot.ports import KubeObject


class Landing(StrEnum):
    WAITING = "waiting"
    APPLIED = "applied"
    FAILED = "failed"


@dataclass(frozen=True)
class FluxState:
    landing: Landing
    detail: str


def _ready(obj: KubeObject) -> dict[str, object]:
    for cond in status(obj).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond
    return {}


def applied_commit(revision: object) -> str:
    """`main@sha1:abc…` / `main/abc…` / `sha1:abc…` → `abc…` ('' when absent)."""
    text = str(revision or "")
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    if ":" in text:
        text = text.split(":", 1)[1]
    return text.rsplit("/", 1)[-1]


def kustomization_landing(kustomization: KubeObject, commit: str) -> FluxState:
    """Whether this Kustomization applied `commit` (a full or abbreviated sha)."""
    ready = _ready(kustomization)
    applied = applied_commit(status(kustomization).get("lastAppliedRevision"))
    attempted = applied_commit(status(kustomization).get("lastAttemptedRevision"))
    if (
        applied
        and (applied.startswith(commit) or commit.startswith(applied))
        and ready.get("status") == "True"
    ):
        return FluxState(Landing.APPLIED, f"applied {applied[:12]}")
    if attempted and attempted.startswith(commit) and ready.get("status") == "False":
        return FluxState(Landing.FAILED, str(ready.get("message") or ready.get("reason") or "apply failed"))
    return FluxState(Landing.WAITING, str(ready.get("message") or "not applied yet"))


def helmrelease_landing(release: KubeObject, version: str) -> FluxState:
    """Whether this HelmRelease released chart `version` and is Ready at its generation."""
    ready = _ready(release)
    history = status(release).get("history") or []
    latest = history[0] if history and isinstance(history[0], dict) else {}
    chart = str(latest.get("chartVersion") or "")
    current = status(release).get("observedGeneration") == meta(release).get("generation")
    matches = chart == version or chart.startswith(version + "+")
    if matches and ready.get("status") == "True" and current:
        return FluxState(Landing.APPLIED, f"released chart {chart}")
    if matches and latest.get("status") == "failed":
        return FluxState(Landing.FAILED, str(ready.get("message") or "release failed"))
    stalled = next(
        (
            c
            for c in status(release).get("conditions") or []
            if isinstance(c, dict) and c.get("type") == "Stalled"
        ),
        {},
    )
    if stalled.get("status") == "True":
        return FluxState(Landing.FAILED, str(stalled.get("message") or "stalled"))
    return FluxState(Landing.WAITING, str(ready.get("message") or "not released yet"))
