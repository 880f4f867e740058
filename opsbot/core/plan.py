"""A mutating action, described before it runs: what will change, where, as whom."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ActionPlan:
    """A mutating action, described before it runs (what will change, where)."""

    verb: str
    cluster: str
    namespace: str
    kind: str
    name: str
    changes: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    identity: tuple[str, tuple[str, ...]] | None = None
    """(user, groups) the action runs as (Kubernetes impersonation): the requester's, set
    by the router when impersonation applies. None: opsbot's own credentials."""
    dangerous: bool = False
    """The command's spec judged it dangerous (e.g. scaling to 0): its card says so in red."""

    @property
    def target(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def summary(self) -> str:
        return f"{self.verb} {self.target} in {self.namespace} on {self.cluster}"
