"""The audit trail keeps what a shared store could not take for a while, and writes it in order."""

from __future__ import annotations

import dataclasses
import threading
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


class GatedLog(FlakyLog):
    """A store whose writes wait until the test opens the gate (a shared store that is slow)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.writers: set[str] = set()

    def append_audit(self, at: float, user_id: str, kind: str, data: dict[str, Any]) -> None:
        self.writers.add(threading.current_thread().name)
        self.gate.wait(timeout=5)
        super().append_audit(at, user_id, kind, data)


def test_a_read_is_audited_behind_the_answer_so_a_slow_store_does_not_delay_it() -> None:
    trail = GatedLog()
    auditor = Auditor(trail, behind=True)
    auditor.record(record(1))  # returns at once: were it written here, it would wait for the gate
    auditor.record(record(2))
    assert trail.written == []
    trail.gate.set()
    auditor.close()
    assert [r["command"] for r in trail.written] == ["pods #1", "pods #2"]
    assert {name.split("_")[0] for name in trail.writers} == {"opsbot-audit"}


def test_an_approval_is_written_before_the_caller_goes_on_after_the_reads_before_it() -> None:
    trail = FlakyLog()
    auditor = Auditor(trail, behind=True)
    auditor.record(record(1))
    auditor.record(dataclasses.replace(record(2), kind="approval", command="scale web"))
    assert [r["command"] for r in trail.written] == ["pods #1", "scale web"]
    auditor.close()
    assert len(trail.written) == 2


def test_reading_the_trail_shows_this_process_s_own_queued_records() -> None:
    trail = GatedLog()
    trail.gate.set()
    auditor = Auditor(trail, behind=True)
    auditor.record(record(1))
    assert [r["command"] for r in auditor.recent()] == ["pods #1"]
    auditor.close()
    assert len(trail.written) == 1
