"""Since when a problem holds, from the evidence the object itself carries (pure).

A detector that sees a problem appear between ``old`` and ``new`` knows when it began
(the failure's own timestamp). One that finds it already there — opsbot just started, or
relisted — must not claim the problem began then. What objects carry:

* a condition's ``lastTransitionTime``: when it took its current status (a node went
  NotReady, a pod became unschedulable, a rollout ran past its deadline). Exact.
* a container's last termination (``startedAt``/``finishedAt``), its ``restartCount``
  and the kubelet's back-off (``back-off 5m0s restarting failed container``). The
  kubelet doubles the back-off after each crash of a streak (10s, 20s, … capped at 5m),
  so a 5-minute back-off means at least five earlier waits (10+20+40+80+160 s) before the
  latest run began: the crashes started *at least* that long before. Bounded by the
  restart count (no more waits than restarts) and by the pod's own start.

:class:`Since` says which of the two it is; the card says "since" or "at least since".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opsbot.alerts.detectors.containers import ContainerView
from opsbot.alerts.detectors.readers import moment_of, status
from opsbot.core.kubeobjects import condition
from opsbot.ports import KubeObject

BACKOFF_START = 10  # seconds: the kubelet's first crash back-off
BACKOFF_CAP = 300  # seconds: its maximum
_BACKOFF = re.compile(r"back-off ((?:\d+h)?(?:\d+m)?(?:\d+(?:\.\d+)?s)?) restarting")
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


@dataclass(frozen=True, slots=True)
class Since:
    at: datetime
    exact: bool  # False: the problem held by then, it may have begun earlier


def condition_since(obj: KubeObject | None, kind: str) -> datetime | None:
    """When the condition ``kind`` took its current status (``lastTransitionTime``)."""
    found = condition(obj, kind) if obj is not None else None
    return moment_of(found.get("lastTransitionTime")) if found else None


def from_condition(obj: KubeObject | None, kind: str) -> Since | None:
    moment = condition_since(obj, kind)
    return Since(moment, True) if moment else None


def backoff_seconds(message: str) -> int | None:
    """The kubelet's current back-off from its waiting message (``back-off 2m40s restarting …``)."""
    found = _BACKOFF.search(message)
    if not found or not found.group(1):
        return None
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    return int(sum(float(value) * units[unit] for value, unit in _GO_DURATION.findall(found.group(1))))


def earlier_waits(backoff: int | None, restarts: int) -> timedelta:
    """The least time the kubelet waited in this crash streak before its latest run."""
    if not backoff:
        return timedelta(0)
    waits, step = 0, BACKOFF_START
    while step < backoff and step < BACKOFF_CAP:
        waits += 1
        step *= 2
    waits = min(waits, max(restarts - 1, 0))
    return timedelta(seconds=sum(min(BACKOFF_START * 2**index, BACKOFF_CAP) for index in range(waits)))


def pod_started(pod: KubeObject) -> datetime | None:
    return moment_of(status(pod).get("startTime"))


def _not_before(moment: datetime, pod: KubeObject) -> datetime:
    """``moment``, unless the pod started later: a problem of the pod cannot predate it."""
    started = pod_started(pod)
    return started if started is not None and started > moment else moment


def crash_since(
    pod: KubeObject,
    before: ContainerView | None,
    current: ContainerView,
    termination: Mapping[str, Any],
    *,
    first_sight: bool,
) -> Since | None:
    """Since when a container has been crashing (or getting OOM-killed), ``termination`` being
    the failure reported.

    Seen happening (the old status showed the container running or just waiting, not in a
    crash loop) the failure's ``finishedAt`` is when it began. Found already there, the
    latest run's start minus the back-off waits its streak must have taken.
    """
    finished = moment_of(termination.get("finishedAt"))
    started = moment_of(termination.get("startedAt"))
    if not first_sight and before is not None and not before.crash_looping and not before.down_after_oom():
        return Since(finished, True) if finished else None
    if current.restart_count <= 0:
        return Since(finished, True) if finished else None
    anchor = started or finished
    if anchor is None:
        return None
    waited = earlier_waits(backoff_seconds(current.waiting_message), current.restart_count)
    return Since(_not_before(anchor - waited, pod), False)


def waiting_since(
    pod: KubeObject, before: ContainerView | None, current: ContainerView, *, first_sight: bool, now: datetime
) -> Since | None:
    """Since when a container has been stuck waiting (image pull, config error).

    A container that never ran has been waiting since the pod was scheduled; one seen
    starting to wait, since now. Otherwise nothing tells.
    """
    if not first_sight and before is not None:
        return Since(now, True)
    if current.restart_count == 0 and not current.last_terminated:
        scheduled = condition_since(pod, "PodScheduled") or pod_started(pod)
        return Since(scheduled, True) if scheduled else None
    return None


def earliest(*candidates: Since | None) -> Since | None:
    found = [since for since in candidates if since is not None]
    return min(found, key=lambda since: since.at) if found else None
