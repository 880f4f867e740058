"""Alertmanager silences as neutral data, shared by the `silence` commands and the Alertmanager
feature (which talks to Alertmanager's API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def __str__(self) -> str:
        operator = ("=~" if self.is_regex else "=") if self.is_equal else ("!~" if self.is_regex else "!=")
        return f"{self.name}{operator}{self.value!r}".replace("'", '"')


def matchers_for(labels: Mapping[str, str]) -> tuple[Matcher, ...]:
    """Equality matchers over an alert's full label set: the silence matches that alert, not its
    neighbours (a silence on the alert name alone would mute every instance)."""
    return tuple(Matcher(name, value) for name, value in sorted(labels.items()))


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: str  # active | pending | expired

    @property
    def summary(self) -> str:
        return ", ".join(str(matcher) for matcher in self.matchers)


@dataclass(frozen=True)
class SilenceOutcome:
    """What `silence` did: the silences created (one per alert), or why nothing was."""

    created: tuple[Silence, ...]
    not_found: tuple[str, ...] = ()
