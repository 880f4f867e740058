"""Turn one watch event (old object, new object) into findings: pure edge detection.

Each ``detect_<kind>(old, new, ...)`` looks at one kind of problem and returns the
findings for what *newly* happened between ``old`` and ``new`` (kopf-style cause
detection). ``observe`` composes them for one resource type and adds the levels:
whether the object is healthy and which problems hold right now (``active``).

``old is None`` means first sight (ADDED, or a list at startup): every problem
present now is reported, and the incident layer decides whether it was already
posted. ``new is None`` means the object was deleted.

Choices the spec left open, in one place:

* Init containers are examined like app containers (``Init:ImagePullBackOff`` and
  ``Init:CrashLoopBackOff`` block a pod just as well); container names are unique
  across both lists, so they are matched by name.
* A container whose last termination was OOMKilled and which is now in
  CrashLoopBackOff is reported as OOMKilled only: the cause is more useful than the
  symptom, and both would land in separate incidents for the same crash. This
  precedence applies only while OOMKilled alerts are enabled.
* An OOM kill is one termination, identified by its ``containerID``/``finishedAt``.
  It is new when neither ``state.terminated`` nor ``lastState.terminated`` of the
  old status showed it, so a kill first seen as ``state.terminated`` is not
  reported again when the kubelet moves it to ``lastState`` and bumps
  ``restartCount``. The restart count decides only when the termination carries
  neither field.
* On first sight, an OOM kill that the container has already got over (it is
  running again) is reported only if it finished within ``RECENT_TERMINATION`` of
  ``now``: otherwise every relist would re-report last week's OOM kills of pods
  that are fine now.
* OOMKilled is *active* while the container is down because of it (terminated, or
  waiting to restart after it); a container running again after an OOM kill is not.
* A node without a Ready condition is neither NotReady nor healthy; its going
  False/Unknown afterwards is reported. "Newly NotReady" means the old Ready was
  anything but False/Unknown; False → Unknown is not a new finding.
* ``active`` only names enabled kinds; ``healthy`` does not depend on ``enabled``.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opsbot.alerts.findings import AlertKind, Finding, Observation, Severity, Workload
from opsbot.alerts.owners import DEFAULT_OWNERS, OwnerResolver
from opsbot.core.kubeobjects import (
    condition,
    container_statuses,
    init_container_statuses,
    parse_time,
    pod_is_healthy,
)
from opsbot.ports import KubeObject

__all__ = [
    "CONFIG_ERROR_REASONS",
    "DEFAULT_ENABLED",
    "IMAGE_PULL_REASONS",
    "RECENT_TERMINATION",
    "RESOURCES",
    "detect_config_error",
    "detect_crash_loop",
    "detect_evicted",
    "detect_image_pull",
    "detect_node_not_ready",
    "detect_oom_killed",
    "detect_rollout_completed",
    "detect_rollout_failed",
    "observe",
    "pod_healthy",
]

DEFAULT_ENABLED: frozenset[AlertKind] = frozenset(AlertKind) - {AlertKind.ROLLOUT_COMPLETED}
RESOURCES = ("pods", "nodes", "deployments")

CRASH_LOOP_REASON = "CrashLoopBackOff"
OOM_REASON = "OOMKilled"
IMAGE_PULL_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
CONFIG_ERROR_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})
NOT_READY_STATUSES = frozenset({"False", "Unknown"})
RECENT_TERMINATION = timedelta(minutes=10)

SEVERITY = {
    AlertKind.CRASH_LOOP: Severity.CRITICAL,
    AlertKind.OOM_KILLED: Severity.CRITICAL,
    AlertKind.IMAGE_PULL: Severity.WARNING,
    AlertKind.CONFIG_ERROR: Severity.WARNING,
    AlertKind.EVICTED: Severity.WARNING,
    AlertKind.NODE_NOT_READY: Severity.CRITICAL,
    AlertKind.ROLLOUT_FAILED: Severity.CRITICAL,
    AlertKind.ROLLOUT_COMPLETED: Severity.INFO,
}


# ---------------------------------------------------------------- junk-proof reading


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _old(value: object) -> KubeObject | None:
    """An old object we cannot read tells us nothing: treat it as first sight."""
    return value if isinstance(value, dict) else None


def _metadata(obj: KubeObject) -> dict[str, Any]:
    return _dict(obj.get("metadata"))


def _status(obj: KubeObject) -> dict[str, Any]:
    return _dict(obj.get("status"))


def _name(obj: KubeObject) -> str:
    return _text(_metadata(obj).get("name"))


def _namespace(obj: KubeObject) -> str:
    return _text(_metadata(obj).get("namespace"))


def _labels(obj: KubeObject) -> dict[str, str]:
    labels = _metadata(obj).get("labels")
    if not isinstance(labels, dict):
        return {}
    return {key: value for key, value in labels.items() if isinstance(key, str) and isinstance(value, str)}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------- subjects


@dataclass(frozen=True)
class _Subject:
    """Who a finding is about; builds findings with the shared fields filled in."""

    cluster: str
    namespace: str
    workload: Workload
    kind: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    now: datetime | None = None

    def finding(
        self,
        kind: AlertKind,
        reason: str,
        message: str = "",
        *,
        container: str | None = None,
        exit_code: int | None = None,
        restart_count: int | None = None,
    ) -> Finding:
        return Finding(
            kind=kind,
            severity=SEVERITY[kind],
            cluster=self.cluster,
            namespace=self.namespace,
            workload=self.workload,
            subject_kind=self.kind,
            subject=self.name,
            reason=reason,
            message=message,
            container=container,
            exit_code=exit_code,
            restart_count=restart_count,
            labels=self.labels,
            observed_at=self.now,
        )


def _node_subject(node: KubeObject, cluster: str, now: datetime | None) -> _Subject:
    name = _name(node)
    return _Subject(cluster, "", Workload("Node", name), "Node", name, _labels(node), now)


def _deployment_subject(deployment: KubeObject, cluster: str, now: datetime | None) -> _Subject:
    name = _name(deployment)
    return _Subject(
        cluster,
        _namespace(deployment),
        Workload("Deployment", name),
        "Deployment",
        name,
        _labels(deployment),
        now,
    )


# ---------------------------------------------------------------- containers


class _Container:
    """One entry of containerStatuses/initContainerStatuses, read defensively.

    ``clean``: its ``state`` is absent or a dict of dicts, so the formatting helpers
    can read it as is (see :func:`pod_healthy`).
    """

    __slots__ = (
        "clean",
        "last_terminated",
        "name",
        "restart_count",
        "running",
        "terminated",
        "waiting",
        "waiting_message",
        "waiting_reason",
    )

    def __init__(self, raw: Mapping[str, Any]) -> None:
        state = raw.get("state")
        if isinstance(state, dict):
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            self.clean = all(isinstance(value, dict) for value in state.values())
            self.running = isinstance(state.get("running"), dict)
        else:
            waiting = terminated = None
            self.clean = state is None
            self.running = False
        name = raw.get("name")
        self.name = name if isinstance(name, str) else ""
        if isinstance(waiting, dict):
            self.waiting = True
            self.waiting_reason = _text(waiting.get("reason"))
            self.waiting_message = _text(waiting.get("message"))
        else:
            self.waiting = False
            self.waiting_reason = self.waiting_message = ""
        self.terminated: dict[str, Any] = terminated if isinstance(terminated, dict) else {}
        last = raw.get("lastState")
        last_terminated = last.get("terminated") if isinstance(last, dict) else None
        self.last_terminated: dict[str, Any] = last_terminated if isinstance(last_terminated, dict) else {}
        count = raw.get("restartCount")
        self.restart_count: int = count if type(count) is int else (_int(count) or 0)

    @property
    def label(self) -> str | None:
        return self.name or None

    @property
    def crash_looping(self) -> bool:
        return self.waiting_reason == CRASH_LOOP_REASON

    @property
    def last_run_oom_killed(self) -> bool:
        return self.last_terminated.get("reason") == OOM_REASON

    def oom_kills(self) -> list[dict[str, Any]]:
        """OOMKilled terminations visible in this status, newest first."""
        return [term for term in (self.terminated, self.last_terminated) if term.get("reason") == OOM_REASON]

    def down_after_oom(self) -> bool:
        """Down right now because of an OOM kill (terminated by it, or waiting to restart after it)."""
        return self.terminated.get("reason") == OOM_REASON or (
            self.waiting and not self.running and self.last_run_oom_killed
        )

    def termination_ids(self) -> set[tuple[str, str]]:
        return {ident for ident in map(_termination_id, (self.terminated, self.last_terminated)) if ident}


def _termination_id(terminated: Mapping[str, Any]) -> tuple[str, str] | None:
    ident = (_text(terminated.get("containerID")), _text(terminated.get("finishedAt")))
    return ident if any(ident) else None


def _containers(pod: KubeObject | None) -> dict[str, _Container]:
    """Init containers then app containers, by name (the first of a duplicated name wins)."""
    if pod is None:
        return {}
    state = pod.get("status")
    if not isinstance(state, dict):
        return {}
    found: dict[str, _Container] = {}
    for key in ("initContainerStatuses", "containerStatuses"):
        raws = state.get(key)
        if not isinstance(raws, list):
            continue
        for raw in raws:
            if isinstance(raw, dict):
                view = _Container(raw)
                found.setdefault(view.name, view)
    return found


_Pairs = list[tuple["_Container | None", _Container]]


def _pair(before: dict[str, _Container], current: dict[str, _Container]) -> _Pairs:
    return [(before.get(name), view) for name, view in current.items()]


def _pairs(old: KubeObject | None, new: KubeObject) -> _Pairs:
    return _pair(_containers(old), _containers(new))


class _LazySubject:
    """The pod's subject, built once and only when some detector finds something."""

    __slots__ = ("_cluster", "_now", "_owners", "_pod", "_subject", "_workload")

    def __init__(
        self,
        pod: KubeObject,
        cluster: str,
        now: datetime,
        owners: OwnerResolver,
        workload: Workload | None = None,
    ) -> None:
        self._pod, self._cluster, self._now, self._owners = pod, cluster, now, owners
        self._workload = workload
        self._subject: _Subject | None = None

    def get(self) -> _Subject:
        if self._subject is None:
            pod = self._pod
            workload = self._workload or self._owners.workload_of(pod)
            self._subject = _Subject(
                self._cluster, _namespace(pod), workload, "Pod", _name(pod), _labels(pod), self._now
            )
        return self._subject


