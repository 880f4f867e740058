"""Incidents, not messages: findings grouped per cluster + namespace + workload + kind.

`IncidentBook` holds the current incident per key and turns observations into a
few effects (open, change, resolve, reopen). It does no I/O and reads no clock:
the alert service persists incidents and performs the effects. The rules:

- the first finding for a key opens an incident (one root message);
- more findings update it (count, pods) only when they add something: a new pod or
  a higher restart count. A relist or a restart of the bot re-observes the same
  facts and changes nothing;
- when every affected pod has been healthy (or gone) for `resolve_after`, the
  incident resolves; a relapse within `cooldown` reopens the same incident
  (same thread); later, a new incident starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from opsbot.alerts.findings import AlertKind, Finding, Observation, Severity, Workload
from opsbot.core.request import MessageId


class IncidentState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Affected:
    """One pod (or node, or deployment) in an incident."""

    name: str
    restarts: int = 0
    reason: str = ""
    exit_code: int | None = None
    container: str | None = None
    healthy_since: datetime | None = None
    gone: bool = False


@dataclass(frozen=True)
class Incident:
    id: str
    key: str
    kind: AlertKind
    severity: Severity
    cluster: str
    namespace: str
    workload: Workload
    subject_kind: str
    channel: str
    opened_at: datetime
    updated_at: datetime
    state: IncidentState = IncidentState.OPEN
    resolved_at: datetime | None = None
    occurrences: int = 1
    reopened: int = 0
    reason: str = ""
    message: str = ""
    affected: tuple[Affected, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    root: MessageId | None = None
    """The root message (the thread of this incident), once posted."""
    digest: MessageId | None = None
    """The digest message this incident was folded into ("pending" while that post is on its way)."""

    @property
    def restarts(self) -> int:
        return sum(item.restarts for item in self.affected)

    @property
    def duration(self) -> timedelta:
        end = self.resolved_at or self.updated_at
        return end - self.opened_at

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["workload"] = {"kind": self.workload.kind, "name": self.workload.name}
        data["labels"] = dict(self.labels)
        for name in ("opened_at", "updated_at", "resolved_at"):
            value = getattr(self, name)
            data[name] = value.isoformat() if value else None
        data["affected"] = [
            {**asdict(item), "healthy_since": item.healthy_since.isoformat() if item.healthy_since else None}
            for item in self.affected
        ]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        def when(value: object) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        affected = tuple(
            Affected(**{**item, "healthy_since": when(item.get("healthy_since"))})
            for item in data.get("affected", [])
        )
        opened = when(data["opened_at"])
        updated = when(data["updated_at"])
        assert opened is not None and updated is not None
        return cls(
            id=data["id"],
            key=data["key"],
            kind=AlertKind(data["kind"]),
            severity=Severity(data["severity"]),
            cluster=data["cluster"],
            namespace=data["namespace"],
            workload=Workload(data["workload"]["kind"], data["workload"]["name"]),
            subject_kind=data["subject_kind"],
            channel=data["channel"],
            opened_at=opened,
            updated_at=updated,
            state=IncidentState(data["state"]),
            resolved_at=when(data.get("resolved_at")),
            occurrences=int(data.get("occurrences", 1)),
            reopened=int(data.get("reopened", 0)),
            reason=data.get("reason", ""),
            message=data.get("message", ""),
            affected=affected,
            labels=dict(data.get("labels") or {}),
            root=data.get("root", data.get("root_ts")),
            digest=data.get("digest", data.get("digest_ts")),
        )


@dataclass(frozen=True)
class IncidentPolicy:
    resolve_after: timedelta = timedelta(minutes=5)
    cooldown: timedelta = timedelta(minutes=30)


# effects -------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    incident: Incident
    finding: Finding


@dataclass(frozen=True)
class Changed:
    incident: Incident


@dataclass(frozen=True)
class Reopened:
    incident: Incident
    finding: Finding


@dataclass(frozen=True)
class Resolved:
    incident: Incident


IncidentEffect = Opened | Changed | Reopened | Resolved

SubjectKey = tuple[str, str, str, str]  # cluster, subject kind, namespace, name
Router = Callable[[Finding], str | None]


def _affected_from(finding: Finding) -> Affected:
    return Affected(
        name=finding.subject,
        restarts=finding.restart_count or 0,
        reason=finding.reason,
        exit_code=finding.exit_code,
        container=finding.container,
    )


class IncidentBook:
    def __init__(self, policy: IncidentPolicy, route: Router) -> None:
        self.policy = policy
        self._route = route
        self._current: dict[str, Incident] = {}
        self._by_subject: dict[SubjectKey, set[str]] = {}

    # queries -----------------------------------------------------------------

    def get(self, key: str) -> Incident | None:
        return self._current.get(key)

    def by_id(self, incident_id: str) -> Incident | None:
        for incident in self._current.values():
            if incident.id == incident_id:
                return incident
        return None

    def open_incidents(self) -> list[Incident]:
        return sorted(
            (i for i in self._current.values() if i.state is IncidentState.OPEN), key=lambda i: i.opened_at
        )

    def all(self) -> list[Incident]:
        return list(self._current.values())

    # state changes -------------------------------------------------------------

    def load(self, incidents: Iterable[Incident]) -> None:
        """Restore from the store: the newest incident per key wins."""
        for incident in sorted(incidents, key=lambda i: i.updated_at):
            self._put(incident)

    def replace(self, incident: Incident) -> None:
        """Record facts learnt outside the book (e.g. the root message's ts)."""
        if self._current.get(incident.key, incident).id == incident.id:
            self._put(incident)

    def _put(self, incident: Incident) -> None:
        self._current[incident.key] = incident
        for item in incident.affected:
            subject = (incident.cluster, incident.subject_kind, incident.namespace, item.name)
            self._by_subject.setdefault(subject, set()).add(incident.key)

    def observe(self, observation: Observation, now: datetime) -> list[IncidentEffect]:
        effects: list[IncidentEffect] = []
        for finding in observation.findings:
            effect = self._apply_finding(finding, now)
            if effect is not None:
                effects.append(effect)
        effects.extend(self._apply_health(observation, now))
        return effects

    def forget_missing(
        self, cluster: str, subject_kind: str, present: set[tuple[str, str]], now: datetime
    ) -> list[IncidentEffect]:
        """After a (re)list: subjects of open incidents that no longer exist are gone."""
        effects: list[IncidentEffect] = []
        for incident in self.open_incidents():
            if incident.cluster != cluster or incident.subject_kind != subject_kind:
                continue
            changed = False
            affected = []
            for item in incident.affected:
                if not item.gone and (incident.namespace, item.name) not in present:
                    item = replace(item, gone=True, healthy_since=item.healthy_since or now)
                    changed = True
                affected.append(item)
            if changed:
                updated = replace(incident, affected=tuple(affected), updated_at=now)
                self._put(updated)
                effects.append(Changed(updated))
        return effects

    def tick(self, now: datetime) -> list[IncidentEffect]:
        """Resolve incidents whose every subject has been healthy long enough."""
        effects: list[IncidentEffect] = []
        for incident in self.open_incidents():
            since = [item.healthy_since for item in incident.affected]
            if not since or any(moment is None for moment in since):
                continue
            latest = max(moment for moment in since if moment is not None)
            if now - latest >= self.policy.resolve_after:
                resolved = replace(incident, state=IncidentState.RESOLVED, resolved_at=now, updated_at=now)
                self._put(resolved)
                effects.append(Resolved(resolved))
        return effects

    def clear(self, key: str, subjects: Iterable[str], now: datetime) -> list[IncidentEffect]:
        """The source says these subjects are fine again (e.g. alerts Alertmanager resolved while
        their group still fires): they count as gone; the incident stays open."""
        incident = self._current.get(key)
        names = set(subjects)
        if incident is None or incident.state is not IncidentState.OPEN:
            return []
        affected = tuple(
            replace(item, gone=True, healthy_since=item.healthy_since or now)
            if item.name in names and not item.gone
            else item
            for item in incident.affected
        )
        if affected == incident.affected:
            return []
        updated = replace(incident, affected=affected, updated_at=now)
        self._put(updated)
        return [Changed(updated)]

    def resolve_now(self, key: str, now: datetime) -> list[IncidentEffect]:
        """Resolve at once, without the quiet period: the source said so (Alertmanager's
        ``resolved``). Every subject counts as gone; a later finding reopens it as usual."""
        incident = self._current.get(key)
        if incident is None or incident.state is not IncidentState.OPEN:
            return []
        affected = tuple(
            item if item.gone else replace(item, gone=True, healthy_since=item.healthy_since or now)
            for item in incident.affected
        )
        resolved = replace(
            incident, state=IncidentState.RESOLVED, resolved_at=now, updated_at=now, affected=affected
        )
        self._put(resolved)
        return [Resolved(resolved)]

    # internals -------------------------------------------------------------------

    def _apply_finding(self, finding: Finding, now: datetime) -> IncidentEffect | None:
        key = finding.incident_key
        current = self._current.get(key)
        if current is None or (
            current.state is IncidentState.RESOLVED
            and current.resolved_at is not None
            and now - current.resolved_at > self.policy.cooldown
        ):
            channel = self._route(finding)
            if channel is None:
                return None
            incident = Incident(
                id=f"{key}@{now.isoformat(timespec='seconds')}",
                key=key,
                kind=finding.kind,
                severity=finding.severity,
                cluster=finding.cluster,
                namespace=finding.namespace,
                workload=finding.workload,
                subject_kind=finding.subject_kind,
                channel=channel,
                opened_at=now,
                updated_at=now,
                reason=finding.reason,
                message=finding.message,
                affected=(_affected_from(finding),),
                labels=dict(finding.labels),
            )
            self._put(incident)
            return Opened(incident, finding)
        affected, added = self._merge_affected(current.affected, finding)
        if current.state is IncidentState.RESOLVED:
            reopened = replace(
                current,
                state=IncidentState.OPEN,
                resolved_at=None,
                reopened=current.reopened + 1,
                occurrences=current.occurrences + 1,
                affected=affected,
                updated_at=now,
                reason=finding.reason,
                message=finding.message or current.message,
            )
            self._put(reopened)
            return Reopened(reopened, finding)
        if not added:
            if affected != current.affected:
                self._put(replace(current, affected=affected))
            return None
        updated = replace(
            current,
            occurrences=current.occurrences + 1,
            affected=affected,
            updated_at=now,
            reason=finding.reason,
            message=finding.message or current.message,
        )
        self._put(updated)
        return Changed(updated)

    @staticmethod
    def _merge_affected(items: tuple[Affected, ...], finding: Finding) -> tuple[tuple[Affected, ...], bool]:
        """(new affected list, whether the finding added anything new)."""
        restarts = finding.restart_count or 0
        merged: list[Affected] = []
        found = False
        added = False
        for item in items:
            if item.name == finding.subject:
                found = True
                worse = (
                    restarts > item.restarts or item.gone or (restarts == 0 and finding.reason != item.reason)
                )
                added = added or worse
                item = replace(
                    item,
                    restarts=max(restarts, item.restarts),
                    reason=finding.reason,
                    exit_code=finding.exit_code if finding.exit_code is not None else item.exit_code,
                    container=finding.container or item.container,
                    healthy_since=None,
                    gone=False,
                )
            merged.append(item)
        if not found:
            merged.append(_affected_from(finding))
            added = True
        return tuple(sorted(merged, key=lambda item: item.name)), added

    def _apply_health(self, observation: Observation, now: datetime) -> list[IncidentEffect]:
        subject = (observation.cluster, observation.subject_kind, observation.namespace, observation.name)
        keys = self._by_subject.get(subject)
        if not keys:
            return []
        effects: list[IncidentEffect] = []
        for key in list(keys):
            incident = self._current.get(key)
            if incident is None or incident.state is not IncidentState.OPEN:
                continue
            if incident.kind in observation.active and not observation.deleted:
                healthy = False
            else:
                healthy = observation.healthy or observation.deleted
            affected = []
            visible_change = False
            for item in incident.affected:
                if item.name == observation.name:
                    if observation.deleted and not item.gone:
                        item = replace(item, gone=True, healthy_since=item.healthy_since or now)
                        visible_change = True
                    elif healthy and item.healthy_since is None:
                        item = replace(item, healthy_since=now)
                    elif not healthy and item.healthy_since is not None:
                        item = replace(item, healthy_since=None, gone=False)
                affected.append(item)
            updated_affected = tuple(affected)
            if updated_affected != incident.affected:
                updated = replace(incident, affected=updated_affected)
                self._put(updated)
                if visible_change:
                    effects.append(Changed(updated))
        return effects
