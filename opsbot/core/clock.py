"""The wall clock, behind the `Clock` port so tests can hold time still."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
