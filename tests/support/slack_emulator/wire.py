"""Web API argument handling shared by the emulator's endpoints: errors and lenient parsing."""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    """A Slack Web API error reply ({"ok": false, "error": ...})."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)


def truthy(value: Any) -> bool:
    """Slack booleans arrive as True, 1, "1" or "true" depending on the client."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return False


def opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def parse_json_arg(value: Any, error: str) -> Any:
    """Arguments like blocks/files may be a JSON string (forms) or a structure (JSON bodies)."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(error, "[ERROR] failed to parse JSON") from None
    return value