# ---------------------------------------------------------------- pod detectors
#
# Each detector has a private form working on already-parsed container pairs, so
# that ``observe`` parses a pod's containers once per event and shares them; the
# public ``detect_*`` functions parse and delegate.


def _crash_looping(container: _Container, oom_takes_precedence: bool) -> bool:
    return container.crash_looping and not (oom_takes_precedence and container.last_run_oom_killed)


def _crash_loop_findings(
    pairs: _Pairs, first_sight: bool, subject: _LazySubject, oom_takes_precedence: bool
) -> list[Finding]:
    findings: list[Finding] = []
    for before, current in pairs:
        if not _crash_looping(current, oom_takes_precedence):
            continue
        if not (
            first_sight
            or before is None
            or not before.crash_looping
            or current.restart_count > before.restart_count
        ):
            continue
        last = current.last_terminated
        findings.append(
            subject.get().finding(
                AlertKind.CRASH_LOOP,
                _text(last.get("reason")) or CRASH_LOOP_REASON,
                current.waiting_message,
                container=current.label,
                exit_code=_int(last.get("exitCode")),
                restart_count=current.restart_count,
            )
        )
    return findings


def detect_crash_loop(
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver = DEFAULT_OWNERS,
    oom_takes_precedence: bool = True,
) -> tuple[Finding, ...]:
    """A container entered CrashLoopBackOff, or crashed again while in it (restartCount went up).

    With ``oom_takes_precedence`` a crash loop caused by an OOM kill is left to
    :func:`detect_oom_killed`.
    """
    if not isinstance(new, dict):
        return ()
    old = _old(old)
    subject = _LazySubject(new, cluster, now, owners)
    return tuple(_crash_loop_findings(_pairs(old, new), old is None, subject, oom_takes_precedence))


