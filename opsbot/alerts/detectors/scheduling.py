"""Pods that never get going: unschedulable, or stuck creating their containers (levels).

Both are normal for a moment (the scheduler waits for a node to scale up, an image takes
a while): they alert only once they have lasted their threshold, counted from the pod's
own evidence, the ``PodScheduled`` condition's ``lastTransitionTime``:

* Unschedulable: ``PodScheduled=False`` with reason ``Unschedulable``; the scheduler's
  message says why (``0/3 nodes are available: 3 Insufficient cpu.``, taints, affinity).
* Stuck creating: scheduled, still ``Pending`` with a container waiting in
  ``ContainerCreating``/``PodInitializing``. Why is in the pod's Warning events
  (FailedMount, FailedAttachVolume, FailedCreatePodSandBox), which the incident's thread
  gathers and the card then quotes.
"""

from __future__ import annotations

from typing import Any

from opsbot.alerts.detectors.facts import pod_facts
from opsbot.alerts.detectors.readers import moment_of, status, text
from opsbot.alerts.detectors.spec import Change, Symptom
from opsbot.core.kubeobjects import condition
from opsbot.ports import KubeObject

CREATING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})


def _pending(pod: KubeObject) -> bool:
    return status(pod).get("phase") == "Pending"


def _unschedulable(pod: KubeObject) -> dict[str, Any] | None:
    if not _pending(pod):  # the cheap test first: most pods run
        return None
    scheduled = condition(pod, "PodScheduled")
    if scheduled is None:
        return None
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return scheduled
    return None


def detect_unschedulable(change: Change) -> list[Symptom]:
    """The scheduler finds no node for the pod (a level, see the module docstring)."""
    scheduled = _unschedulable(change.new)
    if scheduled is None:
        return []
    since = moment_of(scheduled.get("lastTransitionTime"))
    return [
        Symptom(
            "Unschedulable",
            text(scheduled.get("message")),
            since=since,
            since_exact=since is not None,
            facts=pod_facts(change.new, None),
        )
    ]


def unschedulable_now(change: Change) -> bool:
    return _unschedulable(change.new) is not None


def _creating(change: Change) -> str | None:
    """The first container still being created, when the pod is scheduled and Pending."""
    pod = change.new
    scheduled = condition(pod, "PodScheduled")
    if not _pending(pod) or scheduled is None or scheduled.get("status") != "True":
        return None
    for view in change.containers.values():
        if view.waiting_reason in CREATING_REASONS:
            return view.name
    return None


def detect_stuck_creating(change: Change) -> list[Symptom]:
    """Scheduled, but a container is still being created (a level, see the module docstring)."""
    container = _creating(change)
    if container is None:
        return []
    scheduled = condition(change.new, "PodScheduled") or {}
    since = moment_of(scheduled.get("lastTransitionTime"))
    return [
        Symptom(
            "ContainerCreating",
            "",
            container=container or None,
            since=since,
            since_exact=since is not None,
            facts=pod_facts(change.new, container or None),
        )
    ]


def stuck_creating_now(change: Change) -> bool:
    return _creating(change) is not None
