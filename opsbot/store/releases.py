"""Releases and version records on a store, SQLite or Redis (`opsbot.releases.records.ReleaseStore`)."""

from __future__ import annotations

from typing import Protocol

import structlog

from opsbot.ports import Document
from opsbot.releases.records import Release, VersionRecord

log = structlog.get_logger("opsbot.store")


class ReleaseRecords(Protocol):
    """The release calls of `opsbot.store.protocol.StateStore`."""

    def claim_release(self, release_id: str, cluster: str, target: str, data: Document) -> Document | None: ...

    def put_release(self, release_id: str, active: bool, data: Document) -> None: ...

    def active_releases(self) -> list[Document]: ...

    def add_version(self, cluster: str, target: str, apps: list[str], at: float, data: Document) -> None: ...

    def versions(self, *, cluster: str | None, app: str | None, limit: int) -> list[Document]: ...

    def latest_versions(self) -> list[Document]: ...


class StoreReleases:
    def __init__(self, store: ReleaseRecords) -> None:
        self._store = store

    def claim_release(self, release: Release) -> Release | None:
        holder = self._store.claim_release(release.id, release.cluster, release.target, release.to_data())
        if holder is None:
            return None
        try:
            return Release.from_data(holder)
        except (KeyError, ValueError, TypeError):
            log.warning("release_record_unreadable", cluster=release.cluster, target=release.target)
            return release

    def put_release(self, release: Release) -> None:
        self._store.put_release(release.id, release.active, release.to_data())

    def active_releases(self) -> list[Release]:
        found = []
        for data in self._store.active_releases():
            try:
                found.append(Release.from_data(data))
            except (KeyError, ValueError, TypeError):
                log.warning("release_record_unreadable", release_id=str(data.get("id", ""))[:64])
        return found

    def add_version(self, record: VersionRecord) -> None:
        self._store.add_version(
            record.cluster, record.target, list(record.apps), record.available_at, record.to_data()
        )

    def versions(
        self, *, cluster: str | None = None, app: str | None = None, limit: int = 100
    ) -> list[VersionRecord]:
        return [
            VersionRecord.from_data(d) for d in self._store.versions(cluster=cluster, app=app, limit=limit)
        ]

    def latest_versions(self) -> list[VersionRecord]:
        return [VersionRecord.from_data(d) for d in self._store.latest_versions()]
