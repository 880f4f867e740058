"""Following a Deployment after a remediation changed it, until its rollout is done or stuck.

The watch events the alert pipeline receives are handed here first (`on_event`); a poll
(`poll`, every few seconds) covers clusters whose Deployments are not watched and a rollout
that finished before the first event. Done: what ``kubectl rollout status`` calls done (the
spec observed; updated = available = replicas = desired). Stuck: Progressing=False with
ProgressDeadlineExceeded. Neither within `timeout`: said so, and no longer followed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from opsbot.alertmanager.remediation import Remediation
from opsbot.core.kubeobjects import condition
from opsbot.ports import KubeDirectory, KubeObject, RunBlocking

log = structlog.get_logger("opsbot.alertmanager")

DEFAULT_TIMEOUT_SECONDS = 900.0


@dataclass(frozen=True)
class Outcome:
    state: str  # succeeded | failed
    message: str


def _number(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) else 0


def rollout_outcome(deployment: KubeObject) -> Outcome | None:
    """Done, stuck, or (None) still rolling out."""
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    metadata = deployment.get("metadata") or {}
    desired = spec.get("replicas", 1) if isinstance(spec.get("replicas", 1), int) else 1
    progressing = condition(deployment, "Progressing") or {}
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Outcome("failed", f"rollout stuck: {str(progressing.get('message', ''))[:200]}")
    observed = _number(status, "observedGeneration") >= _number(metadata, "generation")
    updated, available, replicas = (
        _number(status, k) for k in ("updatedReplicas", "availableReplicas", "replicas")
    )
    if observed and updated == available == replicas == desired:
        return Outcome("succeeded", f"rollout complete: {available}/{desired} replicas available")
    return None


@dataclass
class _Followed:
    remediation: str
    cluster: str
    namespace: str
    name: str
    deadline: float


class RolloutFollower:
    def __init__(
        self,
        clusters: KubeDirectory,
        run_blocking: RunBlocking,
        report: Callable[[str, Outcome], None],
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._clusters = clusters
        self._run_blocking = run_blocking
        self._report = report
        self._timeout = timeout
        self._followed: dict[tuple[str, str, str], list[_Followed]] = {}

    def follow(self, remediation: Remediation) -> None:
        approval = remediation.approval
        if approval is None or approval.plan.kind != "deployment":
            return
        plan = approval.plan
        key = (plan.cluster, plan.namespace, plan.name)
        entries = self._followed.setdefault(key, [])
        if all(entry.remediation != remediation.id for entry in entries):
            entries.append(_Followed(remediation.id, *key, time.monotonic() + self._timeout))

    @property
    def following(self) -> int:
        return sum(len(entries) for entries in self._followed.values())

    def on_event(self, event: Any) -> None:
        """A watch event (`opsbot.alerts.pipeline.ClusterEvent`); never raises."""
        try:
            if event.resource != "deployments" or not self._followed or event.obj is None:
                return
            metadata = event.obj.get("metadata") or {}
            key = (event.cluster, str(metadata.get("namespace", "")), str(metadata.get("name", "")))
            if key in self._followed and event.type in {"ADDED", "MODIFIED"}:
                self._judge(key, event.obj)
        except Exception:
            log.exception("rollout_follow_failed")

    async def poll(self) -> None:
        now = time.monotonic()
        for key, entries in list(self._followed.items()):
            for entry in [e for e in entries if e.deadline <= now]:
                self._done(
                    key, entry, Outcome("failed", f"rollout not finished after {self._timeout / 60:g} min")
                )
            if key not in self._followed:
                continue
            cluster, namespace, name = key
            try:
                kube = self._clusters.get(cluster)
                deployment = await self._run_blocking(kube.get_deployment, namespace, name)
            except Exception as exc:
                log.info("rollout_poll_failed", cluster=cluster, deployment=name, error=str(exc)[:200])
                continue
            self._judge(key, deployment)

    def _judge(self, key: tuple[str, str, str], deployment: KubeObject) -> None:
        outcome = rollout_outcome(deployment)
        if outcome is None:
            return
        for entry in list(self._followed.get(key, [])):
            self._done(key, entry, outcome)

    def _done(self, key: tuple[str, str, str], entry: _Followed, outcome: Outcome) -> None:
        entries = self._followed.get(key, [])
        if entry in entries:
            entries.remove(entry)
        if not entries:
            self._followed.pop(key, None)
        log.info("rollout_followed", remediation=entry.remediation, state=outcome.state)
        self._report(entry.remediation, outcome)