def _finished_recently(terminated: Mapping[str, Any], now: datetime) -> bool:
    finished = parse_time(terminated.get("finishedAt"))
    return finished is None or _aware(now) - finished <= RECENT_TERMINATION


def _new_oom_kill(before: _Container | None, current: _Container, now: datetime) -> dict[str, Any] | None:
    kills = current.oom_kills()
    if not kills:
        return None
    if before is None:
        # Nothing to compare with: report it if it still matters now.
        newest = kills[0]
        return newest if current.down_after_oom() or _finished_recently(newest, now) else None
    seen = before.termination_ids()
    for kill in kills:
        ident = _termination_id(kill)
        if ident is None:
            if current.restart_count > before.restart_count or not before.oom_kills():
                return kill
        elif ident not in seen:
            return kill
    return None


def _oom_findings(pairs: _Pairs, subject: _LazySubject, now: datetime) -> list[Finding]:
    findings: list[Finding] = []
    for before, current in pairs:
        kill = _new_oom_kill(before, current, now)
        if kill is None:
            continue
        findings.append(
            subject.get().finding(
                AlertKind.OOM_KILLED,
                OOM_REASON,
                _text(kill.get("message")) or current.waiting_message,
                container=current.label,
                exit_code=_int(kill.get("exitCode")),
                restart_count=current.restart_count,
            )
        )
    return findings


