"""Reading every configured cluster at once: what a cluster that could not answer says."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unanswered:
    """A cluster that gave no answer, and why, as its column says it
    ("unreachable since 12:03 UTC", "no answer within 2s")."""

    cluster: str
    reason: str
