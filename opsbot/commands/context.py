"""What a command handler gets besides its arguments: where, which cluster, what it may look at."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from opsbot.alerts.incidents import Incident
from opsbot.alerts.mutes import Mute
from opsbot.commands.contexts import ContextBook
from opsbot.commands.scope import Scope
from opsbot.commands.settings import CommandsSettings
from opsbot.commands.views import FleetView, ReleasesView
from opsbot.core.request import ChatRequest
from opsbot.core.silences import Silence, SilenceOutcome
from opsbot.ports import KubePort

if TYPE_CHECKING:
    from opsbot.commands.registry import Registry


class AuditView(Protocol):
    def recent(self, *, user_id: str | None = None, last: int = 20) -> list[dict[str, Any]]: ...


class AlertsView(Protocol):
    """What commands may see and change of the alert pipeline. Blocking: each call runs on
    the event loop while the handler waits in the pool (`opsbot.alerts.blocking`)."""

    def open_incidents(self) -> list[Incident]: ...

    def active_mutes(self) -> list[Mute]: ...

    def unmute(self, mute_id: str) -> Mute | None: ...


class SilencesView(Protocol):
    """Alertmanager's silences, for the `silence` commands. Blocking (handlers run in the pool);
    failures raise `opsbot.errors.AlertmanagerError`."""

    def silence(
        self, targets: Sequence[str], duration: timedelta, comment: str, request: ChatRequest
    ) -> SilenceOutcome: ...

    def silences(self) -> list[Silence]: ...

    def unsilence(self, silence_id: str, request: ChatRequest) -> Silence | None: ...


class LeadershipView(Protocol):
    """Several replicas (`ha:`): who leads a cluster's alerts."""

    def leader(self, cluster: str) -> str | None:
        """"this replica (<id>)", the holder's identity, "nobody yet"; None if not elected."""
        ...


def _anywhere(cluster: str, namespace: str | None) -> bool:
    return True


@dataclass(frozen=True)
class CommandContext:
    request: ChatRequest
    cluster: str
    namespace: str | None  # None: all namespaces
    default_namespace: str
    kube: KubePort
    settings: CommandsSettings
    now: datetime
    registry: Registry
    alerts: AlertsView | None = None
    audit: AuditView | None = None
    silences: SilencesView | None = None
    leadership: LeadershipView | None = None
    scope: Scope | None = None
    """Where this runs and where each part came from (flags, context, channel, defaults)."""
    contexts: ContextBook | None = None
    """Saved contexts (`use`, `context`)."""
    fleet: FleetView | None = None
    releases: ReleasesView | None = None
    """The release feature (`promote`, `history`, the versions `describe` shows), when on."""
    may: Callable[[str, str | None], bool] = _anywhere
    """Whether the policy lets this person run this command on (cluster, namespace): for
    commands that read several clusters at once (`apps`, `diff`), and hints that name other
    namespaces ("podinfo is in web")."""

    def may_run_in(self, namespace: str) -> bool:
        """`may` in this command's cluster."""
        return self.may(self.cluster, namespace)

    @property
    def single_namespace(self) -> str:
        """For commands that act on one object: -A makes no sense there."""
        return self.namespace or self.default_namespace
