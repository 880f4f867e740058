"""What the release feature remembers across restarts, as plain data, and the store it needs.

- `Release`: one promote / rollback from the moment it is approved until it is live (or
  failed, or timed out). While it is active it holds its app on its cluster: one change
  per app and cluster at a time.
- `VersionRecord`: a version that became fully available on a cluster (seen by the
  watches, attributed to a promote / rollback when opsbot made it). `history` reads
  them; `rollback` picks "the last version that worked" from them.

`ReleaseStore` is the whole persistence contract (SQLite now, Redis later): a handful
of small typed methods, each one statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from opsbot.releases.changes import Action


class Phase(StrEnum):
    DELIVERING = "delivering"  # claimed; the commit / patch is being made
    COMMITTED = "committed"  # gitops: pushed, waiting for Flux
    PATCHED = "patched"  # direct: the Deployment was patched
    APPLIED = "applied"  # Flux applied the commit / released the chart
    ROLLING_OUT = "rolling out"
    AVAILABLE = "available"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    ABORTED = "aborted"  # the delivery itself failed: nothing was changed

    @property
    def final(self) -> bool:
        return self in (Phase.AVAILABLE, Phase.FAILED, Phase.TIMED_OUT, Phase.ABORTED)


@dataclass(frozen=True)
class FluxRef:
    """The Flux object that applies an app on a cluster."""

    kind: str  # Kustomization | HelmRelease
    name: str
    namespace: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Release:
    """One promote / rollback of `app` on `cluster` (Deployment `namespace/deployment`)."""

    id: str
    action: Action
    app: str
    cluster: str
    namespace: str
    deployment: str
    from_version: str
    to_version: str
    mode: str  # gitops | direct
    requested_by: str
    started_at: float
    deadline: float
    phase: Phase = Phase.DELIVERING
    approved_by: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # user id → display name
    channel: str = ""
    thread: str | None = None  # the conversation's thread (the request, or the card)
    approval_id: str = ""
    layout: str | None = None  # gitops: the layout of the edited field
    repository: str | None = None
    path: str | None = None
    commit: str | None = None
    flux: FluxRef | None = None
    detail: str = ""  # the last progress line (said once)
    steps: tuple[str, ...] = ()  # what the live status lists so far
    finished_at: float | None = None
    seen: Mapping[str, str] = field(default_factory=dict)  # object key → last resourceVersion applied
    status_message: str | None = None  # where the live status is shown (front end's message id)
    card: str | None = None  # the approval card (front end's message id)

    @property
    def target(self) -> str:
        """`namespace/deployment`: what the lock holds on the cluster."""
        return f"{self.namespace}/{self.deployment}"

    @property
    def active(self) -> bool:
        return not self.phase.final

    def name_of(self, user: str) -> str:
        return self.names.get(user) or user

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        data["phase"] = self.phase.value
        data["names"] = dict(self.names)
        data["seen"] = dict(self.seen)
        data["approved_by"] = list(self.approved_by)
        data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Release:
        flux = data.get("flux")
        fields = dict(data)
        fields.update(
            action=Action(data["action"]),
            phase=Phase(data["phase"]),
            approved_by=tuple(data.get("approved_by") or ()),
            steps=tuple(data.get("steps") or ()),
            names=dict(data.get("names") or {}),
            seen=dict(data.get("seen") or {}),
            flux=FluxRef(**flux) if isinstance(flux, dict) else None,
        )
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in fields.items() if key in known})

    def moved(self, phase: Phase, detail: str | None = None, **changes: Any) -> Release:
        return replace(self, phase=phase, detail=self.detail if detail is None else detail, **changes)


@dataclass(frozen=True)
class VersionRecord:
    """`version` became fully available on `cluster` at `available_at` (epoch seconds).

    `action` None: seen by the watches, not made by opsbot (or before opsbot knew the app).
    """

    cluster: str
    namespace: str
    deployment: str
    apps: tuple[str, ...]
    version: str
    available_at: float
    action: str | None = None
    requested_by: str = ""
    approved_by: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    release_id: str = ""

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.deployment}"

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["apps"] = list(self.apps)
        data["approved_by"] = list(self.approved_by)
        data["names"] = dict(self.names)
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> VersionRecord:
        fields = dict(data)
        fields.update(
            apps=tuple(data.get("apps") or ()),
            approved_by=tuple(data.get("approved_by") or ()),
            names=dict(data.get("names") or {}),
        )
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in fields.items() if key in known})


@dataclass(frozen=True)
class FieldVersion:
    """Where the GitOps repository keeps an app's version on a cluster, and what it says."""

    repository: str
    branch: str
    head: str  # the commit read
    path: str
    field: str
    line: int
    version: str


class ReleaseStore(Protocol):
    """Persistence of releases and version records; every method is one small statement."""

    def claim_release(self, release: Release) -> Release | None:
        """Store `release` as the active change of its app on its cluster; when another one
        is active there, store nothing and return that one (the holder)."""
        ...

    def put_release(self, release: Release) -> None:
        """Update a claimed release (an inactive one no longer holds its app)."""
        ...

    def active_releases(self) -> list[Release]: ...

    def add_version(self, record: VersionRecord) -> None: ...

    def versions(
        self, *, cluster: str | None = None, app: str | None = None, limit: int = 100
    ) -> list[VersionRecord]:
        """Version records, newest first (`app`: any name the app goes by)."""
        ...

    def latest_versions(self) -> list[VersionRecord]:
        """The newest record of every Deployment on every cluster."""
        ...
