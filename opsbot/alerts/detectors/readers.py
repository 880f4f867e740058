"""Junk-proof readers shared by every detector: whatever the object holds, they return a value
of the type asked for (an empty one when the field is missing or of the wrong type)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opsbot.ports import KubeObject


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text(value: object) -> str:
    return value if isinstance(value, str) else ""


def integer(value: object) -> int | None:
    """An int, also from an integral float or a numeric string; never from a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def readable(value: object) -> KubeObject | None:
    """An old object we cannot read tells us nothing: treat it as first sight."""
    return value if isinstance(value, dict) else None


def metadata(obj: KubeObject) -> dict[str, Any]:
    return as_dict(obj.get("metadata"))


def status(obj: KubeObject) -> dict[str, Any]:
    return as_dict(obj.get("status"))


def name(obj: KubeObject) -> str:
    return text(metadata(obj).get("name"))


def namespace(obj: KubeObject) -> str:
    return text(metadata(obj).get("namespace"))


def labels(obj: KubeObject) -> dict[str, str]:
    found = metadata(obj).get("labels")
    if not isinstance(found, dict):
        return {}
    return {key: value for key, value in found.items() if isinstance(key, str) and isinstance(value, str)}


def aware(moment: datetime) -> datetime:
    """A naive datetime is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def moment_of(value: object) -> datetime | None:
    """An RFC 3339 time as an aware datetime (a time without offset is taken as UTC); None for junk."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None
