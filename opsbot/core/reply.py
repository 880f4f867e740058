"""What commands return: plain data that renderers (Slack, console) turn into output."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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

    @classmethod
    def first(
        cls, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]], limit: int, hint: str = ""
    ) -> Table:
        """The first ``limit`` rows, counting the rest ("… and N more")."""
        return cls(columns, tuple(rows[:limit]), total=len(rows), hint=hint)


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


def escape(text: str) -> str:
    """Neutralise Slack's control characters in text that came from outside (users, the API)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def where(cluster: str, namespace: str | None) -> str:
    scope = "all namespaces" if namespace is None else f"namespace `{namespace}`"
    return f"cluster `{cluster}` · {scope}"
