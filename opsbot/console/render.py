"""Reply → terminal text (pure): the neutral reply model written out for a terminal, so
what a command says reads the same there as in a channel.

Strong and emphasised runs lose their styling, inline code keeps its backticks (they
read as "type this" in a terminal too), mentions become ``@U…``, links ``label (url)``
and icons a symbol. Plain text is printed exactly as given.
"""

from __future__ import annotations

from opsbot.core.reply import (
    RUN_PREFIX,
    ChannelRef,
    Code,
    Emphasis,
    Fields,
    Icon,
    Link,
    Mention,
    Moment,
    Mono,
    Quote,
    Reply,
    Span,
    Strong,
    Table,
    Text,
    TextLike,
    Tone,
    as_text,
)

SYMBOL: dict[Icon, str] = {
    Icon.SUCCESS: "✓",
    Icon.FAILURE: "✗",
    Icon.WARNING: "!",
    Icon.ALERT: "!",
    Icon.MUTED: "🔕",
    Icon.WAITING: "…",
    Icon.CRITICAL: "🔴",
    Icon.SEVERITY_WARNING: "🟠",
    Icon.SEVERITY_INFO: "🔵",
}
_TONE_ICON: dict[Tone, Icon | None] = {
    "info": None,
    "success": Icon.SUCCESS,
    "warning": Icon.WARNING,
    "error": Icon.FAILURE,
}
_TONE_COLOUR: dict[Tone, str] = {"info": "1", "success": "1;32", "warning": "1;33", "error": "1;31"}


def plain(text: TextLike) -> str:
    """Neutral text → terminal text."""
    return "".join(_span(span) for span in as_text(text).spans)


def _span(span: Span) -> str:
    if isinstance(span, str):
        return span
    if isinstance(span, (Strong, Emphasis)):
        return "".join(_span(inner) for inner in span.spans)
    if isinstance(span, Mono):
        return f"`{span.text}`"
    if isinstance(span, Link):
        return f"{span.label} ({span.url})" if span.label and span.label != span.url else span.url
    if isinstance(span, Mention):
        return f"@{span.user_id}"
    if isinstance(span, ChannelRef):
        return f"#{span.channel_id}"
    if isinstance(span, Moment):
        return local_time(span)
    return SYMBOL[span]


def local_time(span: Moment) -> str:
    """The moment in this machine's time zone, ISO 8601 to the minute: ``2026-03-01T13:03+01:00``."""
    return span.utc.astimezone().isoformat(timespec="minutes")


def render_text(reply: Reply, *, colour: bool = False) -> str:
    """The whole reply, attachments in full: a terminal has no 3000-character limit."""
    icon = reply.icon if reply.icon is not None else _TONE_ICON[reply.tone]
    title = plain(Text(icon, " ", reply.title) if icon is not None else reply.title)
    if colour:
        title = f"\x1b[{_TONE_COLOUR[reply.tone]}m{title}\x1b[0m"
    lines = [title]
    if reply.where:
        lines.append(plain(reply.where))
    for part in reply.parts:
        if isinstance(part, Text):
            lines.append(plain(part))
        elif isinstance(part, Quote):
            lines.extend(f"> {plain(line)}" for line in as_text(part.text).lines())
        elif isinstance(part, Fields):
            lines.extend(f"{label}: {plain(value)}" for label, value in part.pairs)
        elif isinstance(part, Table):
            lines.extend(part.layout())
            if part.hidden > 0:
                lines.append(plain(part.more_note()))
        elif isinstance(part, Code):
            lines.append(part.text)
    commands = [button.value for button in reply.buttons if button.action_id.startswith(RUN_PREFIX)]
    if commands:  # buttons that stand for a command: type it instead of clicking
        lines.append("Next: " + " · ".join(f"`{command}`" for command in commands))
    if reply.attachment is not None:
        lines.append(f"--- {reply.attachment.filename} ---")
        lines.append(reply.attachment.content.rstrip("\n"))
    return "\n".join(lines)
