"""A mutating action, described before it runs: what will change, where, as whom."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsbot.core.reply import Text, TextLike, as_text


@dataclass(frozen=True)
class ActionPlan:
    """A mutating action, described before it runs (what will change, where)."""

    verb: str
    cluster: str
    namespace: str
    kind: str
    name: str
    changes: tuple[TextLike, ...]
    """What will change, one line each (a `str` is plain text; kept as `Text`)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    identity: tuple[str, tuple[str, ...]] | None = None
    """(user, groups) the action runs as (Kubernetes impersonation): the requester's, set
    by the router when impersonation applies. None: opsbot's own credentials."""
    dangerous: bool = False
    """The command's spec judged it dangerous (e.g. scaling to 0): its card says so in red."""
    origin: str = ""
    """Where the target came from when it was not typed, e.g. ``podinfo, namespace web,
    cluster prod from your context`` (set by the router; the card shows it)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(as_text(change) for change in self.changes))

    @property
    def change_lines(self) -> tuple[Text, ...]:
        return tuple(as_text(change) for change in self.changes)

    @property
    def target(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def summary(self) -> str:
        return f"{self.verb} {self.target} in {self.namespace} on {self.cluster}"


@dataclass(frozen=True)
class ActionOrigin:
    """Who asked for an approved action and who approved it, and where it was discussed:
    what an executor needs to credit the people (e.g. in a commit message) and to keep
    reporting in the same thread after the action returned."""

    approval_id: str
    requester: str
    approvers: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    """Display names of the requester and approvers (ids decide; names are for reading)."""
    channel: str = ""
    thread: str | None = None
    """The conversation's thread (the request's, else the card's)."""
    card: str | None = None
