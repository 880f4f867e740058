"""What commands return: plain data that renderers (Slack, console) turn into output.

Text is a small neutral model, not a markup language. A paragraph is a `Text`: a
sequence of inline spans, each either a plain `str` (shown exactly as given, whatever
characters it holds) or one of the span types below::

    Text(Strong("3"), " pods, ", Strong("1"), " not ready")
    Text("Requested by ", Mention("U0ALICE01"), " for ", Mono("deploy/api"))
    Text(Icon.SUCCESS, " Everything looks healthy.")

A ``"\\n"`` inside a plain string breaks the line; `lines` and `bullets` build
multi-line paragraphs. Escaping and every chat convention (``*bold*``, ``<@U1>``,
``:emoji:``) belong to the renderers: `opsbot.slack.render` turns the model into
Block Kit and mrkdwn, `opsbot.console.render` into terminal text.

Where a reply takes text (`Reply.title`, `Reply.where`, `Fields` values, a table's
hint), a plain `str` is accepted too and means exactly that text. Table cells and
button labels are always plain strings: user data shown as-is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

Tone = Literal["info", "success", "warning", "error"]


# inline spans ----------------------------------------------------------------


class Icon(Enum):
    """A small closed set of status icons (Slack shows emoji, a terminal a symbol). Not a
    `str`: a plain string span is always text."""

    SUCCESS = "success"
    FAILURE = "failure"
    WARNING = "warning"
    ALERT = "alert"
    MUTED = "muted"
    WAITING = "waiting"
    # An alert's severity (red, orange, blue in Slack).
    CRITICAL = "critical"
    SEVERITY_WARNING = "severity_warning"
    SEVERITY_INFO = "severity_info"


@dataclass(frozen=True, init=False)
class Strong:
    """Bold: ``Strong("3")``, ``Strong("Last lines of ", Mono("app"))``."""

    spans: tuple[Span, ...]

    def __init__(self, *spans: Span | Text) -> None:
        object.__setattr__(self, "spans", _flatten(spans))


@dataclass(frozen=True, init=False)
class Emphasis:
    """Italic: asides and notes (``Emphasis("No recent events.")``)."""

    spans: tuple[Span, ...]

    def __init__(self, *spans: Span | Text) -> None:
        object.__setattr__(self, "spans", _flatten(spans))


@dataclass(frozen=True)
class Mono:
    """Inline code: a name or a command to type as shown (``Mono("help")``)."""

    text: str


@dataclass(frozen=True)
class Link:
    url: str
    label: str = ""


@dataclass(frozen=True)
class Mention:
    """A person, by chat user id: a real mention in Slack, ``@U…`` in a terminal."""

    user_id: str


@dataclass(frozen=True)
class ChannelRef:
    """A channel, by id."""

    channel_id: str


@dataclass(frozen=True)
class Moment:
    """A moment in time, shown in the reader's own time zone where the front end can (Slack's
    date formatting), else as local ISO time. A naive datetime is taken as UTC."""

    at: datetime

    @property
    def utc(self) -> datetime:
        moment = self.at if self.at.tzinfo is not None else self.at.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def fallback(self) -> str:
        """The moment as plain text where nothing better can be shown: ``2026-03-01 12:03 UTC``."""
        return self.utc.strftime("%Y-%m-%d %H:%M UTC")


Span = str | Strong | Emphasis | Mono | Link | Mention | ChannelRef | Moment | Icon


def _flatten(spans: Iterable[Span | Text]) -> tuple[Span, ...]:
    """Nested paragraphs spliced in, empty strings dropped, neighbouring strings merged:
    one text has one form, so equal texts compare equal."""
    flat: list[Span] = []
    for span in spans:
        for item in span.spans if isinstance(span, Text) else (span,):
            if isinstance(item, str) and flat and isinstance(flat[-1], str):
                flat[-1] += item
            elif item != "":
                flat.append(item)
    return tuple(flat)


@dataclass(frozen=True, init=False)
class Text:
    """A paragraph: inline spans in order. ``Text("a", Strong("b"))``; a nested `Text` is
    spliced in, so paragraphs compose (``Text(where_text, " · ", more)``)."""

    spans: tuple[Span, ...]

    def __init__(self, *spans: Span | Text) -> None:
        object.__setattr__(self, "spans", _flatten(spans))

    def __bool__(self) -> bool:
        return bool(self.spans)

    def __add__(self, other: Span | Text) -> Text:
        return Text(self, other)

    def __radd__(self, other: Span) -> Text:
        return Text(other, self)

    @classmethod
    def join(cls, separator: Span | Text, items: Iterable[Span | Text]) -> Text:
        """``Text.join(", ", (Mono(p) for p in pods))``."""
        joined: list[Span | Text] = []
        for index, item in enumerate(items):
            if index:
                joined.append(separator)
            joined.append(item)
        return cls(*joined)

    def plain(self) -> str:
        """The words without formatting, for logs and the audit trail (icons dropped)."""
        return "".join(plain_span(span, _no_icon) for span in self.spans).strip()

    def lines(self) -> list[Text]:
        """The paragraph cut at its line breaks; a strong or emphasised run broken across
        lines becomes one run per line (chat markup does not span lines)."""
        return [Text(*line) for line in _split_lines(self.spans)]


def plain_span(span: Span, icon: Callable[[Icon], str]) -> str:
    """A span's words without markup; how an icon reads is the caller's (dropped, an emoji code)."""
    if isinstance(span, str):
        return span
    if isinstance(span, (Strong, Emphasis)):
        return "".join(plain_span(inner, icon) for inner in span.spans)
    if isinstance(span, Mono):
        return f"`{span.text}`"
    if isinstance(span, Link):
        return span.label or span.url
    if isinstance(span, Mention):
        return f"@{span.user_id}"
    if isinstance(span, ChannelRef):
        return f"#{span.channel_id}"
    if isinstance(span, Moment):
        return span.fallback()
    return icon(span)


def _no_icon(icon: Icon) -> str:
    return ""


def _split_lines(spans: Sequence[Span]) -> list[list[Span]]:
    rows: list[list[Span]] = [[]]
    for span in spans:
        if isinstance(span, str):
            first, *rest = span.split("\n")
            rows[-1].append(first)
            rows.extend([piece] for piece in rest)
        elif isinstance(span, (Strong, Emphasis)):
            inner = _split_lines(span.spans)
            wrap = Strong if isinstance(span, Strong) else Emphasis
            rows[-1].append(wrap(*inner[0]))
            rows.extend([wrap(*piece)] for piece in inner[1:])
        else:
            rows[-1].append(span)
    return [[span for span in row if not _blank(span)] for row in rows]


def _blank(span: Span) -> bool:
    return span == "" or (isinstance(span, (Strong, Emphasis)) and not span.spans)


TextLike = str | Text
"""Where text is expected, a `str` is plain text (never markup)."""


def as_text(value: TextLike) -> Text:
    return value if isinstance(value, Text) else Text(value)


def lines(*items: Span | Text) -> Text:
    """One paragraph, each item on its own line."""
    return Text.join("\n", items)


def bullets(items: Iterable[Span | Text]) -> Text:
    """A bulleted list, one item per line."""
    return Text.join("\n", (Text("• ", item) for item in items))


# stored text -------------------------------------------------------------------


def text_to_data(text: Text) -> list[Any]:
    """JSON-friendly form of a paragraph (for stored approvals)."""
    return [_span_to_data(span) for span in text.spans]


def _span_to_data(span: Span) -> Any:
    if isinstance(span, str):
        return span
    if isinstance(span, Strong):
        return {"strong": [_span_to_data(inner) for inner in span.spans]}
    if isinstance(span, Emphasis):
        return {"emphasis": [_span_to_data(inner) for inner in span.spans]}
    if isinstance(span, Mono):
        return {"mono": span.text}
    if isinstance(span, Link):
        return {"link": span.url, "label": span.label}
    if isinstance(span, Mention):
        return {"user": span.user_id}
    if isinstance(span, ChannelRef):
        return {"channel": span.channel_id}
    if isinstance(span, Moment):
        return {"moment": span.utc.isoformat()}
    return {"icon": span.value}


def text_from_data(data: Any) -> Text:
    """Inverse of `text_to_data`; a bare string (as stored before text had spans) is plain text."""
    if isinstance(data, str):
        return Text(data)
    return Text(*(_span_from_data(item) for item in data))


def _span_from_data(data: Any) -> Span:
    if isinstance(data, str):
        return data
    if "strong" in data:
        return Strong(*(_span_from_data(item) for item in data["strong"]))
    if "emphasis" in data:
        return Emphasis(*(_span_from_data(item) for item in data["emphasis"]))
    if "mono" in data:
        return Mono(str(data["mono"]))
    if "link" in data:
        return Link(str(data["link"]), str(data.get("label", "")))
    if "user" in data:
        return Mention(str(data["user"]))
    if "channel" in data:
        return ChannelRef(str(data["channel"]))
    if "moment" in data:
        return Moment(datetime.fromisoformat(str(data["moment"])))
    return Icon(data["icon"])


# parts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fields:
    """Label → value pairs shown side by side; a `str` value is plain text."""

    pairs: tuple[tuple[str, TextLike], ...]


_CELL_WIDTH = 60


@dataclass(frozen=True)
class Table:
    """Rows shown in monospace; `total` counts rows before any truncation. Cells are plain
    text, shown as given."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: int | None = None
    hint: TextLike = ""

    @property
    def hidden(self) -> int:
        return (self.total if self.total is not None else len(self.rows)) - len(self.rows)

    @classmethod
    def first(
        cls, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]], limit: int, hint: TextLike = ""
    ) -> Table:
        """The first ``limit`` rows, counting the rest ("… and N more")."""
        return cls(columns, tuple(rows[:limit]), total=len(rows), hint=hint)

    def layout(self) -> list[str]:
        """Header and rows as aligned lines (cells clipped to a readable width)."""
        cells = [tuple(clip(str(cell), _CELL_WIDTH) for cell in row) for row in self.rows]
        widths = [len(column) for column in self.columns]
        for row in cells:
            for index, cell in enumerate(row):
                widths[index] = max(widths[index], len(cell))

        def line(values: tuple[str, ...]) -> str:
            return "  ".join(value.ljust(widths[i]) for i, value in enumerate(values)).rstrip()

        return [line(self.columns), *(line(row) for row in cells)]

    def more_note(self) -> Text:
        """``… and N more.`` plus the hint, for a table that was cut."""
        return Text(f"… and {self.hidden} more.", *((" ", self.hint) if self.hint else ()))


