"""What the Alertmanager feature remembers, in memory and in the store: alert groups and
remediations. The store is a small Protocol (SQLite today, Redis later implements the same)."""

from __future__ import annotations

from typing import Protocol

import structlog

from opsbot.alertmanager.groups import AlertGroup
from opsbot.alertmanager.remediation import Remediation
from opsbot.ports import Document

log = structlog.get_logger("opsbot.alertmanager")


class AlertmanagerStore(Protocol):
    def first_notification(self, key: str, at: float) -> bool: ...

    def forget_notification(self, key: str) -> None: ...

    def forget_notifications(self, before: float) -> None: ...

    def put_am_group(self, key: str, data: Document) -> None: ...

    def am_groups(self) -> list[Document]: ...

    def put_remediation(
        self,
        remediation_id: str,
        incident_key: str,
        closed: str,
        data: Document,
        *,
        delivery: tuple[str, str] | None,
    ) -> None: ...

    def remediation(self, remediation_id: str) -> Document | None: ...

    def open_remediations(self) -> list[Document]: ...

    def pending_deliveries(self) -> list[Document]: ...


class State:
    """Groups by key (and their alerts by fingerprint) and remediations by id, written through."""

    def __init__(self, store: AlertmanagerStore) -> None:
        self.store = store
        self.groups: dict[str, AlertGroup] = {}
        self._by_fingerprint: dict[str, str] = {}
        self._remediations: dict[str, Remediation] = {}

    def load(self) -> int:
        for data in self.store.am_groups():
            try:
                group = AlertGroup.from_dict(data)
            except (KeyError, ValueError, TypeError):
                log.warning("alert_group_record_unreadable", record=str(data)[:200])
                continue
            self._remember(group)
        for data in self.store.open_remediations():
            remediation = self._read(data)
            if remediation is not None:
                self._remediations[remediation.id] = remediation
        return len(self.groups)

    # groups ---------------------------------------------------------------------------

    def group(self, key: str) -> AlertGroup | None:
        return self.groups.get(key)

    def group_of(self, fingerprint: str) -> AlertGroup | None:
        key = self._by_fingerprint.get(fingerprint)
        return self.groups.get(key) if key else None

    def put_group(self, group: AlertGroup) -> None:
        if self.groups.get(group.key) is group:
            return
        self._remember(group)
        self.store.put_am_group(group.key, group.to_dict())

    def _remember(self, group: AlertGroup) -> None:
        self.groups[group.key] = group
        for fingerprint in group.alerts:
            self._by_fingerprint[fingerprint] = group.key

    # remediations ---------------------------------------------------------------------

    def remediation(self, remediation_id: str) -> Remediation | None:
        found = self._remediations.get(remediation_id)
        if found is None:
            data = self.store.remediation(remediation_id)
            found = self._read(data) if data is not None else None
            if found is not None:
                self._remediations[found.id] = found
        return found

    def remediations_of(self, group: AlertGroup) -> list[Remediation]:
        return [r for rid in group.remediations if (r := self.remediation(rid)) is not None]

    def open_remediations(self) -> list[Remediation]:
        return [r for r in self._remediations.values() if not r.closed]

    def put_remediation(self, remediation: Remediation) -> None:
        """Memory and store together, with the delivery's row when it has a signal to send."""
        self._remediations[remediation.id] = remediation
        delivery = remediation.delivery
        self.store.put_remediation(
            remediation.id,
            remediation.incident_key,
            remediation.closed,
            remediation.to_dict(),
            delivery=(delivery.webhook_id, delivery.state) if delivery is not None else None,
        )
        if len(self._remediations) > 5000:
            for key in [k for k, r in self._remediations.items() if r.closed][:1000]:
                del self._remediations[key]

    def pending_deliveries(self) -> list[Remediation]:
        found = []
        for data in self.store.pending_deliveries():
            remediation = self._read(data)
            if remediation is not None:
                self._remediations[remediation.id] = remediation
                found.append(remediation)
        return found

    @staticmethod
    def _read(data: Document) -> Remediation | None:
        try:
            return Remediation.from_dict(data)
        except (KeyError, ValueError, TypeError):
            log.warning("remediation_record_unreadable", record=str(data.get("id", ""))[:64])
            return None
