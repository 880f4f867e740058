"""Pod detectors (CrashLoopBackOff, OOMKilled, image pulls, config errors, evictions) and pod health.

Choices the spec left open:

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
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from opsbot.alerts.detectors.containers import CRASH_LOOP_REASON, OOM_REASON, ContainerView, termination_id
from opsbot.alerts.detectors.evidence import Since, condition_since, crash_since, waiting_since
from opsbot.alerts.detectors.facts import pod_facts
from opsbot.alerts.detectors.readers import as_dict, aware, integer, metadata, moment_of, status, text
from opsbot.alerts.detectors.spec import Change, Symptom
from opsbot.alerts.findings import AlertKind
from opsbot.core.kubeobjects import container_statuses, init_container_statuses, parse_time, pod_is_healthy
from opsbot.ports import KubeObject

IMAGE_PULL_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
CONFIG_ERROR_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})
RECENT_TERMINATION = timedelta(minutes=10)


# ---------------------------------------------------------------- CrashLoopBackOff


def _oom_takes_precedence(change: Change) -> bool:
    return AlertKind.OOM_KILLED in change.enabled


def _crash_looping(container: ContainerView, oom_takes_precedence: bool) -> bool:
    return container.crash_looping and not (oom_takes_precedence and container.last_run_oom_killed)


def detect_crash_loop(change: Change) -> list[Symptom]:
    """A container entered CrashLoopBackOff, or crashed again while in it (restartCount went up).

    While OOMKilled alerts are enabled, a crash loop caused by an OOM kill is left to them.
    """
    oom_first = _oom_takes_precedence(change)
    found: list[Symptom] = []
    for before, current in change.pairs:
        if not _crash_looping(current, oom_first):
            continue
        if not (
            change.first_sight
            or before is None
            or not before.crash_looping
            or current.restart_count > before.restart_count
        ):
            continue
        last = current.last_terminated
        since = crash_since(change.new, before, current, last, first_sight=change.first_sight)
        found.append(
            Symptom(
                text(last.get("reason")) or CRASH_LOOP_REASON,
                current.waiting_message,
                container=current.label,
                exit_code=integer(last.get("exitCode")),
                restart_count=current.restart_count,
                **_when(since),
                facts=pod_facts(change.new, current.label),
            )
        )
    return found


def _when(since: Since | None) -> dict[str, Any]:
    return {"since": since.at, "since_exact": since.exact} if since else {}


def crash_looping_now(change: Change) -> bool:
    oom_first = _oom_takes_precedence(change)
    return any(_crash_looping(current, oom_first) for current in change.containers.values())


# ---------------------------------------------------------------- OOMKilled


def _finished_recently(terminated: Mapping[str, Any], now: datetime) -> bool:
    finished = parse_time(terminated.get("finishedAt"))
    return finished is None or aware(now) - finished <= RECENT_TERMINATION


def _new_oom_kill(
    before: ContainerView | None, current: ContainerView, now: datetime
) -> dict[str, Any] | None:
    kills = current.oom_kills()
    if not kills:
        return None
    if before is None:
        # Nothing to compare with: report it if it still matters now.
        newest = kills[0]
        return newest if current.down_after_oom() or _finished_recently(newest, now) else None
    seen = before.termination_ids()
    for kill in kills:
        ident = termination_id(kill)
        if ident is None:
            if current.restart_count > before.restart_count or not before.oom_kills():
                return kill
        elif ident not in seen:
            return kill
    return None


def detect_oom_killed(change: Change) -> list[Symptom]:
    """A container was OOMKilled (``state.terminated`` or ``lastState.terminated``) and we had not seen that kill."""
    found: list[Symptom] = []
    for before, current in change.pairs:
        kill = _new_oom_kill(before, current, change.now)
        if kill is None:
            continue
        seen = before.termination_ids() if before is not None else set()
        kills = [k for k in current.oom_kills() if termination_id(k) is None or termination_id(k) not in seen]
        earliest = kills[-1] if kills else kill
        since = crash_since(change.new, before, current, earliest, first_sight=change.first_sight)
        found.append(
            Symptom(
                OOM_REASON,
                text(kill.get("message")) or current.waiting_message,
                container=current.label,
                exit_code=integer(kill.get("exitCode")),
                restart_count=current.restart_count,
                **_when(since),
                facts=pod_facts(change.new, current.label, memory=True),
                failures=max(len(kills), 1),
            )
        )
    return found


def oom_killed_now(change: Change) -> bool:
    return any(current.down_after_oom() for current in change.containers.values())


# ---------------------------------------------------------------- waiting: image pulls, config errors


def _started_waiting(reasons: frozenset[str], change: Change) -> list[Symptom]:
    found: list[Symptom] = []
    for before, current in change.pairs:
        if current.waiting_reason not in reasons:
            continue
        if not change.first_sight and before is not None and before.waiting_reason in reasons:
            continue
        since = waiting_since(change.new, before, current, first_sight=change.first_sight, now=change.now)
        found.append(
            Symptom(
                current.waiting_reason,
                current.waiting_message,
                container=current.label,
                restart_count=current.restart_count,
                **_when(since),
                facts=pod_facts(change.new, current.label),
            )
        )
    return found


def _waiting_now(reasons: frozenset[str], change: Change) -> bool:
    return any(current.waiting_reason in reasons for current in change.containers.values())


def detect_image_pull(change: Change) -> list[Symptom]:
    """A container started waiting on ImagePullBackOff / ErrImagePull / InvalidImageName.

    Flipping between those reasons (the kubelet alternates ErrImagePull and
    ImagePullBackOff) is not new.
    """
    return _started_waiting(IMAGE_PULL_REASONS, change)


def image_pull_failing_now(change: Change) -> bool:
    return _waiting_now(IMAGE_PULL_REASONS, change)


def detect_config_error(change: Change) -> list[Symptom]:
    """A container started waiting on CreateContainerConfigError / CreateContainerError."""
    return _started_waiting(CONFIG_ERROR_REASONS, change)


def config_error_now(change: Change) -> bool:
    return _waiting_now(CONFIG_ERROR_REASONS, change)


# ---------------------------------------------------------------- Evicted


def _evicted(pod: KubeObject | None) -> bool:
    if pod is None:
        return False
    state = status(pod)
    return state.get("phase") == "Failed" and state.get("reason") == "Evicted"


def detect_evicted(change: Change) -> list[Symptom]:
    """The kubelet evicted the pod (phase Failed, reason Evicted)."""
    if not _evicted(change.new) or _evicted(change.old):
        return []
    state = status(change.new)
    when = condition_since(change.new, "DisruptionTarget") or _last_finished(change)
    return [
        Symptom(
            "Evicted",
            text(state.get("message")),
            since=when,
            since_exact=when is not None,
            facts=pod_facts(change.new, None),
        )
    ]


def _last_finished(change: Change) -> datetime | None:
    finished = [moment_of(view.terminated.get("finishedAt")) for view in change.containers.values()]
    known = [moment for moment in finished if moment is not None]
    return max(known) if known else None


def evicted_now(change: Change) -> bool:
    return _evicted(change.new)


# ---------------------------------------------------------------- health


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
        "metadata": metadata(pod),
        "spec": as_dict(pod.get("spec")),
        "status": {
            **status(pod),
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


def _status_count(pod: KubeObject) -> int:
    """How many container status entries the pod lists (duplicated names included)."""
    state = status(pod)
    return sum(
        len(raws)
        for raws in (state.get("initContainerStatuses"), state.get("containerStatuses"))
        if isinstance(raws, list)
    )


def _pod_healthy(pod: KubeObject, clean: bool) -> bool:
    if status(pod).get("phase") == "Failed":
        return False
    return pod_is_healthy(pod if clean else _readable_pod(pod))


def pod_healthy(pod: KubeObject) -> bool:
    """Running with every container ready, or Succeeded/Completed; never when Failed (e.g. Evicted)."""
    return _pod_healthy(pod, _all_clean(pod))


def healthy(change: Change) -> bool:
    """:func:`pod_healthy` of the new pod, reusing its parsed containers to skip the junk check."""
    current = change.containers
    clean = all(view.clean for view in current.values()) and (
        len(current) == _status_count(change.new) or _all_clean(change.new)
    )
    return _pod_healthy(change.new, clean)
