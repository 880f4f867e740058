"""Storms read as one story: a channel's digest and how it looks (pure).

When a channel already has a backlog (``digest_threshold`` messages waiting: Slack takes
about one a second), a new incident opens a digest instead of a root. From then on every
new incident of that channel joins it — none gets a root of its own behind its back —
until the channel's backlog has drained and no incident has joined for ``QUIET`` (a storm
detected in bursts stays one digest), or the digest is ``WINDOW`` old. Incidents whose
roots were already on their way when the digest opened belong to the same storm: the
digest lists them too, as having a thread of their own. So the digest names every
incident posted while it was open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsbot.alerts.incidents import Incident, IncidentState
from opsbot.core.reply import Mono, Reply, Strong, Table, Text, plural

WINDOW = timedelta(minutes=10)  # a digest older than this takes no more incidents
QUIET = timedelta(seconds=30)  # drained, and nothing joined for this long: the storm is over
ROWS_SHOWN = 40


@dataclass
class Digest:
    """The one message a channel's new incidents fold into while the channel is backed up."""

    channel: str
    opened: datetime
    keys: list[str]  # the incidents folded in, by key
    separate: list[str] = field(default_factory=list)  # the storm's incidents with roots of their own
    ts: str = ""  # "" while its post is on its way, or when that failed
    last_joined: datetime | None = None  # when the latest incident joined (None: when it opened)

    def takes(self, now: datetime, backlog: int) -> bool:
        """Whether a new incident joins it: the storm goes on (the channel has not drained, or
        an incident joined within ``QUIET``) and the digest is not too old."""
        if now - self.opened > WINDOW:
            return False
        return backlog > 0 or now - (self.last_joined or self.opened) <= QUIET

    def join(self, key: str, now: datetime) -> None:
        self.keys.append(key)
        self.last_joined = now


def digest_card(folded: Sequence[Incident], separate: Sequence[Incident] = ()) -> Reply:
    """The digest: every incident of the storm, those in it and those with a thread of their own."""
    everything = [*folded, *separate]
    open_count = sum(1 for incident in everything if incident.state is IncidentState.OPEN)
    namespaces = sorted({incident.namespace or "cluster-wide" for incident in everything})
    rows = tuple(
        (
            incident.ref,
            incident.kind.value,
            str(incident.workload),
            incident.namespace or "-",
            str(len(incident.affected)),
            "resolved" if incident.state is IncidentState.RESOLVED else "open",
            where,
        )
        for where, group in (("here", folded), ("own message", separate))
        for incident in group
    )
    resolved = len(everything) - open_count
    summary = Text(
        "Alerts are arriving faster than this channel can take them, so new incidents are "
        "collected here until the queue drains: ",
        Strong(str(open_count)),
        " open",
        Text(", ", Strong(str(resolved)), " resolved") if resolved else "",
        ". ",
        Mono("incidents"),
        " lists the open ones; their ID works with ",
        Mono("unmute"),
        ".",
    )
    title = f"{plural(len(everything), 'new incident')} in {', '.join(namespaces)}"
    return Reply(
        title[:150],
        (
            summary,
            Table(
                ("ID", "KIND", "WORKLOAD", "NAMESPACE", "PODS", "STATE", "POSTED"),
                rows[:ROWS_SHOWN],
                total=len(rows),
                hint=Text(Mono("incidents"), " lists them all."),
            ),
        ),
        tone="warning" if open_count else "success",
    )
