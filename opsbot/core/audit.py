"""The audit trail: one append-only record per command, denial, approval decision and
execution result. Each record goes to the store (which refuses updates and deletes)
and out as a structured log line, so it also reaches the log pipeline."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import structlog

from opsbot.core.reply import Mention, Mono, Strong, Text

log = structlog.get_logger("opsbot.audit")

UNWRITTEN_KEPT = 10_000

AuditKind = Literal["command", "denied", "approval", "execution"]


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    kind: AuditKind
    user_id: str
    user_name: str
    channel: str
    thread: str | None  # the message whose thread the request came from
    command: str  # normalized command text, or the action's summary
    cluster: str | None
    namespace: str | None
    target: str | None  # kind/name of the object, when there is one
    outcome: str
    duration_ms: float | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


class AuditLog(Protocol):
    def append_audit(self, at: float, user_id: str, kind: str, data: dict[str, Any]) -> None: ...

    def audit_records(self, *, user_id: str | None = None, last: int = 20) -> list[dict[str, Any]]: ...


def mirror_line(record: AuditRecord) -> Text:
    """One line for the audit channel."""
    where = (
        Text(" in ", Mono(record.namespace or "-"), " on ", Mono(record.cluster))
        if record.cluster
        else Text()
    )
    return Text(
        Mention(record.user_id), f" · {record.kind} · {record.command}", where, " → ", Strong(record.outcome)
    )


class Auditor:
    """Writes every record to the audit store (when there is one) and to the log, and
    hands mutating actions (approval steps, executions) to `mirror`, e.g. an audit channel."""

    def __init__(self, store: AuditLog | None, mirror: Callable[[AuditRecord], None] | None = None) -> None:
        self._store = store
        self.mirror = mirror
        # Records the store could not take (a shared store away for a while): written, in
        # order, before the next record once it answers again. Bounded: the log has them all.
        self._unwritten: deque[AuditRecord] = deque(maxlen=UNWRITTEN_KEPT)

    def record(self, record: AuditRecord) -> None:
        data = record.to_dict()
        log.info("audit", **{key: value for key, value in data.items() if key != "at"})
        if self._store is not None:
            self._unwritten.append(record)
            self._write_unwritten()
        if self.mirror is not None and record.kind in {"approval", "execution"}:
            try:
                self.mirror(record)
            except Exception:
                log.exception("audit_mirror_failed", kind=record.kind)

    def _write_unwritten(self) -> None:
        assert self._store is not None
        while self._unwritten:
            record = self._unwritten[0]
            try:
                self._store.append_audit(record.at.timestamp(), record.user_id, record.kind, record.to_dict())
            except Exception as exc:
                log.warning(
                    "audit_store_failed",
                    kind=record.kind,
                    user=record.user_id,
                    waiting=len(self._unwritten),
                    error=str(exc)[:200],
                )
                return
            self._unwritten.popleft()

    def recent(self, *, user_id: str | None = None, last: int = 20) -> list[dict[str, Any]]:
        return self._store.audit_records(user_id=user_id, last=last) if self._store is not None else []
