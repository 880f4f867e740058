"""CronJob schedules: when the next run is due (pure; the subset Kubernetes accepts).

Five fields (minute, hour, day of month, month, day of week) with ``*``, ``?``, lists,
ranges, steps (``*/15``, ``1-5/2``) and names (``JAN``, ``MON``), or a macro (``@hourly``,
``@daily``/``@midnight``, ``@weekly``, ``@monthly``, ``@yearly``/``@annually``). Like cron,
when both day fields are restricted a day matching either one counts. The time zone is
``spec.timeZone`` (IANA), or a ``CRON_TZ=``/``TZ=`` prefix, else UTC (the controller's own
zone is UTC in every managed cluster we know of).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    name: index + 1
    for index, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_DAYS = {name: index for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_SEARCH_DAYS = 366 * 5  # Feb 29 on a Monday is the rarest thing a schedule can ask for


class CronError(ValueError):
    """The schedule is not one this parser (or Kubernetes) accepts."""


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month unrestricted
    any_weekday: bool
    zone: tzinfo

    def _day_matches(self, day: datetime) -> bool:
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def next_after(self, moment: datetime) -> datetime | None:
        """The first run strictly after ``moment`` (aware), in UTC; None if none within years."""
        local = moment.astimezone(self.zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = local.replace(hour=0, minute=0)
        for _ in range(_SEARCH_DAYS):
            if day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= local:
                            return candidate.astimezone(UTC)
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
        return None


def _value(text: str, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise CronError(f"not a number: {text!r}")
    return int(text)


def _field(
    text: str, low: int, high: int, names: dict[str, int] | None = None
) -> tuple[frozenset[int], bool]:
    """(values, unrestricted) of one field."""
    values: set[int] = set()
    unrestricted = text in {"*", "?"}
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = _value(step_text, {}) if step_text else 1
        if step <= 0:
            raise CronError(f"bad step in {part!r}")
        if body in {"*", "?"}:
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _value(first, names or {}), _value(last, names or {})
        else:
            start = _value(body, names or {})
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise CronError(f"{part!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values), unrestricted


def parse(schedule: str, time_zone: str | None = None) -> Schedule:
    text = schedule.strip()
    if text.startswith(("CRON_TZ=", "TZ=")):
        prefix, _, text = text.partition(" ")
        time_zone = prefix.partition("=")[2]
        text = text.strip()
    text = MACROS.get(text.lower(), text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected 5 fields, got {len(fields)}")
    try:
        zone: tzinfo = ZoneInfo(time_zone) if time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"unknown time zone {time_zone!r}") from exc
    minutes, _ = _field(fields[0], 0, 59)
    hours, _ = _field(fields[1], 0, 23)
    days, any_day = _field(fields[2], 1, 31)
    months, _ = _field(fields[3], 1, 12, _MONTHS)
    weekdays, any_weekday = _field(fields[4], 0, 7, _DAYS)
    weekdays = frozenset(day % 7 for day in weekdays)  # 7 is Sunday too
    return Schedule(minutes, hours, days, months, weekdays, any_day, any_weekday, zone)
