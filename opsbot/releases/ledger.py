"""Which versions ran where, and the last one that worked (pure).

The record is opsbot's own: every time a Deployment's rollout completes at a version it
did not have, a `VersionRecord` is stored (attributed to the promote / rollback that
made it, when opsbot did). `rollback` takes the newest record whose version is not the
current one; without records it falls back to Flux's HelmRelease history, then to the
Deployment's ReplicaSet revisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opsbot.core.kubeobjects import KubeObject, status
from opsbot.core.rows import DeploymentRow
from opsbot.core.versions import RolloutState
from opsbot.releases.records import Release, VersionRecord


def became_available(row: DeploymentRow, last: VersionRecord | None) -> bool:
    """The row shows a completed rollout at a version the record does not have yet."""
    if row.version is None or row.rollout is not RolloutState.OK or row.available < row.desired:
        return False
    return last is None or last.version != row.version


def record_for(
    cluster: str, row: DeploymentRow, at: float, release: Release | None, *, first_sight: bool
) -> VersionRecord:
    """The record of `row`'s version becoming available, attributed to `release` when it
    made that version. At first sight the rollout finished before opsbot looked: its
    last change time is the best estimate of when."""
    when = (row.changed or at) if first_sight else at
    made = release is not None and release.to_version == row.version
    return VersionRecord(
        cluster=cluster,
        namespace=row.namespace,
        deployment=row.name,
        apps=row.apps or (row.name,),
        version=row.version or "?",
        available_at=when,
        action=release.action.value if made and release is not None else None,
        requested_by=release.requested_by if made and release is not None else "",
        approved_by=release.approved_by if made and release is not None else (),
        names=dict(release.names) if made and release is not None else {},
        release_id=release.id if made and release is not None else "",
    )


@dataclass(frozen=True)
class HistoryLine:
    record: VersionRecord
    ran_for: float | None  # seconds until the next version; None: still running
    current: bool


def credited(release: Release, last: VersionRecord | None, now: float) -> VersionRecord | None:
    """The record crediting `release` now that it is available, unless one does already.

    The watch may show the new version available before the release is handed over (Flux
    can apply a push before the push returns): that record then says "seen"; this one,
    with the same moment, says who made it (`history_lines` keeps only the credited one)."""
    if last is not None and last.version == release.to_version and last.action:
        return None
    same = last is not None and last.version == release.to_version
    apps = (last.apps if last is not None else ()) or (release.deployment,)
    return VersionRecord(
        cluster=release.cluster,
        namespace=release.namespace,
        deployment=release.deployment,
        apps=tuple(dict.fromkeys((*apps, release.app))),
        version=release.to_version,
        available_at=last.available_at if same and last is not None else now,
        action=release.action.value,
        requested_by=release.requested_by,
        approved_by=release.approved_by,
        names=dict(release.names),
        release_id=release.id,
    )


def history_lines(records: Sequence[VersionRecord], now: float) -> list[HistoryLine]:
    """Records newest first → lines with how long each version ran (until the next record
    of the same Deployment on the same cluster). A version recorded twice in a row (seen,
    then credited to the release that made it) is one line, the credited one."""
    lines: list[HistoryLine] = []
    later: dict[tuple[str, str], float] = {}
    newest: dict[tuple[str, str], VersionRecord] = {}
    for record in sorted(records, key=lambda r: (r.available_at, bool(r.action)), reverse=True):
        key = (record.cluster, record.target)
        previous = newest.get(key)
        if previous is not None and previous.version == record.version:
            continue
        newest[key] = record
        until = later.get(key)
        ran = (until - record.available_at) if until is not None else None
        lines.append(HistoryLine(record, ran, until is None))
        later[key] = record.available_at
    return lines


def last_good(records: Sequence[VersionRecord], current: str | None) -> VersionRecord | None:
    """The newest recorded version other than `current` (records of one Deployment)."""
    for record in sorted(records, key=lambda r: r.available_at, reverse=True):
        if record.version != current:
            return record
    return None


def helm_history(release: KubeObject) -> list[str]:
    """Chart versions a HelmRelease deployed, newest first (build metadata dropped, failed
    releases skipped)."""
    found: list[str] = []
    for entry in status(release).get("history") or []:
        if not isinstance(entry, dict) or entry.get("status") not in ("deployed", "superseded"):
            continue
        version = str(entry.get("chartVersion") or "").split("+", 1)[0]
        if version and version not in found:
            found.append(version)
    return found


def who(record: VersionRecord) -> str:
    """`promote by alice, approved by bob` / `seen` (not made through opsbot)."""
    if not record.action:
        return "seen (not through opsbot)"
    text = f"{record.action} by {record.names.get(record.requested_by) or record.requested_by}"
    if record.approved_by:
        text += ", approved by " + ", ".join(record.names.get(u) or u for u in record.approved_by)
    return text
