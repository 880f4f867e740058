"""Who leads, decided from a `coordination.k8s.io/v1` Lease (pure).

The rules are client-go's leader election: a candidate holds the lease by renewing
``renewTime`` before ``leaseDurationSeconds`` pass; the others wait. Expiry is judged
on the *local* clock, from the moment this candidate last saw the record change, never
from the renewTime written by another machine (clocks differ). Writes are guarded by
resourceVersion: of two candidates writing at once, one gets 409 and stays a follower.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opsbot.core.kubeobjects import KubeObject, parse_time


@dataclass(frozen=True)
class LeaseRecord:
    holder: str  # "" when released or never held
    duration: timedelta
    acquired: datetime | None
    renewed: datetime | None
    transitions: int
    resource_version: str | None


def read(lease: KubeObject) -> LeaseRecord:
    spec = lease.get("spec") or {}
    meta = lease.get("metadata") or {}
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        duration=timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0)),
        acquired=parse_time(spec.get("acquireTime")),
        renewed=parse_time(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
        resource_version=meta.get("resourceVersion"),
    )


@dataclass(frozen=True)
class Observed:
    """What a candidate remembers of the lease: the record and when (its monotonic clock) it
    last saw the record change."""

    record: LeaseRecord
    since: float


def observe(previous: Observed | None, record: LeaseRecord, now: float) -> Observed:
    """Remember `record`; the clock restarts only when the holder renewed or changed."""
    if previous is not None and _same(previous.record, record):
        return previous
    return Observed(record, now)


def _same(a: LeaseRecord, b: LeaseRecord) -> bool:
    return (a.holder, a.renewed, a.acquired, a.transitions) == (
        b.holder,
        b.renewed,
        b.acquired,
        b.transitions,
    )


@dataclass(frozen=True)
class Create:
    """No lease yet: create it, held by us."""


@dataclass(frozen=True)
class Take:
    """Free or expired: take it over (one more transition)."""


@dataclass(frozen=True)
class Renew:
    """Ours: renew it."""


@dataclass(frozen=True)
class Wait:
    """Someone else holds it; it expires (for us) `seconds` from now unless renewed."""

    holder: str
    seconds: float


Decision = Create | Take | Renew | Wait


def decide(observed: Observed | None, me: str, now: float) -> Decision:
    if observed is None:
        return Create()
    record = observed.record
    if record.holder == me:
        return Renew()
    left = observed.since + record.duration.total_seconds() - now
    if not record.holder or left <= 0:
        return Take()
    return Wait(record.holder, left)


def lease_body(
    name: str,
    namespace: str,
    me: str,
    decision: Create | Take | Renew,
    record: LeaseRecord | None,
    duration: timedelta,
    at: datetime,
) -> KubeObject:
    """The Lease to create or PUT for `decision` (with the resourceVersion it read)."""
    acquired = at if not isinstance(decision, Renew) or record is None else (record.acquired or at)
    transitions = (record.transitions if record else 0) + (1 if isinstance(decision, Take) else 0)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if record is not None and record.resource_version is not None:
        metadata["resourceVersion"] = record.resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": me,
            "leaseDurationSeconds": max(1, int(duration.total_seconds())),
            "acquireTime": _stamp(acquired),
            "renewTime": _stamp(at),
            "leaseTransitions": transitions,
        },
    }


def released_body(name: str, namespace: str, record: LeaseRecord, at: datetime) -> KubeObject:
    """Give the lease up at shutdown: no holder, so the next candidate takes it at once."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if record.resource_version is not None:
        metadata["resourceVersion"] = record.resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": _stamp(record.acquired or at),
            "renewTime": _stamp(at),
            "leaseTransitions": record.transitions,
        },
    }


def _stamp(moment: datetime) -> str:
    """MicroTime, as the API server writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