@dataclass(frozen=True)
class Code:
    """Preformatted text, e.g. a short log excerpt."""

    text: str


@dataclass(frozen=True)
class Quote:
    """Quoted text, e.g. what Kubernetes said about a failure; a `str` is plain text."""

    text: TextLike


Part = Text | Fields | Table | Code | Quote


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


RUN_PREFIX = "opsbot:run:"
RUN_ACTION = re.compile(r"^opsbot:run:\d{1,2}$")
"""Buttons that run their `value` as a command, as if whoever clicked had typed it (in the
message's thread): the same parsing, permission checks and approvals apply, so a button can
never do more than typing could. Slack wants the action ids of one message to differ,
hence the index."""


def run_button(
    label: str, command: str, index: int = 0, *, style: Literal["primary", "danger"] | None = None
) -> Button:
    return Button(label, f"{RUN_PREFIX}{index}", command, style=style)


def run_buttons(*choices: tuple[str, str]) -> tuple[Button, ...]:
    """(label, command) pairs → buttons (the first one primary)."""
    return tuple(
        run_button(label, command, index, style="primary" if index == 0 else None)
        for index, (label, command) in enumerate(choices)
    )


@dataclass(frozen=True)
class Reply:
    title: TextLike
    parts: tuple[Part, ...] = ()
    where: TextLike = ""
    tone: Tone = "info"
    attachment: FileAttachment | None = None
    buttons: tuple[Button, ...] = ()
    icon: Icon | None = None
    """The one icon before the title; None: the tone's (a reply never shows two)."""


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 new incident``, ``3 new incidents``: the count and the noun in the right number."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def on_cluster(cluster: str) -> Text:
    return Text("cluster ", Mono(cluster))


def where(cluster: str, namespace: str | None) -> Text:
    scope = Text("all namespaces") if namespace is None else Text("namespace ", Mono(namespace))
    return Text(on_cluster(cluster), " · ", scope)
