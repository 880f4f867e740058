"""What a watch tells about itself: a snapshot safe to read from any thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opsbot.core.resources import ResourceName

WatchState = Literal["starting", "listing", "watching", "backoff", "forbidden", "stopped"]


@dataclass(frozen=True)
class WatchHealth:
    """A snapshot of one watch's health, safe to read from any thread."""

    cluster: str
    resource: ResourceName
    namespace: str | None
    state: WatchState
    last_event_at: float | None  # time.time() of the last line received (events and bookmarks)
    synced: bool  # the first list completed
    cached: int  # objects in the cache
    relists: int  # lists after the first one (410 Gone, recovery)
    rewatches: int  # watch requests after the first one (stream timeouts, drops)
    gone: int  # 410 Gone seen (HTTP status or ERROR event)
    failures: int  # failed attempts in total
    consecutive_failures: int
    restarts: int  # loops restarted by WatchRunner after returning or crashing unexpectedly
