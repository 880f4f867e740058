"""``slack:`` and ``outbox:`` in the config."""

from __future__ import annotations

from pydantic import Field, field_validator

from opsbot.core.settings import Strict


class SlackSettings(Strict):
    command: str = "/opsbot"

    @field_validator("command")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith("/") or " " in value:
            raise ValueError("must look like /opsbot")
        return value


class OutboxSettings(Strict):
    per_channel_per_second: float = Field(default=1.0, gt=0, le=100)
    burst: int = Field(default=3, ge=1, le=50)
    max_attempts: int = Field(default=5, ge=1, le=20)
