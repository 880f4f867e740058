"""A release change as data, and its commit message: the repository is the history.

The message says what a reviewer wants on one line (app, old → new version, cluster,
who asked and who approved) and ends with git trailers that `history APP` reads back,
so the record survives restarts (the Go bot this is modelled on kept it in memory).
No secret ever reaches a message: it is built from these fields only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from opsbot.releases.fields import FieldTarget

TRAILER_PREFIX = "Opsbot-"
_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): (.*)$")
_ONE_LINE = re.compile(r"[\r\n]+")


class Action(StrEnum):
    PROMOTE = "promote"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class ReleaseChange:
    """Set `app` to `version` on `cluster`, as `requested_by` asked and `approved_by` agreed."""

    app: str
    cluster: str
    version: str
    target: FieldTarget
    requested_by: str
    approved_by: tuple[str, ...] = ()
    request_id: str = ""
    action: Action = Action.PROMOTE


def _clean(text: str) -> str:
    """One line, so a value can never forge another trailer."""
    return _ONE_LINE.sub(" ", text).strip()


def commit_message(change: ReleaseChange, old_version: str) -> str:
    """Subject, body and trailers for the commit that makes `change`."""
    verb = "Roll back" if change.action is Action.ROLLBACK else "Promote"
    subject = f"{verb} {change.app} {old_version} → {change.version} on {change.cluster}"
    approvers = ", ".join(change.approved_by) or "nobody"
    body = (
        f"Requested by {change.requested_by} in chat, approved by {approvers}.\n"
        f"Field: {change.target.field_description} in {change.target.path}."
    )
    trailers = [
        ("Action", change.action.value),
        ("App", change.app),
        ("Cluster", change.cluster),
        ("From-Version", old_version),
        ("To-Version", change.version),
        ("Requested-By", change.requested_by),
        *(("Approved-By", approver) for approver in change.approved_by),
    ]
    if change.request_id:
        trailers.append(("Request-Id", change.request_id))
    lines = [f"{TRAILER_PREFIX}{key}: {_clean(value)}" for key, value in trailers]
    return f"{_clean(subject)}\n\n{body}\n\n" + "\n".join(lines) + "\n"


def trailers(message: str) -> dict[str, list[str]]:
    """The `Opsbot-*` trailers of a commit message (last paragraph), key without prefix."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    found: dict[str, list[str]] = {}
    if not paragraphs:
        return found
    for line in paragraphs[-1].splitlines():
        match = _TRAILER.match(line.strip())
        if match and match.group(1).startswith(TRAILER_PREFIX):
            found.setdefault(match.group(1)[len(TRAILER_PREFIX) :], []).append(match.group(2))
    return found


@dataclass(frozen=True)
class HistoryEntry:
    """One delivered change as recorded in the repository."""

    commit: str
    committed_at: int  # seconds since the epoch
    action: Action
    app: str
    cluster: str
    from_version: str
    to_version: str
    requested_by: str
    approved_by: tuple[str, ...] = field(default=())
    request_id: str = ""


def history_entry(commit: str, committed_at: int, message: str) -> HistoryEntry | None:
    """The entry a commit records, or None when opsbot did not make it."""
    found = trailers(message)

    def one(key: str) -> str:
        values = found.get(key) or [""]
        return values[0]

    if not one("App") or not one("To-Version"):
        return None
    try:
        action = Action(one("Action") or Action.PROMOTE.value)
    except ValueError:
        return None
    return HistoryEntry(
        commit=commit,
        committed_at=committed_at,
        action=action,
        app=one("App"),
        cluster=one("Cluster"),
        from_version=one("From-Version"),
        to_version=one("To-Version"),
        requested_by=one("Requested-By"),
        approved_by=tuple(found.get("Approved-By") or ()),
        request_id=one("Request-Id"),
    )