def detect_oom_killed(
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver = DEFAULT_OWNERS,
) -> tuple[Finding, ...]:
    """A container was OOMKilled (``state.terminated`` or ``lastState.terminated``) and we had not seen that kill."""
    if not isinstance(new, dict):
        return ()
    old = _old(old)
    return tuple(_oom_findings(_pairs(old, new), _LazySubject(new, cluster, now, owners), now))


def _waiting_findings(
    kind: AlertKind, reasons: frozenset[str], pairs: _Pairs, first_sight: bool, subject: _LazySubject
) -> list[Finding]:
    findings: list[Finding] = []
    for before, current in pairs:
        if current.waiting_reason not in reasons:
            continue
        if not first_sight and before is not None and before.waiting_reason in reasons:
            continue
        findings.append(
            subject.get().finding(
                kind,
                current.waiting_reason,
                current.waiting_message,
                container=current.label,
                restart_count=current.restart_count,
            )
        )
    return findings


def _detect_waiting(
    kind: AlertKind,
    reasons: frozenset[str],
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver,
) -> tuple[Finding, ...]:
    if not isinstance(new, dict):
        return ()
    old = _old(old)
    subject = _LazySubject(new, cluster, now, owners)
    return tuple(_waiting_findings(kind, reasons, _pairs(old, new), old is None, subject))


def detect_image_pull(
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver = DEFAULT_OWNERS,
) -> tuple[Finding, ...]:
    """A container started waiting on ImagePullBackOff / ErrImagePull / InvalidImageName.

    Flipping between those reasons (the kubelet alternates ErrImagePull and
    ImagePullBackOff) is not new.
    """
    return _detect_waiting(
        AlertKind.IMAGE_PULL, IMAGE_PULL_REASONS, old, new, cluster=cluster, now=now, owners=owners
    )


def detect_config_error(
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver = DEFAULT_OWNERS,
) -> tuple[Finding, ...]:
    """A container started waiting on CreateContainerConfigError / CreateContainerError."""
    return _detect_waiting(
        AlertKind.CONFIG_ERROR, CONFIG_ERROR_REASONS, old, new, cluster=cluster, now=now, owners=owners
    )


