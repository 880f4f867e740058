"""Alert groups as opsbot keeps them (pure): the alerts Alertmanager told us about, by
fingerprint, and what an incoming alert changes.

A group is identified by its receiver and group labels (what both a webhook notification
and ``GET /api/v2/alerts/groups`` carry), so alerts found by the reconcile land in the same
thread as the notifications about them. Its incident key is derived from that identity.

Ordering: Alertmanager retries, so an old notification can arrive after a newer one. An
alert's ``startsAt`` tells them apart: a resolved alert fires again only with a newer
``startsAt``; a ``resolved`` for an older ``startsAt`` than the one firing is stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from opsbot.alertmanager.payload import AmAlert
from opsbot.alerts.findings import Severity

KEY_PREFIX = "alertmanager/"
_SEVERITIES: Mapping[str, Severity] = {
    "critical": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "high": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "medium": Severity.WARNING,
    "info": Severity.INFO,
    "none": Severity.INFO,
    "low": Severity.INFO,
}


def group_identity(receiver: str, group_labels: Mapping[str, str]) -> str:
    """The incident key of a group: stable for its receiver and group labels."""
    canonical = receiver + "\0" + "\0".join(f"{k}={v}" for k, v in sorted(group_labels.items()))
    return KEY_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:20]


def severity_of(labels: Mapping[str, str], label: str, extra: Mapping[str, Severity]) -> Severity:
    value = labels.get(label, "").strip().lower()
    return extra.get(value) or _SEVERITIES.get(value) or Severity.WARNING


class Change(StrEnum):
    NEW = "new"  # a firing alert we did not know
    REFIRED = "refired"  # resolved before, firing again (newer startsAt)
    RESOLVED = "resolved"
    UPDATED = "updated"  # still firing; its annotations changed
    NONE = "none"  # nothing new (a repeat, a retry, or stale)


@dataclass(frozen=True)
class AlertRecord:
    fingerprint: str
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    seen_at: datetime

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class SilenceNote:
    """The silences made from Slack at once (one per alert) for some of the group's alerts."""

    ids: tuple[str, ...]
    by_id: str
    by_name: str
    until: datetime
    fingerprints: tuple[str, ...]
    state: str = "active"  # active | expired | removed
    ended_at: datetime | None = None
    ended_by: str = ""  # who removed it (a Slack user id), "" when Alertmanager's UI did

    def to_dict(self) -> dict[str, Any]:
        return {
            "ids": list(self.ids),
            "by_id": self.by_id,
            "by_name": self.by_name,
            "until": self.until.isoformat(),
            "fingerprints": list(self.fingerprints),
            "state": self.state,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "ended_by": self.ended_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SilenceNote:
        ended = data.get("ended_at")
        return cls(
            ids=tuple(str(item) for item in data.get("ids") or ()),
            by_id=str(data.get("by_id", "")),
            by_name=str(data.get("by_name", "")),
            until=datetime.fromisoformat(data["until"]),
            fingerprints=tuple(data.get("fingerprints") or ()),
            state=str(data.get("state", "active")),
            ended_at=datetime.fromisoformat(ended) if ended else None,
            ended_by=str(data.get("ended_by", "")),
        )


@dataclass(frozen=True)
class AlertGroup:
    key: str
    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    external_url: str = ""
    alerts: Mapping[str, AlertRecord] = field(default_factory=dict)
    truncated: int = 0
    silences: tuple[SilenceNote, ...] = ()
    remediations: tuple[str, ...] = ()
    """Ids of the remediations proposed for this group, oldest first."""

    def firing(self) -> list[AlertRecord]:
        return sorted(
            (a for a in self.alerts.values() if a.firing), key=lambda a: (a.starts_at, a.fingerprint)
        )

    def resolved(self) -> list[AlertRecord]:
        return sorted((a for a in self.alerts.values() if not a.firing), key=lambda a: a.fingerprint)

    def common_labels(self) -> dict[str, str]:
        """Labels every firing alert (or, none firing, every alert) shares."""
        pool = self.firing() or list(self.alerts.values())
        if not pool:
            return dict(self.group_labels)
        common = dict(pool[0].labels)
        for alert in pool[1:]:
            common = {k: v for k, v in common.items() if alert.labels.get(k) == v}
        return common

    def active_silences(self) -> list[SilenceNote]:
        return [note for note in self.silences if note.state == "active"]

    # changes ---------------------------------------------------------------------

    def merge(self, alert: AmAlert, now: datetime) -> tuple[AlertGroup, Change]:
        current = self.alerts.get(alert.fingerprint)
        change = _change(current, alert)
        if change is Change.NONE:
            if current is not None and current.seen_at < now:
                return self._with(replace(current, seen_at=now)), change
            return self, change
        record = AlertRecord(
            fingerprint=alert.fingerprint,
            status=alert.status,
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=alert.starts_at,
            ends_at=(alert.ends_at or now) if not alert.firing else None,
            generator_url=alert.generator_url or (current.generator_url if current else ""),
            seen_at=now,
        )
        return self._with(record), change

    def resolve_missing(
        self, present: Iterable[str], before: datetime, now: datetime
    ) -> tuple[AlertGroup, list[str]]:
        """Firing alerts Alertmanager no longer lists (and we heard nothing of since `before`):
        they resolved while nobody told us."""
        present_set = set(present)
        gone = [
            alert.fingerprint
            for alert in self.firing()
            if alert.fingerprint not in present_set and alert.seen_at < before
        ]
        group = self
        for fingerprint in gone:
            record = group.alerts[fingerprint]
            group = group._with(replace(record, status="resolved", ends_at=now, seen_at=now))
        return group, gone

    def _with(self, record: AlertRecord) -> AlertGroup:
        return replace(self, alerts={**self.alerts, record.fingerprint: record})

    # storage -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "receiver": self.receiver,
            "group_key": self.group_key,
            "group_labels": dict(self.group_labels),
            "external_url": self.external_url,
            "truncated": self.truncated,
            "alerts": [
                {
                    "fingerprint": a.fingerprint,
                    "status": a.status,
                    "labels": dict(a.labels),
                    "annotations": dict(a.annotations),
                    "starts_at": a.starts_at.isoformat(),
                    "ends_at": a.ends_at.isoformat() if a.ends_at else None,
                    "generator_url": a.generator_url,
                    "seen_at": a.seen_at.isoformat(),
                }
                for a in self.alerts.values()
            ],
            "silences": [note.to_dict() for note in self.silences],
            "remediations": list(self.remediations),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertGroup:
        alerts = {}
        for item in data.get("alerts") or []:
            ends = item.get("ends_at")
            alerts[item["fingerprint"]] = AlertRecord(
                fingerprint=item["fingerprint"],
                status=item["status"],
                labels=dict(item.get("labels") or {}),
                annotations=dict(item.get("annotations") or {}),
                starts_at=datetime.fromisoformat(item["starts_at"]),
                ends_at=datetime.fromisoformat(ends) if ends else None,
                generator_url=str(item.get("generator_url", "")),
                seen_at=datetime.fromisoformat(item["seen_at"]),
            )
        return cls(
            key=data["key"],
            receiver=data["receiver"],
            group_key=data.get("group_key", ""),
            group_labels=dict(data.get("group_labels") or {}),
            external_url=str(data.get("external_url", "")),
            alerts=alerts,
            truncated=int(data.get("truncated", 0)),
            silences=tuple(SilenceNote.from_dict(note) for note in data.get("silences") or ()),
            remediations=tuple(data.get("remediations") or ()),
        )


def _change(current: AlertRecord | None, alert: AmAlert) -> Change:
    if current is None:
        return Change.NEW if alert.firing else Change.NONE
    if current.firing and alert.firing:
        if dict(alert.annotations) != dict(current.annotations) and alert.starts_at >= current.starts_at:
            return Change.UPDATED
        return Change.NONE
    if current.firing:  # a resolve: current unless it is about an older firing
        return Change.RESOLVED if alert.starts_at >= current.starts_at else Change.NONE
    if alert.firing:  # fires again, or a retried old notification
        return Change.REFIRED if alert.starts_at > current.starts_at else Change.NONE
    return Change.NONE
