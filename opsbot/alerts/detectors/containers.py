"""A pod's container statuses, read defensively once per event and shared by the pod detectors.

Init containers are examined like app containers (``Init:ImagePullBackOff`` and
``Init:CrashLoopBackOff`` block a pod just as well); container names are unique
across both lists, so they are matched by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsbot.alerts.detectors.readers import integer, text
from opsbot.ports import KubeObject

CRASH_LOOP_REASON = "CrashLoopBackOff"
OOM_REASON = "OOMKilled"


class ContainerView:
    """One entry of containerStatuses/initContainerStatuses, read defensively.

    ``clean``: its ``state`` is absent or a dict of dicts, so the formatting helpers
    can read it as is (see ``pods.pod_healthy``).
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
            self.waiting_reason = text(waiting.get("reason"))
            self.waiting_message = text(waiting.get("message"))
        else:
            self.waiting = False
            self.waiting_reason = self.waiting_message = ""
        self.terminated: dict[str, Any] = terminated if isinstance(terminated, dict) else {}
        last = raw.get("lastState")
        last_terminated = last.get("terminated") if isinstance(last, dict) else None
        self.last_terminated: dict[str, Any] = last_terminated if isinstance(last_terminated, dict) else {}
        count = raw.get("restartCount")
        self.restart_count: int = count if type(count) is int else (integer(count) or 0)

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
        return {ident for ident in map(termination_id, (self.terminated, self.last_terminated)) if ident}


def termination_id(terminated: Mapping[str, Any]) -> tuple[str, str] | None:
    """What tells one termination from another: its containerID and finishedAt (None if neither)."""
    ident = (text(terminated.get("containerID")), text(terminated.get("finishedAt")))
    return ident if any(ident) else None


def containers(pod: KubeObject | None) -> dict[str, ContainerView]:
    """Init containers then app containers, by name (the first of a duplicated name wins)."""
    if pod is None:
        return {}
    state = pod.get("status")
    if not isinstance(state, dict):
        return {}
    found: dict[str, ContainerView] = {}
    for key in ("initContainerStatuses", "containerStatuses"):
        raws = state.get(key)
        if not isinstance(raws, list):
            continue
        for raw in raws:
            if isinstance(raw, dict):
                view = ContainerView(raw)
                found.setdefault(view.name, view)
    return found


Pairs = list[tuple[ContainerView | None, ContainerView]]
"""Each current container with its previous status (None when it is new, or on first sight)."""


def pair(before: dict[str, ContainerView], current: dict[str, ContainerView]) -> Pairs:
    return [(before.get(name), view) for name, view in current.items()]
