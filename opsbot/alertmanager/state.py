"""What the Alertmanager feature remembers: alert groups (in memory on the replica running the
loops, written through) and remediations (in the store only). The store is a small Protocol
that SQLite and Redis implement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import structlog

from opsbot.alertmanager.groups import AlertGroup
from opsbot.alertmanager.remediation import Remediation
from opsbot.core.writes import LatestWrites
from opsbot.errors import StoreConflict, StoreUnavailable
from opsbot.ports import Document

log = structlog.get_logger("opsbot.alertmanager")

CHANGE_ATTEMPTS = 5
"""Compare-and-set rounds before giving up: each lost round means another writer won one."""


class AlertmanagerStore(Protocol):
    async def first_notification(self, key: str, at: float) -> bool: ...

    async def forget_notification(self, key: str) -> None: ...

    async def forget_notifications(self, before: float) -> None: ...

    async def put_am_group(self, key: str, data: Document) -> None: ...

    async def am_groups(self) -> list[Document]: ...

    async def am_group(self, key: str) -> Document | None: ...

    async def put_remediation(
        self,
        remediation_id: str,
        incident_key: str,
        closed: str,
        data: Document,
        *,
        delivery: tuple[str, str] | None,
    ) -> None: ...

    async def replace_remediation(
        self,
        remediation_id: str,
        incident_key: str,
        closed: str,
        data: Document,
        *,
        delivery: tuple[str, str] | None,
        revision: int,
    ) -> bool: ...

    async def remediation(self, remediation_id: str) -> Document | None: ...

    async def open_remediations(self) -> list[Document]: ...

    async def pending_deliveries(self) -> list[Document]: ...


@dataclass(frozen=True)
class Changed:
    before: Remediation
    after: Remediation

    @property
    def written(self) -> bool:
        return self.after is not self.before


class State:
    """Groups by key (and their alerts by fingerprint) in memory, written through; remediations
    in the store only (any replica decides on them: each change is a compare-and-set)."""

    def __init__(self, store: AlertmanagerStore) -> None:
        self.store = store
        self.groups: dict[str, AlertGroup] = {}
        self._by_fingerprint: dict[str, str] = {}
        self._last_read: dict[str, Remediation] = {}
        self._writes: LatestWrites[str, AlertGroup] = LatestWrites(self._put)

    async def load(self) -> int:
        for data in await self.store.am_groups():
            group = self._read_group(data)
            if group is not None:
                self._remember(group)
        return len(self.groups)

    def forget(self) -> None:
        """Another replica runs the Alertmanager loops now: these copies would go stale."""
        self.groups.clear()
        self._by_fingerprint.clear()

    # groups ---------------------------------------------------------------------------

    def group(self, key: str) -> AlertGroup | None:
        return self.groups.get(key)

    async def stored_group(self, key: str) -> AlertGroup | None:
        """As the replica running the Alertmanager loops last wrote it (any replica may ask)."""
        data = await self.store.am_group(key)
        return self._read_group(data) if data is not None else None

    def group_of(self, fingerprint: str) -> AlertGroup | None:
        key = self._by_fingerprint.get(fingerprint)
        return self.groups.get(key) if key else None

    async def put_group(self, group: AlertGroup) -> None:
        """Memory at once, then the store. Compute `group` from `group(key)` read after your
        last await: another task may have changed it while you waited."""
        if self.groups.get(group.key) is group:
            return
        self._remember(group)
        await self._writes(group.key, group)  # two tasks' writes of one group reach the store in order

    async def _put(self, key: str, group: AlertGroup) -> None:
        await self.store.put_am_group(key, group.to_dict())

    def _remember(self, group: AlertGroup) -> None:
        self.groups[group.key] = group
        for fingerprint in group.alerts:
            self._by_fingerprint[fingerprint] = group.key

    # remediations ---------------------------------------------------------------------

    async def remediation(self, remediation_id: str) -> Remediation | None:
        """Read from the store each time: with replicas, another one may have changed it."""
        data = await self.store.remediation(remediation_id)
        found = self._read(data) if data is not None else None
        if found is not None:
            self._remember_read(found)
        return found

    async def remediations_of(self, group: AlertGroup) -> list[Remediation]:
        """For a card: the store's copies, or the last read ones while the store cannot answer."""
        try:
            return [r for rid in group.remediations if (r := await self.remediation(rid)) is not None]
        except StoreUnavailable:
            return [r for rid in group.remediations if (r := self._last_read.get(rid)) is not None]

    async def open_remediations(self) -> list[Remediation]:
        return [r for data in await self.store.open_remediations() if (r := self._read(data)) is not None]

    async def put_remediation(self, remediation: Remediation) -> None:
        """A new proposal (no one else knows its id yet): stored as is."""
        delivery = remediation.delivery
        await self.store.put_remediation(
            remediation.id,
            remediation.incident_key,
            remediation.closed,
            remediation.to_dict(),
            delivery=(delivery.webhook_id, delivery.state) if delivery is not None else None,
        )
        self._remember_read(remediation)

    async def change(
        self, remediation_id: str, change: Callable[[Remediation], Remediation | None]
    ) -> Changed | None:
        """Read, `change` (pure: it may run again), store over the revision read; when another
        replica or task wrote in between, read again and redo. None: unknown id. `change`
        returning None (or what it was given) writes nothing."""
        for _ in range(CHANGE_ATTEMPTS):
            before = await self.remediation(remediation_id)
            if before is None:
                return None
            after = change(before)
            if after is None or after == before:
                return Changed(before, before)
            after = replace(after, revision=before.revision + 1)
            delivery = after.delivery
            if await self.store.replace_remediation(
                after.id,
                after.incident_key,
                after.closed,
                after.to_dict(),
                delivery=(delivery.webhook_id, delivery.state) if delivery is not None else None,
                revision=before.revision,
            ):
                self._remember_read(after)
                return Changed(before, after)
            log.info("remediation_changed_meanwhile", remediation=remediation_id, revision=before.revision)
        raise StoreConflict(f"remediation {remediation_id} kept changing; try again")

    async def pending_deliveries(self) -> list[Remediation]:
        return [r for data in await self.store.pending_deliveries() if (r := self._read(data)) is not None]

    def _remember_read(self, remediation: Remediation) -> None:
        self._last_read[remediation.id] = remediation
        if len(self._last_read) > 5000:
            for key in [k for k, r in self._last_read.items() if r.closed][:1000]:
                del self._last_read[key]

    @staticmethod
    def _read_group(data: Document) -> AlertGroup | None:
        try:
            return AlertGroup.from_dict(data)
        except (KeyError, ValueError, TypeError):
            log.warning("alert_group_record_unreadable", record=str(data)[:200])
            return None

    @staticmethod
    def _read(data: Document) -> Remediation | None:
        try:
            return Remediation.from_dict(data)
        except (KeyError, ValueError, TypeError):
            log.warning("remediation_record_unreadable", record=str(data.get("id", ""))[:64])
            return None
