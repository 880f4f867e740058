"""Problems that hold but not yet for their threshold: what the pipeline looks at again, and when.

A detector with a threshold (a pod unschedulable for 5 minutes, a node cordoned for an
hour) reports a level; ``observe`` turns it into a finding once it has held long enough,
and until then into an ``Observation.waiting`` entry ``(kind, since, due)``. No watch
event may come at ``due`` (nothing changes on a pod that stays Pending), so the pipeline
keeps the object here and re-observes it on the tick that finds it due. Without
evidence of its own, a problem's ``since`` is when it was first seen, kept here too.

Pure bookkeeping, no clock: the caller passes ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from opsbot.alerts.findings import AlertKind, Observation
from opsbot.core.resources import ResourceName
from opsbot.ports import KubeObject

WaitingKey = tuple[str, ResourceName, str, str]  # cluster, resource, namespace, name


@dataclass(frozen=True)
class Waiting:
    resource: ResourceName
    obj: KubeObject  # the latest version seen
    first_seen: Mapping[AlertKind, datetime]
    due: datetime  # the earliest due of its kinds
    kinds: frozenset[AlertKind]


class WaitingList:
    def __init__(self) -> None:
        self._entries: dict[WaitingKey, Waiting] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def first_seen(self, key: WaitingKey) -> Mapping[AlertKind, datetime]:
        entry = self._entries.get(key)
        return entry.first_seen if entry is not None else {}

    def note(self, key: WaitingKey, obj: KubeObject | None, observation: Observation) -> None:
        """What one event said: keep the object while something of it waits, else forget it."""
        if obj is None or not observation.waiting:
            self._entries.pop(key, None)
            return
        self._entries[key] = Waiting(
            resource=key[1],
            obj=obj,
            first_seen={kind: since for kind, since, _due in observation.waiting},
            due=min(due for _kind, _since, due in observation.waiting),
            kinds=frozenset(kind for kind, _since, _due in observation.waiting),
        )

    def forget_cluster(self, cluster: str) -> None:
        """Another replica leads `cluster` now: nothing of it waits here any more."""
        self._entries = {key: entry for key, entry in self._entries.items() if key[0] != cluster}

    def due(self, now: datetime) -> list[tuple[WaitingKey, Waiting]]:
        """The entries whose time has come, earliest first."""
        ready = [(key, entry) for key, entry in self._entries.items() if entry.due <= now]
        return sorted(ready, key=lambda item: item[1].due)
