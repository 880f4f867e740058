"""The one way opsbot writes a duration: kubectl's short form (45s, 12m, 3h4m, 5d, 2y)."""

from __future__ import annotations

from datetime import timedelta


def short_duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def since(delta: timedelta) -> str:
    """A `timedelta` the same way (negative ones as 0s)."""
    return short_duration(max(0, int(delta.total_seconds())))


def count(number: int, noun: str, plural: str | None = None) -> str:
    """`1 pod`, `3 pods`, `0 pods` (`plural` for irregular nouns)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1h30m``, ``1d``, ``1w`` → a timedelta; ValueError otherwise."""
    rest = text.strip().lower()
    if not rest:
        raise ValueError("empty duration")
    total = 0
    number = ""
    for char in rest:
        if char.isdigit():
            number += char
            if len(number) > 6:
                raise ValueError(f"{text!r} is not a duration")
        elif char in _UNIT_SECONDS and number:
            total += int(number) * _UNIT_SECONDS[char]
            number = ""
        else:
            raise ValueError(f"{text!r} is not a duration (e.g. 30m, 2h, 1h30m, 1d)")
    if number:
        raise ValueError(f"{text!r} needs a unit (s, m, h, d or w)")
    if total <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return timedelta(seconds=total)
