"""What a detector is, as data: :class:`DetectorSpec`, and what it reads and returns.

A detector is a pure function of one :class:`Change` (the old and new versions of
one object) returning the :class:`Symptom` s that *newly* appeared; its spec says
which kind of problem that is, how severe, on which resource, and how to tell that
the problem holds right now. ``observe`` turns symptoms into findings about the
object (cluster, namespace, workload, labels), so a detector never builds those.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from opsbot.alerts.detectors.containers import ContainerView, Pairs, containers, pair
from opsbot.alerts.findings import AlertKind, Severity
from opsbot.core.resources import ResourceName
from opsbot.ports import KubeObject

ContainerLog = Literal["previous", "current", "events"]


@dataclass(frozen=True)
class EventFilter:
    """Which Warning events become incidents (``alerts.events``): reasons and namespaces are
    globs; an empty ``reasons`` or ``namespaces`` means all."""

    reasons: tuple[str, ...] = ()
    exclude_reasons: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class DetectorOptions:
    """What the config says to the detectors: thresholds over the table's, the event filter."""

    thresholds: Mapping[AlertKind, timedelta] = field(default_factory=dict)
    events: EventFilter = EventFilter()


DEFAULT_OPTIONS = DetectorOptions()


class Change:
    """One watch event as the detectors of its resource read it.

    ``old`` is None on first sight (ADDED, a list at startup, or an old version we
    cannot read). What is parsed (a pod's containers) is parsed once and shared.
    """

    __slots__ = ("_containers", "_pairs", "enabled", "new", "now", "old", "options")

    def __init__(
        self,
        old: KubeObject | None,
        new: KubeObject,
        *,
        now: datetime,
        enabled: Container[AlertKind],
        options: DetectorOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.old = old
        self.new = new
        self.now = now
        self.enabled = enabled
        self.options = options
        self._containers: dict[str, ContainerView] | None = None
        self._pairs: Pairs | None = None

    @property
    def first_sight(self) -> bool:
        return self.old is None

    @property
    def containers(self) -> dict[str, ContainerView]:
        """The new pod's containers (init containers first), by name."""
        if self._containers is None:
            self._containers = containers(self.new)
        return self._containers

    @property
    def pairs(self) -> Pairs:
        """Each of the new pod's containers with its old status (None if unknown)."""
        if self._pairs is None:
            self._pairs = pair(containers(self.old), self.containers)
        return self._pairs


@dataclass(frozen=True, slots=True)
class Symptom:
    """What a detector saw; ``observe`` makes it a Finding of the detector's kind about the object."""

    reason: str  # as Kubernetes wrote it, e.g. "ErrImagePull"
    message: str = ""
    container: str | None = None
    exit_code: int | None = None
    restart_count: int | None = None
    since: datetime | None = None  # when it began, from the object's evidence (evidence.py)
    since_exact: bool = False
    facts: Mapping[str, str] = field(default_factory=dict)
    failures: int = 1
    novel: bool = False


Detect = Callable[[Change], Sequence[Symptom]]
"""What newly went wrong between ``old`` and ``new`` (an edge); for a detector with a
``threshold``, what holds on ``new`` (a level), ``since`` when (None: no evidence)."""

Holds = Callable[[Change], bool]
"""Whether the problem holds on ``new`` right now (a level)."""


def never(change: Change) -> bool:
    """``active`` of a problem that is an event, not a state (e.g. a completed rollout)."""
    return False


@dataclass(frozen=True)
class DetectorSpec:
    """One kind of problem: where it is seen, how bad it is, and how it is detected."""

    kind: AlertKind
    resource: ResourceName  # what it reads; the watches started follow the enabled detectors
    severity: Severity
    default_on: bool  # enabled unless `alerts.kinds` says otherwise
    detect: Detect
    active: Holds
    container_log: ContainerLog | None = None
    """What the new incident's thread shows of a pod: the log of the run that crashed
    ("previous"), the current one, only its Warning events ("events": no container ran),
    or nothing of a pod (other subjects have context of their own, enrichment.py)."""
    status_only: bool = True
    """``detect`` reads only ``status``: when it did not change, nothing can be new."""
    yields_to: frozenset[AlertKind] = frozenset()
    """No incident of this kind while the same workload has an open one of these kinds."""
    threshold: timedelta | None = None
    """Alert only once the problem has held this long (``alerts.thresholds_minutes`` overrides).
    ``detect`` then reports the level; ``observe`` compares its ``since`` (or, without
    evidence, when opsbot first saw it) with ``now`` and says when to look again."""


@dataclass(frozen=True)
class SubjectSpec:
    """How ``observe`` reads the objects of one resource, whatever its detectors find."""

    resource: ResourceName
    healthy: Callable[[Change], bool]  # no known problem right now: its incidents may resolve
    owned: bool = False  # its workload is its controller owner (pods); else the object itself
    subject: Callable[[KubeObject], tuple[str, str, str] | None] | None = None
    """Who findings are about when it is not the object itself: (kind, namespace, name) of an
    event's involved object."""
