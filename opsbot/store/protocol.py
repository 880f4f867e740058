"""What every state backend implements (SQLite, Redis): the calls the features make.

One Protocol, spelled out, so a backend is checked by mypy against all of it and the
contract tests (tests/contract/) can run the same expectations over each backend.
Documents are JSON dicts; timestamps are epoch seconds.

Two kinds of call, by who makes them. What the event loop uses (incidents, mutes, the
outbox journal, approvals, Alertmanager state) is awaited: Redis answers through redis-py's
asyncio client and the loop never waits on a socket. What worker threads use (releases and
versions, audit, saved contexts, housekeeping) blocks: those threads may wait, and Redis
answers through redis-py's synchronous client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from opsbot.ports import Document

FINAL_APPROVAL_STATUSES = ("succeeded", "failed", "cancelled", "expired", "rejected")
"""The approval machine's final states (opsbot.approvals.machine.Status.final), as stored."""


class StateStore(Protocol):
    # incidents and mutes (opsbot.ports.Store) ---------------------------------------
    async def put_incident(self, incident_id: str, key: str, state: str, channel: str, data: Document) -> None: ...

    async def incidents(self, *, state: str | None = None) -> list[Document]:
        """Oldest write first."""
        ...

    async def incident(self, incident_id: str) -> Document | None: ...

    def prune_incidents(self, *, resolved_before: float) -> int:
        """Delete the incidents resolved and last written before `resolved_before`; how many."""
        ...

    async def put_mute(self, mute_id: str, pattern: str, until: float, data: Document) -> None: ...

    async def delete_mute(self, mute_id: str) -> bool: ...

    async def mutes(self, *, now: float) -> list[Document]:
        """Mutes still running at `now`, soonest to end first; ended ones are deleted."""
        ...

    # outbox journal -------------------------------------------------------------------
    async def save_unsent(self, records: list[Document]) -> None: ...

    async def take_unsent(self) -> list[Document]: ...

    # approvals ------------------------------------------------------------------------
    async def put_approval(self, approval_id: str, status: str, data: Document) -> None: ...

    async def replace_approval(self, approval_id: str, status: str, data: Document, *, revision: int) -> bool:
        """Store `data` only if the stored approval's revision is still `revision`."""
        ...

    async def approval(self, approval_id: str) -> Document | None: ...

    async def approvals(self, *, status: str) -> list[Document]: ...

    def prune_approvals(self, *, over_before: float) -> int:
        """Delete the approvals in a final status last written before `over_before`; how many."""
        ...

    # alertmanager (opsbot.alertmanager.state.AlertmanagerStore) ------------------------
    async def first_notification(self, key: str, at: float) -> bool: ...

    async def forget_notification(self, key: str) -> None: ...

    async def forget_notifications(self, before: float) -> None: ...

    async def put_am_group(self, key: str, data: Document) -> None: ...

    async def am_groups(self) -> list[Document]: ...

    async def am_group(self, key: str) -> Document | None: ...

    async def put_remediation(
        self, remediation_id: str, incident_key: str, closed: str, data: Document, *, delivery: tuple[str, str] | None
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
    ) -> bool:
        """`put_remediation` only if the stored remediation's revision is still `revision`."""
        ...

    async def remediation(self, remediation_id: str) -> Document | None: ...

    async def open_remediations(self) -> list[Document]: ...

    async def pending_deliveries(self) -> list[Document]: ...

    # releases -------------------------------------------------------------------------
    def claim_release(self, release_id: str, cluster: str, target: str, data: Document) -> Document | None: ...

    def put_release(self, release_id: str, active: bool, data: Document) -> None: ...

    def active_releases(self) -> list[Document]: ...

    def add_version(self, cluster: str, target: str, apps: list[str], at: float, data: Document) -> None: ...

    def versions(self, *, cluster: str | None, app: str | None, limit: int) -> list[Document]: ...

    def latest_versions(self) -> list[Document]: ...

    # audit (opsbot.core.audit.AuditLog) ----------------------------------------------
    def append_audit(self, at: float, user_id: str, kind: str, data: Document) -> None: ...

    def audit_records(self, *, user_id: str | None = None, last: int = 20) -> list[Document]: ...

    # contexts (opsbot.ports.ContextStore) --------------------------------------------
    def contexts(self, keys: Sequence[str]) -> list[tuple[Document, float] | None]: ...

    def put_context(self, key: str, data: Document, used_at: float) -> None: ...

    def touch_context(self, key: str, used_at: float) -> None: ...

    def delete_context(self, key: str) -> bool: ...

    # health and lifecycle -------------------------------------------------------------
    def problem(self) -> str | None:
        """Why the store cannot be used right now, or None (at start, and from worker threads)."""
        ...

    async def aproblem(self) -> str | None:
        """`problem`, from the event loop (readiness)."""
        ...

    def close(self) -> None:
        """From a worker thread or at exit; on the loop, `aclose`."""
        ...

    async def aclose(self) -> None:
        """Close from the event loop (Redis: its asyncio connections too)."""
        ...
