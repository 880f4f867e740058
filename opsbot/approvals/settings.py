"""``approvals:`` in the config."""

from __future__ import annotations

from pydantic import Field

from opsbot.core.settings import Strict


class ApprovalsSettings(Strict):
    expire_after_minutes: float = Field(default=15, gt=0, le=24 * 60)
    audit_channel: str | None = None  # every approval step and execution is also posted here
