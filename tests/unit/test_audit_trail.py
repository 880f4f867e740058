"""The audit trail keeps what a shared store could not take for a while, and writes it in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from opsbot.core.audit import Auditor, AuditRecord
from opsbot.errors import StoreUnavailable

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class FlakyLog:
    def __init__(self) -> None:
        self.away = False
        self.written: list[dict[str, Any]] = []

    def append_audit(self, at: float, user_id: str, kind: str, data: dict[str, Any]) -> None:
        if self.away:
            raise StoreUnavailable("the shared store is unavailable (Redis cannot be reached)")
        self.written.append(data)

    def audit_records(self, *, user_id: str | None = None, last: int = 20) -> list[dict[str, Any]]:
        return self.written[-last:]


def record(number: int) -> AuditRecord:
    return AuditRecord(
        NOW + timedelta(seconds=number),
        "command",
        "U0ALICE01",
        "alice",
        "C1",
        None,
        f"pods #{number}",
        "prod",
        "web",
        None,
        "ok",
    )


def test_records_the_store_could_not_take_are_written_in_order_once_it_answers() -> None:
    trail = FlakyLog()
    auditor = Auditor(trail)
    auditor.record(record(1))
    trail.away = True
    auditor.record(record(2))
    auditor.record(record(3))
    assert [r["command"] for r in trail.written] == ["pods #1"]
    trail.away = False
    auditor.record(record(4))
    assert [r["command"] for r in trail.written] == ["pods #1", "pods #2", "pods #3", "pods #4"]
    auditor.record(record(5))
    assert len(trail.written) == 5  # each written once
