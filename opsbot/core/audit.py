"""The audit trail: one append-only record per command, denial, approval decision and
execution result. Each record goes to the store (which refuses updates and deletes)
and out as a structured log line, so it also reaches the log pipeline."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import structlog

from opsbot.core.reply import Mention, Mono, Strong, Text

log = structlog.get_logger("opsbot.audit")

UNWRITTEN_KEPT = 10_000

AuditKind = Literal["command", "denied", "approval", "execution"]
# Records of reads: written behind the answer (see Auditor).
BEHIND_THE_ANSWER: frozenset[str] = frozenset({"command", "denied"})


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
    hands mutating actions (approval steps, executions) to `mirror`, e.g. an audit channel.

    With `behind=True` (the bot) the records of reads (`command`, `denied`) are written by
    one audit thread, behind the answer: a round trip to a shared store is not added to
    every reply, and a slow one cannot stall the event loop. Approval steps and executions
    are written before the caller goes on, after every record before them: one writer at a
    time, in order."""

    def __init__(
        self,
        store: AuditLog | None,
        mirror: Callable[[AuditRecord], None] | None = None,
        *,
        behind: bool = False,
    ) -> None:
        self._store = store
        self.mirror = mirror
        # Records not written yet: queued behind an answer, or refused by a shared store away
        # for a while (written, in order, once it answers). Bounded: the log has them all.
        self._unwritten: deque[AuditRecord] = deque(maxlen=UNWRITTEN_KEPT)
        self._writing = threading.Lock()
        self._writer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsbot-audit") if behind else None
        )
        self._queued = threading.Event()  # a write is queued on the writer thread

    def record(self, record: AuditRecord) -> None:
        data = record.to_dict()
        log.info("audit", **{key: value for key, value in data.items() if key != "at"})
        if self._store is not None:
            self._unwritten.append(record)
            if self._writer is not None and record.kind in BEHIND_THE_ANSWER:
                self._queue_write(self._writer)
            else:
                self._write_unwritten()
        if self.mirror is not None and record.kind in {"approval", "execution"}:
            try:
                self.mirror(record)
            except Exception:
                log.exception("audit_mirror_failed", kind=record.kind)

    def _queue_write(self, writer: ThreadPoolExecutor) -> None:
        if self._queued.is_set():
            return  # the queued write takes this record too
        self._queued.set()
        try:
            writer.submit(self._write_queued)
        except RuntimeError:  # closed: write here
            self._queued.clear()
            self._write_unwritten()

    def _write_queued(self) -> None:
        self._queued.clear()  # first: a record added during the write queues the next one
        self._write_unwritten()

    def _write_unwritten(self) -> None:
        assert self._store is not None
        with self._writing:
            while self._unwritten:
                record = self._unwritten[0]
                try:
                    self._store.append_audit(
                        record.at.timestamp(), record.user_id, record.kind, record.to_dict()
                    )
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

    def close(self) -> None:
        """Writes what is queued (at shutdown, before the store closes)."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        if self._store is not None and self._unwritten:
            self._write_unwritten()

    def recent(self, *, user_id: str | None = None, last: int = 20) -> list[dict[str, Any]]:
        """The newest records, this process's own queued ones written first."""
        if self._store is None:
            return []
        if self._unwritten:
            self._write_unwritten()
        return self._store.audit_records(user_id=user_id, last=last)
