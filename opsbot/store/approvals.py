"""The approval repository on SQLite: pending requests survive a restart and can still
be confirmed or approved afterwards."""

from __future__ import annotations

import structlog

from opsbot.approvals.codec import approval_from_dict, approval_to_dict
from opsbot.approvals.machine import Approval, Status
from opsbot.store.sqlite import SqliteStore

log = structlog.get_logger("opsbot.store")


class SqliteApprovals:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def get(self, approval_id: str) -> Approval | None:
        data = self._store.approval(approval_id)
        if data is None:
            return None
        try:
            return approval_from_dict(data)
        except (KeyError, ValueError, TypeError):
            log.warning("approval_record_unreadable", approval_id=approval_id[:64])
            return None

    def put(self, approval: Approval) -> None:
        self._store.put_approval(approval.id, approval.status.value, approval_to_dict(approval))

    def pending(self) -> list[Approval]:
        return self._in(Status.PENDING)

    def executing(self) -> list[Approval]:
        return self._in(Status.EXECUTING)

    def _in(self, status: Status) -> list[Approval]:
        found = []
        for data in self._store.approvals(status=status.value):
            try:
                found.append(approval_from_dict(data))
            except (KeyError, ValueError, TypeError):
                log.warning("approval_record_unreadable", approval_id=str(data.get("id", ""))[:64])
        return found