def _evicted(pod: KubeObject | None) -> bool:
    if pod is None:
        return False
    state = _status(pod)
    return state.get("phase") == "Failed" and state.get("reason") == "Evicted"


def _evicted_findings(new: KubeObject, old: KubeObject | None, subject: _LazySubject) -> list[Finding]:
    if not _evicted(new) or _evicted(old):
        return []
    return [subject.get().finding(AlertKind.EVICTED, "Evicted", _text(_status(new).get("message")))]


def detect_evicted(
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver = DEFAULT_OWNERS,
) -> tuple[Finding, ...]:
    """The kubelet evicted the pod (phase Failed, reason Evicted)."""
    if not isinstance(new, dict):
        return ()
    return tuple(_evicted_findings(new, _old(old), _LazySubject(new, cluster, now, owners)))


def _pod_active(
    pod: KubeObject, containers: dict[str, _Container], oom_takes_precedence: bool
) -> set[AlertKind]:
    active: set[AlertKind] = set()
    for current in containers.values():
        if _crash_looping(current, oom_takes_precedence):
            active.add(AlertKind.CRASH_LOOP)
        if current.down_after_oom():
            active.add(AlertKind.OOM_KILLED)
        if current.waiting_reason in IMAGE_PULL_REASONS:
            active.add(AlertKind.IMAGE_PULL)
        if current.waiting_reason in CONFIG_ERROR_REASONS:
            active.add(AlertKind.CONFIG_ERROR)
    if _evicted(pod):
        active.add(AlertKind.EVICTED)
    return active


def _readable_pod(pod: KubeObject) -> KubeObject:
    """The pod with container states the formatting helpers can read without tripping on junk."""

    def clean(raw: dict[str, Any]) -> dict[str, Any]:
        state = raw.get("state")
        kept = (
            {key: value for key, value in state.items() if isinstance(value, dict)}
            if isinstance(state, dict)
            else {}
        )
        return {**raw, "state": kept}

    return {
        "metadata": _metadata(pod),
        "spec": _dict(pod.get("spec")),
        "status": {
            **_status(pod),
            "containerStatuses": [clean(raw) for raw in container_statuses(pod)],
            "initContainerStatuses": [clean(raw) for raw in init_container_statuses(pod)],
        },
    }


def _all_clean(pod: KubeObject) -> bool:
    """Every container state is absent or a dict of dicts (then :func:`_readable_pod` changes nothing
    the formatting helpers read)."""
    for raw in (*init_container_statuses(pod), *container_statuses(pod)):
        state = raw.get("state")
        if state is not None and not (
            isinstance(state, dict) and all(isinstance(value, dict) for value in state.values())
        ):
            return False
    return True


def _pod_healthy(pod: KubeObject, clean: bool) -> bool:
    if _status(pod).get("phase") == "Failed":
        return False
    return pod_is_healthy(pod if clean else _readable_pod(pod))


def pod_healthy(pod: KubeObject) -> bool:
    """Running with every container ready, or Succeeded/Completed; never when Failed (e.g. Evicted)."""
    return _pod_healthy(pod, _all_clean(pod))


# ---------------------------------------------------------------- nodes


def _node_not_ready(node: KubeObject | None) -> dict[str, Any] | None:
    """The Ready condition when it says False or Unknown."""
    if node is None:
        return None
    ready = condition(node, "Ready")
    if ready is None or ready.get("status") not in NOT_READY_STATUSES:
        return None
    return ready


def _node_ready(node: KubeObject) -> bool:
    ready = condition(node, "Ready")
    return ready is not None and ready.get("status") == "True"


