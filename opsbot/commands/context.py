"""What a command handler gets besides its arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from opsbot.alerts.incidents import Incident
from opsbot.alerts.mutes import Mute
from opsbot.config import CommandsSettings
from opsbot.ports import KubePort

Source = Literal["mention", "dm", "slash", "console", "button"]


@dataclass(frozen=True)
class ChatRequest:
    """A command as it arrived, independent of Slack's payload shapes."""

    request_id: str
    user_id: str
    channel_id: str
    text: str
    source: Source
    thread_ts: str | None = None
    message_ts: str | None = None
    user_name: str = ""
    usergroups: frozenset[str] = frozenset()


class AuditView(Protocol):
    def recent(self, *, user_id: str | None = None, last: int = 20) -> list[dict[str, Any]]: ...


class AlertsView(Protocol):
    """What commands may see and change of the alert pipeline."""

    def open_incidents(self) -> list[Incident]: ...

    def active_mutes(self) -> list[Mute]: ...

    def unmute(self, mute_id: str) -> Mute | None: ...


@dataclass(frozen=True)
class CommandContext:
    request: ChatRequest
    cluster: str
    namespace: str | None  # None: all namespaces
    default_namespace: str
    kube: KubePort
    settings: CommandsSettings
    now: datetime
    alerts: AlertsView | None = None
    audit: AuditView | None = None

    @property
    def single_namespace(self) -> str:
        """For commands that act on one object: -A makes no sense there."""
        return self.namespace or self.default_namespace
