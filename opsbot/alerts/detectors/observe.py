"""One watch event (old object, new object) → one :class:`Observation`: the entry point.

``observe`` runs the enabled detectors of the event's resource (kopf-style cause
detection: each finds what *newly* happened) and adds the levels: whether the
object is healthy and which problems hold right now (``active``). ``active`` only
names enabled kinds; ``healthy`` does not depend on ``enabled``.

``old is None`` means first sight (ADDED, or a list at startup): every problem
present now is reported, and the incident layer decides whether it was already
posted. ``new is None`` means the object was deleted.

Detectors with a ``threshold`` report a level; here it becomes a finding once it has held
that long (``since`` from the object's evidence, else ``first_seen``: when the caller
first saw it, else ``now``), and until then a ``waiting`` entry saying when to look again.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from opsbot.alerts.detectors.catalog import BY_KIND, DEFAULT_ENABLED, DETECTORS, SUBJECTS
from opsbot.alerts.detectors.readers import aware, labels, name, namespace, readable
from opsbot.alerts.detectors.spec import (
    DEFAULT_OPTIONS,
    Change,
    DetectorOptions,
    DetectorSpec,
    SubjectSpec,
    Symptom,
)
from opsbot.alerts.findings import AlertKind, Finding, Observation, Workload
from opsbot.alerts.owners import DEFAULT_OWNERS, OwnerResolver, controller_of
from opsbot.core.resources import RESOURCES
from opsbot.ports import KubeObject

# By plain name: observe() is where an unknown resource name is caught.
_SUBJECTS: dict[str, SubjectSpec] = {resource: subject for resource, subject in SUBJECTS.items()}
_DETECTORS_OF: Mapping[str, tuple[DetectorSpec, ...]] = {
    resource: tuple(spec for spec in DETECTORS if spec.resource == resource) for resource in SUBJECTS
}
# An event on a resource speaks for the incidents its detectors open, not for others about the
# same subject (a pod's status says nothing about Warning events that named it).
_SCOPE: Mapping[str, frozenset[AlertKind]] = {
    resource: frozenset(spec.kind for spec in specs) for resource, specs in _DETECTORS_OF.items()
}


@dataclass(frozen=True)
class _Subject:
    """Who the findings of one event are about."""

    cluster: str
    kind: str
    namespace: str
    name: str
    workload: Workload

    def finding(
        self,
        spec: DetectorSpec,
        symptom: Symptom,
        labels: Mapping[str, str],
        now: datetime,
        since: tuple[datetime | None, bool] | None = None,
    ) -> Finding:
        moment, exact = since if since is not None else (symptom.since, symptom.since_exact)
        return Finding(
            kind=spec.kind,
            severity=spec.severity,
            cluster=self.cluster,
            namespace=self.namespace,
            workload=self.workload,
            subject_kind=self.kind,
            subject=self.name,
            reason=symptom.reason,
            message=symptom.message,
            container=symptom.container,
            exit_code=symptom.exit_code,
            restart_count=symptom.restart_count,
            labels=labels,
            observed_at=now,
            since=moment,
            since_exact=exact,
            facts=symptom.facts,
            failures=symptom.failures,
            novel=symptom.novel,
        )


def _subject(subjects: SubjectSpec, obj: KubeObject, cluster: str, owners: OwnerResolver) -> _Subject:
    resource = RESOURCES[subjects.resource]
    if subjects.subject is not None:  # an event: about its involved object
        kind, where, object_name = subjects.subject(obj) or ("", "", "")
        return _Subject(cluster, kind, where, object_name, Workload(kind, object_name))
    object_name = name(obj)
    where = namespace(obj) if resource.namespaced else ""
    if not subjects.owned:
        workload = Workload(resource.kind, object_name)
    elif resource.kind == "Pod":
        workload = owners.workload_of(obj)
    else:  # e.g. a Job: its controller (a CronJob), else itself
        owner = controller_of(obj)
        workload = Workload(*owner) if owner else Workload(resource.kind, object_name)
    return _Subject(cluster, resource.kind, where, object_name, workload)


def _threshold(spec: DetectorSpec, options: DetectorOptions) -> timedelta:
    return options.thresholds.get(spec.kind, spec.threshold or timedelta(0))


def _held(
    spec: DetectorSpec, symptom: Symptom, change: Change, first_seen: Mapping[AlertKind, datetime]
) -> tuple[datetime, bool, datetime]:
    """(since, exact, due) of a threshold detector's level."""
    if symptom.since is not None:
        since, exact = aware(symptom.since), symptom.since_exact
    else:
        since, exact = first_seen.get(spec.kind, change.now), False
    return since, exact, since + _threshold(spec, change.options)