def detect_node_not_ready(
    old: KubeObject | None, new: KubeObject | None, *, cluster: str, now: datetime
) -> tuple[Finding, ...]:
    """The node's Ready condition went False (KubeletNotReady) or Unknown (NodeStatusUnknown)."""
    if not isinstance(new, dict):
        return ()
    ready = _node_not_ready(new)
    if ready is None or _node_not_ready(_old(old)) is not None:
        return ()
    reason = _text(ready.get("reason")) or AlertKind.NODE_NOT_READY.value
    return (
        _node_subject(new, cluster, now).finding(
            AlertKind.NODE_NOT_READY, reason, _text(ready.get("message"))
        ),
    )


# ---------------------------------------------------------------- deployments


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
    spec = _dict(deployment.get("spec"))
    if "replicas" not in spec:
        return 1  # the API server's default
    desired = _int(spec.get("replicas"))
    return -1 if desired is None else desired  # unreadable: never "complete"


def _counter(deployment: KubeObject, key: str) -> int:
    return _int(_status(deployment).get(key)) or 0


def _generation_observed(deployment: KubeObject) -> bool:
    generation = _int(_metadata(deployment).get("generation")) or 0
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


def detect_rollout_failed(
    old: KubeObject | None, new: KubeObject | None, *, cluster: str, now: datetime
) -> tuple[Finding, ...]:
    """Progressing=False with ProgressDeadlineExceeded appeared (conditions are found by type)."""
    if not isinstance(new, dict):
        return ()
    stuck = _rollout_stuck(new)
    if stuck is None or _rollout_stuck(_old(old)) is not None:
        return ()
    subject = _deployment_subject(new, cluster, now)
    return (
        subject.finding(AlertKind.ROLLOUT_FAILED, "ProgressDeadlineExceeded", _text(stuck.get("message"))),
    )


def detect_rollout_completed(
    old: KubeObject | None, new: KubeObject | None, *, cluster: str, now: datetime
) -> tuple[Finding, ...]:
    """A rollout that was under way in ``old`` is fully done in ``new``. Never on first sight."""
    old = _old(old)
    if not isinstance(new, dict) or old is None:
        return ()
    if not (_rolling_out(old) and _rolled_out(new)):
        return ()
    progressing = condition(new, "Progressing") or {}
    subject = _deployment_subject(new, cluster, now)
    return (
        subject.finding(
            AlertKind.ROLLOUT_COMPLETED, "NewReplicaSetAvailable", _text(progressing.get("message"))
        ),
    )


# ---------------------------------------------------------------- observe


def _keep(findings: tuple[Finding, ...], enabled: Container[AlertKind]) -> tuple[Finding, ...]:
    return tuple(finding for finding in findings if finding.kind in enabled)


def _observe_pod(
    old: KubeObject | None,
    new: KubeObject,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver,
    enabled: Container[AlertKind],
) -> Observation:
    oom_first = AlertKind.OOM_KILLED in enabled
    workload = owners.workload_of(new)
    current = _containers(new)
    findings: list[Finding] = []
    # Same status as before: no container or phase changed, so nothing is new (every
    # detector compares status only); only the levels below need computing.
    if old is None or old.get("status") != new.get("status"):
        pairs = _pair(_containers(old), current)
        first_sight = old is None
        subject = _LazySubject(new, cluster, now, owners, workload)
        if oom_first:
            findings += _oom_findings(pairs, subject, now)
        if AlertKind.CRASH_LOOP in enabled:
            findings += _crash_loop_findings(pairs, first_sight, subject, oom_first)
        if AlertKind.IMAGE_PULL in enabled:
            findings += _waiting_findings(
                AlertKind.IMAGE_PULL, IMAGE_PULL_REASONS, pairs, first_sight, subject
            )
        if AlertKind.CONFIG_ERROR in enabled:
            findings += _waiting_findings(
                AlertKind.CONFIG_ERROR, CONFIG_ERROR_REASONS, pairs, first_sight, subject
            )
        if AlertKind.EVICTED in enabled:
            findings += _evicted_findings(new, old, subject)
    clean = all(view.clean for view in current.values()) and (
        len(current) == _status_count(new) or _all_clean(new)
    )
    return Observation(
        cluster=cluster,
        subject_kind="Pod",
        namespace=_namespace(new),
        name=_name(new),
        workload=workload,
        healthy=_pod_healthy(new, clean),
        findings=tuple(findings),
        active=frozenset(kind for kind in _pod_active(new, current, oom_first) if kind in enabled),
    )


