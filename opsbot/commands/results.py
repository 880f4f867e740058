"""What commands return: plain data that renderers (Slack, console) turn into output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Tone = Literal["info", "success", "warning", "error"]


@dataclass(frozen=True)
class Text:
    """A paragraph of Slack mrkdwn."""

    markdown: str


@dataclass(frozen=True)
class Fields:
    """Label → value pairs shown side by side."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """Rows shown in monospace; `total` counts rows before any truncation."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: int | None = None
    hint: str = ""

    @property
    def hidden(self) -> int:
        return (self.total if self.total is not None else len(self.rows)) - len(self.rows)


@dataclass(frozen=True)
class Code:
    """Preformatted text, e.g. a short log excerpt."""

    text: str


Part = Text | Fields | Table | Code


@dataclass(frozen=True)
class FileAttachment:
    """Long output: uploaded as a file in the thread, with a short preview in the message."""

    filename: str
    content: str
    title: str
    preview: str = ""


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class Reply:
    title: str
    parts: tuple[Part, ...] = ()
    where: str = ""
    tone: Tone = "info"
    attachment: FileAttachment | None = None
    buttons: tuple[Button, ...] = ()


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

    @property
    def target(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def summary(self) -> str:
        return f"{self.verb} {self.target} in {self.namespace} on {self.cluster}"


def escape(text: str) -> str:
    """Neutralise Slack's control characters in text that came from outside (users, the API)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def where(cluster: str, namespace: str | None) -> str:
    scope = "all namespaces" if namespace is None else f"namespace `{namespace}`"
    return f"cluster `{cluster}` · {scope}"