def _subjects_of(resource: str) -> SubjectSpec:
    subjects = _SUBJECTS.get(resource)
    if subjects is None:
        raise ValueError(f"unknown resource {resource!r}; expected one of {', '.join(_SUBJECTS)}")
    return subjects


def observe(
    resource: str,
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver = DEFAULT_OWNERS,
    enabled: Container[AlertKind] = DEFAULT_ENABLED,
    options: DetectorOptions = DEFAULT_OPTIONS,
    first_seen: Mapping[AlertKind, datetime] | None = None,
) -> Observation:
    """What one watch event on ``resource`` (a key of ``SUBJECTS``) says.

    ``old`` None: first sight, every enabled problem present now is a finding.
    ``new`` None: deleted (healthy, no findings). Unreadable parts of either object
    are treated as absent; only an unknown ``resource`` raises (ValueError).
    ``first_seen``: when the caller first saw each waiting problem of this object (see
    ``Observation.waiting``), for thresholds without evidence.
    """
    subjects = _subjects_of(resource)
    before = readable(old)
    if new is None:
        gone = _subject(subjects, before or {}, cluster, owners)
        return Observation(
            cluster=cluster,
            subject_kind=gone.kind,
            namespace=gone.namespace,
            name=gone.name,
            workload=gone.workload,
            healthy=True,
            deleted=subjects.subject is None,  # an event going away says nothing of its object
            scope=_SCOPE[resource],
        )
    current: KubeObject = new if isinstance(new, dict) else {}
    change = Change(before, current, now=now, enabled=enabled, options=options)
    subject = _subject(subjects, current, cluster, owners)
    specs = [spec for spec in _DETECTORS_OF[resource] if spec.kind in enabled]
    # Detectors that read only the status find nothing new in an unchanged one (a resync,
    # a label edit): skip them without parsing anything.
    status_changed = before is None or before.get("status") != current.get("status")
    findings: list[Finding] = []
    waiting: list[tuple[AlertKind, datetime, datetime]] = []
    subject_labels: Mapping[str, str] | None = None
    for spec in specs:
        if spec.threshold is None and spec.status_only and not status_changed:
            continue
        for symptom in spec.detect(change):
            held = None
            if spec.threshold is not None:
                since, exact, due = _held(spec, symptom, change, first_seen or {})
                if due > aware(now):
                    waiting.append((spec.kind, since, due))
                    continue
                held = (since, exact)
            subject_labels = labels(current) if subject_labels is None else subject_labels
            findings.append(subject.finding(spec, symptom, subject_labels, now, held))
    return Observation(
        cluster=cluster,
        subject_kind=subject.kind,
        namespace=subject.namespace,
        name=subject.name,
        workload=subject.workload,
        healthy=subjects.healthy(change),
        findings=tuple(findings),
        active=frozenset(spec.kind for spec in specs if spec.active(change)),
        scope=_SCOPE[resource],
        waiting=tuple(waiting),
    )


def detect(
    kind: AlertKind,
    old: KubeObject | None,
    new: KubeObject | None,
    *,
    cluster: str,
    now: datetime,
    owners: OwnerResolver = DEFAULT_OWNERS,
    enabled: Container[AlertKind] = DEFAULT_ENABLED,
    options: DetectorOptions = DEFAULT_OPTIONS,
) -> tuple[Finding, ...]:
    """The findings of one detector alone (``enabled`` still decides precedence, e.g. OOMKilled
    over CrashLoopBackOff). Empty when ``new`` is None or not an object. A threshold
    detector's level counts only once it has held for its threshold."""
    spec = BY_KIND[kind]
    if not isinstance(new, dict):
        return ()
    change = Change(readable(old), new, now=now, enabled=enabled, options=options)
    subject = _subject(SUBJECTS[spec.resource], new, cluster, owners)
    found = []
    for symptom in spec.detect(change):
        held = None
        if spec.threshold is not None:
            since, exact, due = _held(spec, symptom, change, {})
            if due > aware(now):
                continue
            held = (since, exact)
        found.append(subject.finding(spec, symptom, labels(new), now, held))
    return tuple(found)
