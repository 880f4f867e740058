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

Times: ``since`` is when the problem began as the objects show it (``since_exact``
False: only that it held by then), ``recovered_at`` when the last affected subject
became healthy; the duration is the time between them, never the quiet period
(``resolve_after``) that follows. ``ref`` is the short id people type back (refs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from opsbot.alerts.detectors import YIELDS_TO
from opsbot.alerts.findings import AlertKind, Finding, Observation
from opsbot.alerts.incident import Affected, Incident, IncidentState
from opsbot.alerts.refs import short_ref

__all__ = [
    "Affected",
    "Changed",
    "Incident",
    "IncidentBook",
    "IncidentEffect",
    "IncidentPolicy",
    "IncidentState",
    "Opened",
    "Reopened",
    "Resolved",
]


@dataclass(frozen=True)
class IncidentPolicy:
    resolve_after: timedelta = timedelta(minutes=5)
    cooldown: timedelta = timedelta(minutes=30)
    yields_to: Mapping[AlertKind, frozenset[AlertKind]] = field(default_factory=lambda: YIELDS_TO)
    """A kind that opens no incident while its workload has an open one of these kinds (a
    Deployment short of replicas because its pods crash-loop is one story, told by the pods)."""


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
        failures=max(finding.failures, 1),
    )


def _since(finding: Finding, now: datetime) -> tuple[datetime, bool]:
    """When the finding's problem began (never later than ``now``), and whether exactly."""
    if finding.since is None or finding.since > now:
        return now, finding.since is not None and finding.since_exact
    return finding.since, finding.since_exact


def _earlier(incident: Incident, finding: Finding, now: datetime) -> dict[str, Any]:
    """The incident's since, moved back when the finding shows the problem began earlier."""
    since, exact = _since(finding, now)
    if incident.since is not None and since >= incident.since:
        return {}
    return {"since": since, "since_exact": exact}


class IncidentBook:
    def __init__(self, policy: IncidentPolicy, route: Router) -> None:
        self.policy = policy
        self._route = route
        self._current: dict[str, Incident] = {}
        self._by_subject: dict[SubjectKey, set[str]] = {}
        self._refs: dict[str, str] = {}  # ref → key

    # queries -----------------------------------------------------------------

    def get(self, key: str) -> Incident | None:
        return self._current.get(key)

    def by_id(self, incident_id: str) -> Incident | None:
        """By full id, or by the short ref shown on cards."""
        key = self._refs.get(incident_id)
        if key is not None and (found := self._current.get(key)) is not None and found.ref == incident_id:
            return found
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

    def forget(self, which: Callable[[Incident], bool]) -> list[str]:
        """Drop the incidents `which` selects from memory, without any effect (another replica
        handles them now; the store keeps them). Returns their keys."""
        keys = {key for key, incident in self._current.items() if which(incident)}
        for key in keys:
            del self._current[key]
        self._refs = {ref: key for ref, key in self._refs.items() if key in self._current}
        by_subject = ((subject, held - keys) for subject, held in self._by_subject.items())
        self._by_subject = {subject: held for subject, held in by_subject if held}
        return sorted(keys)

    def replace(self, incident: Incident) -> None:
        """Record facts learnt outside the book (e.g. the root message's ts)."""
        if self._current.get(incident.key, incident).id == incident.id:
            self._put(incident)

    def _put(self, incident: Incident) -> None:
        if not incident.ref:  # stored before refs existed
            incident = replace(incident, ref=short_ref(incident.id, self._refs))
        previous = self._current.get(incident.key)
        if previous is not None and previous.ref != incident.ref:
            self._refs.pop(previous.ref, None)
        self._refs[incident.ref] = incident.key
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
                resolved = replace(
                    incident,
                    state=IncidentState.RESOLVED,
                    resolved_at=now,
                    updated_at=now,
                    recovered_at=latest,
                )
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

    def _told_already(self, finding: Finding) -> bool:
        kinds = self.policy.yields_to.get(finding.kind)
        if not kinds:
            return False
        return any(
            incident.kind in kinds
            and (incident.cluster, incident.namespace, incident.workload)
            == (finding.cluster, finding.namespace, finding.workload)
            for incident in self._current.values()
            if incident.state is IncidentState.OPEN
        )

    def _apply_finding(self, finding: Finding, now: datetime) -> IncidentEffect | None:
        key = finding.incident_key
        current = self._current.get(key)
        if current is None or (
            current.state is IncidentState.RESOLVED
            and current.resolved_at is not None
            and now - current.resolved_at > self.policy.cooldown
        ):
            if self._told_already(finding):
                return None
            channel = self._route(finding)
            if channel is None:
                return None
            incident_id = f"{key}@{now.isoformat(timespec='seconds')}"
            since, exact = _since(finding, now)
            incident = Incident(
                id=incident_id,
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
                ref=short_ref(incident_id, self._refs),
                since=since,
                since_exact=exact,
                facts=dict(finding.facts),
            )
            self._put(incident)
            return Opened(incident, finding)
        affected, added = self._merge_affected(current.affected, finding)
        facts = {**current.facts, **finding.facts}
        if current.state is IncidentState.RESOLVED:
            since, exact = _since(finding, now)
            reopened = replace(
                current,
                state=IncidentState.OPEN,
                resolved_at=None,
                recovered_at=None,
                since=since,
                since_exact=exact,
                facts=facts,
                reopened=current.reopened + 1,
                occurrences=current.occurrences + 1,
                affected=affected,
                updated_at=now,
                reason=finding.reason,
                message=finding.message or current.message,
            )
            self._put(reopened)
            return Reopened(reopened, finding)
        earlier = _earlier(current, finding, now)
        if not added:
            if affected != current.affected or earlier or facts != current.facts:
                self._put(replace(current, affected=affected, facts=facts, **earlier))
            return None
        updated = replace(
            current,
            occurrences=current.occurrences + 1,
            affected=affected,
            updated_at=now,
            reason=finding.reason,
            message=finding.message or current.message,
            facts=facts,
            **earlier,
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
                    restarts > item.restarts
                    or item.gone
                    or (restarts == 0 and finding.reason != item.reason)
                    or finding.novel
                )
                added = added or worse
                item = replace(
                    item,
                    restarts=max(restarts, item.restarts),
                    failures=item.failures + (max(finding.failures, 1) if worse else 0),
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
            if observation.scope is not None and incident.kind not in observation.scope:
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
