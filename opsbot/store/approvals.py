"""The approval repository on a store (SQLite or Redis): pending requests survive a restart,
and a transition is written only over the state it was computed from (compare-and-set on
the approval's revision), so two replicas can never both start the same action."""

from __future__ import annotations

from typing import Protocol

import structlog

from opsbot.approvals.codec import approval_from_dict, approval_to_dict
from opsbot.approvals.machine import Approval, Status
from opsbot.ports import Document

log = structlog.get_logger("opsbot.store")


class ApprovalRecords(Protocol):
    """The approval calls of `opsbot.store.protocol.StateStore`."""

    async def put_approval(self, approval_id: str, status: str, data: Document) -> None: ...

    async def replace_approval(self, approval_id: str, status: str, data: Document, *, revision: int) -> bool: ...

    async def approval(self, approval_id: str) -> Document | None: ...

    async def approvals(self, *, status: str) -> list[Document]: ...


class StoreApprovals:
    def __init__(self, store: ApprovalRecords) -> None:
        self._store = store

    async def get(self, approval_id: str) -> Approval | None:
        data = await self._store.approval(approval_id)
        if data is None:
            return None
        try:
            return approval_from_dict(data)
        except (KeyError, ValueError, TypeError):
            log.warning("approval_record_unreadable", approval_id=approval_id[:64])
            return None

    async def put(self, approval: Approval) -> None:
        await self._store.put_approval(approval.id, approval.status.value, approval_to_dict(approval))

    async def replace(self, before: Approval, after: Approval) -> bool:
        return await self._store.replace_approval(
            after.id, after.status.value, approval_to_dict(after), revision=before.revision
        )

    async def pending(self) -> list[Approval]:
        return await self._in(Status.PENDING)

    async def executing(self) -> list[Approval]:
        return await self._in(Status.EXECUTING)

    async def _in(self, status: Status) -> list[Approval]:
        found = []
        for data in await self._store.approvals(status=status.value):
            try:
                found.append(approval_from_dict(data))
            except (KeyError, ValueError, TypeError):
                log.warning("approval_record_unreadable", approval_id=str(data.get("id", ""))[:64])
        return found
