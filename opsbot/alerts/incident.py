"""An incident as stored and shown: what broke, where, since when, who is affected, where its
thread is. Plain data with its JSON form (``to_dict``/``from_dict``); records written by
older versions (without ``ref``, ``since``, ``enrichment``…) are read with sensible defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from opsbot.alerts.findings import AlertKind, Severity, Workload
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
    failures: int = 1  # failures seen (e.g. OOM kills), the first included


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
    ref: str = ""
    since: datetime | None = None
    since_exact: bool = False
    recovered_at: datetime | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    enrichment: str = "pending"
    """The thread's context (log lines, events): "pending", "posted", or "none" (nothing to add)."""

    @property
    def restarts(self) -> int:
        return sum(item.restarts for item in self.affected)

    @property
    def failures(self) -> int:
        return sum(item.failures for item in self.affected)

    @property
    def started(self) -> datetime:
        """When the problem began (the evidence), else when opsbot opened the incident."""
        return min(self.since, self.opened_at) if self.since else self.opened_at

    @property
    def duration(self) -> timedelta:
        """From the first failure to the recovery (while open: to the last update)."""
        end = self.recovered_at or self.resolved_at or self.updated_at
        return max(end - self.started, timedelta(0))

    @property
    def quiet(self) -> timedelta | None:
        """How long it had been healthy when it was resolved."""
        if self.resolved_at is None or self.recovered_at is None:
            return None
        return max(self.resolved_at - self.recovered_at, timedelta(0))

    def to_dict(self) -> dict[str, Any]:
        """Its JSON form (written field by field: ``dataclasses.asdict`` deep-copies, and every
        change of every incident is saved)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "key": self.key,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "cluster": self.cluster,
            "namespace": self.namespace,
            "workload": {"kind": self.workload.kind, "name": self.workload.name},
            "subject_kind": self.subject_kind,
            "channel": self.channel,
            "opened_at": iso(self.opened_at),
            "updated_at": iso(self.updated_at),
            "state": self.state.value,
            "resolved_at": iso(self.resolved_at),
            "occurrences": self.occurrences,
            "reopened": self.reopened,
            "reason": self.reason,
            "message": self.message,
            "affected": [
                {
                    "name": item.name,
                    "restarts": item.restarts,
                    "reason": item.reason,
                    "exit_code": item.exit_code,
                    "container": item.container,
                    "healthy_since": iso(item.healthy_since),
                    "gone": item.gone,
                    "failures": item.failures,
                }
                for item in self.affected
            ],
            "labels": dict(self.labels),
            "root": self.root,
            "digest": self.digest,
            "ref": self.ref,
            "since": iso(self.since),
            "since_exact": self.since_exact,
            "recovered_at": iso(self.recovered_at),
            "facts": dict(self.facts),
            "enrichment": self.enrichment,
        }

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
            ref=str(data.get("ref") or ""),
            since=when(data.get("since")),
            since_exact=bool(data.get("since_exact", False)),
            recovered_at=when(data.get("recovered_at")),
            facts={str(k): str(v) for k, v in (data.get("facts") or {}).items()},
            # Stored before enrichment was state: a root on record had its thread already.
            enrichment=str(
                data.get("enrichment") or ("posted" if data.get("root", data.get("root_ts")) else "pending")
            ),
        )