def _status_count(pod: KubeObject) -> int:
    """How many container status entries the pod lists (duplicated names included)."""
    state = _status(pod)
    return sum(
        len(raws)
        for raws in (state.get("initContainerStatuses"), state.get("containerStatuses"))
        if isinstance(raws, list)
    )


def _observe_node(
    old: KubeObject | None, new: KubeObject, *, cluster: str, now: datetime, enabled: Container[AlertKind]
) -> Observation:
    subject = _node_subject(new, cluster, now)
    active = {AlertKind.NODE_NOT_READY} if _node_not_ready(new) is not None else set()
    return Observation(
        cluster=cluster,
        subject_kind="Node",
        namespace="",
        name=subject.name,
        workload=subject.workload,
        healthy=_node_ready(new),
        findings=_keep(detect_node_not_ready(old, new, cluster=cluster, now=now), enabled),
        active=frozenset(kind for kind in active if kind in enabled),
    )


def _observe_deployment(
    old: KubeObject | None, new: KubeObject, *, cluster: str, now: datetime, enabled: Container[AlertKind]
) -> Observation:
    subject = _deployment_subject(new, cluster, now)
    stuck = _rollout_stuck(new) is not None
    findings: list[Finding] = []
    if AlertKind.ROLLOUT_FAILED in enabled:
        findings += detect_rollout_failed(old, new, cluster=cluster, now=now)
    if AlertKind.ROLLOUT_COMPLETED in enabled:
        findings += detect_rollout_completed(old, new, cluster=cluster, now=now)
    return Observation(
        cluster=cluster,
        subject_kind="Deployment",
        namespace=subject.namespace,
        name=subject.name,
        workload=subject.workload,
        healthy=not stuck,
        findings=tuple(findings),
        active=frozenset({AlertKind.ROLLOUT_FAILED} if stuck and AlertKind.ROLLOUT_FAILED in enabled else ()),
    )


def _deleted(resource: str, old: KubeObject | None, cluster: str, owners: OwnerResolver) -> Observation:
    gone = old or {}
    if resource == "pods":
        subject = _Subject(cluster, _namespace(gone), owners.workload_of(gone), "Pod", _name(gone))
    elif resource == "nodes":
        subject = _node_subject(gone, cluster, None)
    else:
        subject = _deployment_subject(gone, cluster, None)
    return Observation(
        cluster=cluster,
        subject_kind=subject.kind,
        namespace=subject.namespace,
        name=subject.name,
        workload=subject.workload,
        healthy=True,
        deleted=True,
    )


def observe(
    resource: str,
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver = DEFAULT_OWNERS,
    enabled: Container[AlertKind] = DEFAULT_ENABLED,
) -> Observation:
    """What one watch event on ``resource`` ("pods" | "nodes" | "deployments") says.

    ``old`` None: first sight, every enabled problem present now is a finding.
    ``new`` None: deleted (healthy, no findings). Unreadable parts of either object
    are treated as absent; only an unknown ``resource`` raises (ValueError).
    """
    if resource not in RESOURCES:
        raise ValueError(f"unknown resource {resource!r}; expected one of {', '.join(RESOURCES)}")
    before = _old(old)
    if new is None:
        return _deleted(resource, before, cluster, owners)
    current: KubeObject = new if isinstance(new, dict) else {}
    if resource == "pods":
        return _observe_pod(before, current, cluster=cluster, now=now, owners=owners, enabled=enabled)
    if resource == "nodes":
        return _observe_node(before, current, cluster=cluster, now=now, enabled=enabled)
    return _observe_deployment(before, current, cluster=cluster, now=now, enabled=enabled)
