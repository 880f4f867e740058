"""One watch event (old object, new object) → one :class:`Observation`: the entry point.

``observe`` runs the enabled detectors of the event's resource (kopf-style cause
detection: each finds what *newly* happened) and adds the levels: whether the
object is healthy and which problems hold right now (``active``). ``active`` only
names enabled kinds; ``healthy`` does not depend on ``enabled``.

``old is None`` means first sight (ADDED, or a list at startup): every problem
present now is reported, and the incident layer decides whether it was already
posted. ``new is None`` means the object was deleted.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import datetime

from opsbot.alerts.detectors.catalog import BY_KIND, DEFAULT_ENABLED, DETECTORS, SUBJECTS
from opsbot.alerts.detectors.readers import labels, name, namespace, readable
from opsbot.alerts.detectors.spec import Change, DetectorSpec, SubjectSpec, Symptom
from opsbot.alerts.findings import AlertKind, Finding, Observation, Workload
from opsbot.alerts.owners import DEFAULT_OWNERS, OwnerResolver
from opsbot.core.resources import RESOURCES
from opsbot.ports import KubeObject

# By plain name: observe() is where an unknown resource name is caught.
_SUBJECTS: dict[str, SubjectSpec] = {resource: subject for resource, subject in SUBJECTS.items()}
_DETECTORS_OF: Mapping[str, tuple[DetectorSpec, ...]] = {
    resource: tuple(spec for spec in DETECTORS if spec.resource == resource) for resource in SUBJECTS
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
        self, spec: DetectorSpec, symptom: Symptom, labels: Mapping[str, str], now: datetime
    ) -> Finding:
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
        )


def _subject(subjects: SubjectSpec, obj: KubeObject, cluster: str, owners: OwnerResolver) -> _Subject:
    resource = RESOURCES[subjects.resource]
    object_name = name(obj)
    workload = owners.workload_of(obj) if subjects.owned else Workload(resource.kind, object_name)
    where = namespace(obj) if resource.namespaced else ""
    return _Subject(cluster, resource.kind, where, object_name, workload)


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
) -> Observation:
    """What one watch event on ``resource`` ("pods" | "nodes" | "deployments") says.

    ``old`` None: first sight, every enabled problem present now is a finding.
    ``new`` None: deleted (healthy, no findings). Unreadable parts of either object
    are treated as absent; only an unknown ``resource`` raises (ValueError).
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
            deleted=True,
        )
    current: KubeObject = new if isinstance(new, dict) else {}
    change = Change(before, current, now=now, enabled=enabled)
    subject = _subject(subjects, current, cluster, owners)
    specs = [spec for spec in _DETECTORS_OF[resource] if spec.kind in enabled]
    # Detectors that read only the status find nothing new in an unchanged one (a resync,
    # a label edit): skip them without parsing anything.
    status_changed = before is None or before.get("status") != current.get("status")
    findings: list[Finding] = []
    subject_labels: Mapping[str, str] | None = None
    for spec in specs:
        if spec.status_only and not status_changed:
            continue
        for symptom in spec.detect(change):
            subject_labels = labels(current) if subject_labels is None else subject_labels
            findings.append(subject.finding(spec, symptom, subject_labels, now))
    return Observation(
        cluster=cluster,
        subject_kind=subject.kind,
        namespace=subject.namespace,
        name=subject.name,
        workload=subject.workload,
        healthy=subjects.healthy(change),
        findings=tuple(findings),
        active=frozenset(spec.kind for spec in specs if spec.active(change)),
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
) -> tuple[Finding, ...]:
    """The findings of one detector alone (``enabled`` still decides precedence, e.g. OOMKilled
    over CrashLoopBackOff). Empty when ``new`` is None or not an object."""
    spec = BY_KIND[kind]
    if not isinstance(new, dict):
        return ()
    change = Change(readable(old), new, now=now, enabled=enabled)
    subject = _subject(SUBJECTS[spec.resource], new, cluster, owners)
    return tuple(subject.finding(spec, symptom, labels(new), now) for symptom in spec.detect(change))
