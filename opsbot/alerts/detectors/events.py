"""Warning events as a source of incidents (opt-in: ``alerts.kinds: {WarningEvent: true}``).

An event is about its involved object; the incident is too, one per object (``cluster /
namespace / kind / name``), so a hundred FailedMount events about one pod update one card
and never post a hundred messages. An event counts when it is new or its ``count`` went up
(the API server folds repeats into one event), passes ``alerts.events`` (reasons and
namespaces, globs; ``exclude_reasons`` defaults to what other detectors already report)
and, on first sight, happened recently: a restart must not re-post the last hour of events.
Each new event or repeat updates the card (``novel``); an older one met again in a relist
does not.

Events are points in time: nothing about them stays active, so the incident resolves
once no new warning came for ``resolve_after``. Their observations speak only for
WarningEvent incidents (``SubjectSpec.scope``): a warning about a pod says nothing of
the pod's health.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from opsbot.alerts.detectors.readers import as_dict, aware, integer, moment_of, text
from opsbot.alerts.detectors.spec import Change, EventFilter, Symptom
from opsbot.ports import KubeObject

RECENT_EVENT = timedelta(minutes=10)
JUST_NOW = timedelta(minutes=1)  # an event first seen this fresh is news, not a relist's echo
# What other detectors already report, in their own words and with their own thresholds.
COVERED_REASONS = (
    "BackOff",
    "Failed",
    "Unhealthy",
    "FailedScheduling",
    "FailedMount",
    "FailedAttachVolume",
    "FailedCreatePodSandBox",
    "Evicted",
    "Evicting",
    "BackoffLimitExceeded",
    "DeadlineExceeded",
    "NodeNotReady",
    "ProgressDeadlineExceeded",
)


def involved(event: KubeObject) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the object the event is about."""
    about = as_dict(event.get("involvedObject"))
    kind, name = text(about.get("kind")), text(about.get("name"))
    if not kind or not name:
        return None
    return kind, text(about.get("namespace")), name


def last_seen(event: KubeObject) -> datetime | None:
    series = as_dict(event.get("series"))
    return (
        moment_of(series.get("lastObservedTime"))
        or moment_of(event.get("lastTimestamp"))
        or moment_of(event.get("eventTime"))
    )


def count(event: KubeObject | None) -> int:
    if event is None:
        return 0
    series = integer(as_dict(event.get("series")).get("count"))
    return max(integer(event.get("count")) or 1, series or 0)


def wanted(event: KubeObject, filters: EventFilter) -> bool:
    if event.get("type") != "Warning":
        return False
    reason = text(event.get("reason"))
    if filters.reasons and not any(fnmatchcase(reason, pattern) for pattern in filters.reasons):
        return False
    if any(fnmatchcase(reason, pattern) for pattern in filters.exclude_reasons):
        return False
    about = involved(event)
    where = about[1] if about else ""
    return not filters.namespaces or any(fnmatchcase(where, pattern) for pattern in filters.namespaces)


def detect_warning_event(change: Change) -> list[Symptom]:
    """A Warning event appeared or repeated (its count went up)."""
    event = change.new
    if involved(event) is None or not wanted(event, change.options.events):
        return []
    times = count(event)
    seen = last_seen(event)
    age = aware(change.now) - seen if seen is not None else None
    if change.old is None:
        if age is not None and age > RECENT_EVENT:
            return []
    elif times <= count(change.old):
        return []
    first = moment_of(event.get("firstTimestamp")) or moment_of(event.get("eventTime"))
    return [
        Symptom(
            text(event.get("reason")) or "Warning",
            text(event.get("message")),
            restart_count=times,
            since=first,
            since_exact=first is not None,
            facts={"source": text(as_dict(event.get("source")).get("component"))},
            novel=change.old is not None or (age is not None and age <= JUST_NOW),
        )
    ]


def healthy(change: Change) -> bool:
    """An event is a point in time: nothing stays wrong because of it."""
    return True
