"""Reply → Block Kit (pure). Built with slack_sdk.models so Slack's limits are checked
when the blocks are serialized; the 50-block cap, which the SDK does not check, is
enforced here. Every message also gets a plain-text fallback.

This is the one place that knows Slack's mrkdwn: `mrkdwn` turns neutral text
(`opsbot.core.reply.Text`) into it, escaping whatever plain text holds, so nothing a
user or the cluster said can become a mention, a link or broken formatting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from opsbot.core.reply import (
    ChannelRef,
    Emphasis,
    Fields,
    Icon,
    Link,
    Mention,
    Moment,
    Mono,
    Part,
    Quote,
    Reply,
    Span,
    Strong,
    Table,
    Text,
    TextLike,
    Tone,
    as_text,
    clip,
    plain_span,
)

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
FALLBACK_LIMIT = 3000
_FENCE_OVERHEAD = len("```\n\n```")

EMOJI: dict[Icon, str] = {
    Icon.SUCCESS: ":white_check_mark:",
    Icon.FAILURE: ":x:",
    Icon.WARNING: ":warning:",
    Icon.ALERT: ":rotating_light:",
    Icon.MUTED: ":no_bell:",
    Icon.WAITING: ":hourglass_flowing_sand:",
    Icon.CRITICAL: ":red_circle:",
    Icon.SEVERITY_WARNING: ":large_orange_circle:",
    Icon.SEVERITY_INFO: ":large_blue_circle:",
}
_TONE_ICON: dict[Tone, Icon | None] = {
    "info": None,
    "success": Icon.SUCCESS,
    "warning": Icon.WARNING,
    "error": Icon.FAILURE,
}

# Look-alikes for a formatting character inside its own run, so user data cannot end
# the run early (Slack's mrkdwn has no escape for them).
_IN_STRONG = str.maketrans({"*": "\u2217"})  # ∗
_IN_MONO = str.maketrans({"`": "\u02cb", "\n": " "})  # ˋ
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@dataclass(frozen=True)
class Rendered:
    text: str
    blocks: list[dict[str, Any]]


# text → mrkdwn -----------------------------------------------------------------


def escape(text: str) -> str:
    """Slack's three control characters as entities (plain text, code, link labels)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: TextLike) -> str:
    """Neutral text → Slack mrkdwn. Plain strings are escaped; runs that cannot be
    formatted safely (empty, or only spaces) are written without their markers."""
    return "".join(_span(span, strong=False, emphasis=False) for span in as_text(text).spans)


def _span(span: Span, *, strong: bool, emphasis: bool) -> str:
    if isinstance(span, str):
        text = escape(span)
        if strong:
            text = text.translate(_IN_STRONG)
        if emphasis:
            text = _emphasis_safe(text)
        return text
    if isinstance(span, Strong):
        inner = "".join(_span(s, strong=True, emphasis=emphasis) for s in span.spans)
        return inner if strong else _wrap(inner, "*")
    if isinstance(span, Emphasis):
        inner = "".join(_span(s, strong=strong, emphasis=True) for s in span.spans)
        return inner if emphasis else _wrap(inner, "_")
    if isinstance(span, Mono):
        code = escape(span.text).translate(_IN_MONO)
        return f"`{code}`" if code.strip() else code
    if isinstance(span, Link):
        url = escape(span.url).replace("|", "%7C")
        label = escape(span.label).replace("|", "\u2223")  # ∣
        return f"<{url}|{label}>" if label else f"<{url}>"
    if isinstance(span, Mention):
        return f"<@{span.user_id}>" if _is_id(span.user_id) else escape(f"@{span.user_id}")
    if isinstance(span, ChannelRef):
        return f"<#{span.channel_id}>" if _is_id(span.channel_id) else escape(f"#{span.channel_id}")
    if isinstance(span, Moment):
        return moment(span)
    return EMOJI[span]


def moment(span: Moment) -> str:
    """Slack's date formatting: each reader sees the moment in their own time zone
    (``Mar 1st, 12:03`` / ``Today at 12:03``); older clients show the UTC fallback."""
    return f"<!date^{int(span.utc.timestamp())}^{{date_short_pretty}} {{time}}|{escape(span.fallback())}>"


def _emphasis_safe(text: str) -> str:
    """An underscore that could end the italic run becomes a look-alike (ˍ); one inside a
    word (``snake_case``) cannot, and stays."""
    out = list(text)
    for index, char in enumerate(text):
        inside_word = 0 < index < len(text) - 1 and text[index - 1].isalnum() and text[index + 1].isalnum()
        if char == "_" and not inside_word:
            out[index] = "\u02cd"
    return "".join(out)


def _wrap(inner: str, marker: str) -> str:
    """``*x*``, with surrounding spaces kept outside the markers (Slack ignores ``* x *``)."""
    body = inner.strip()
    if not body:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{marker}{body}{marker}{trail}"


def _is_id(value: str) -> bool:
    return 0 < len(value) <= 32 and all(char in _ID_CHARS for char in value)


def plain_text(text: TextLike) -> str:
    """Neutral text for a Block Kit `plain_text` object (headers): no markup, no escaping;
    icons as emoji codes (shown as emoji with ``emoji: true``)."""
    return "".join(plain_span(span, EMOJI.__getitem__) for span in as_text(text).spans)


def _plain_span(span: Span) -> str:
    if isinstance(span, str):
        return span
    if isinstance(span, (Strong, Emphasis)):
        return "".join(_plain_span(inner) for inner in span.spans)
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
    return EMOJI[span]


def _with_icon(icon: Icon | None, text: TextLike) -> Text:
    return Text(icon, " ", text) if icon is not None else as_text(text)


# blocks ------------------------------------------------------------------------


def _chunks(lines: Iterable[str], limit: int) -> list[str]:
    """Group lines into chunks of at most `limit` characters (long lines are cut)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for raw in lines:
        line = clip(raw, limit)
        extra = len(line) + (1 if current else 0)
        if current and size + extra > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
            extra = len(line)
        current.append(line)
        size += extra
    if current:
        chunks.append("\n".join(current))
    return chunks


def _fence_safe(line: str) -> str:
    """A code line, escaped, that cannot close the fence around it."""
    return escape(line).replace("```", "`\u200b``")


def _code_sections(lines: list[str]) -> list[SectionBlock]:
    return [
        SectionBlock(text=MarkdownTextObject(text=f"```\n{chunk}\n```"))
        for chunk in _chunks((_fence_safe(line) for line in lines), SECTION_LIMIT - _FENCE_OVERHEAD)
    ]


def _part_blocks(part: Part) -> list[Block]:
    if isinstance(part, Text):
        return [
            SectionBlock(text=MarkdownTextObject(text=chunk))
            for chunk in _chunks((mrkdwn(line) for line in part.lines()), SECTION_LIMIT)
        ]
    if isinstance(part, Quote):
        return [
            SectionBlock(text=MarkdownTextObject(text=chunk))
            for chunk in _chunks((f"> {mrkdwn(line)}" for line in as_text(part.text).lines()), SECTION_LIMIT)
        ]
    if isinstance(part, Fields):
        blocks: list[Block] = []
        pairs = list(part.pairs)
        for start in range(0, len(pairs), 10):
            fields = [
                MarkdownTextObject(text=clip(mrkdwn(Text(Strong(label), "\n", value)), FIELD_LIMIT))
                for label, value in pairs[start : start + 10]
            ]
            blocks.append(SectionBlock(fields=fields))
        return blocks
    if isinstance(part, Table):
        table_blocks: list[Block] = list(_code_sections(part.layout()))
        if part.hidden > 0:
            note = mrkdwn(part.more_note())
            table_blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, SECTION_LIMIT))]))
        return table_blocks
    return list(_code_sections(part.text.split("\n")))


def render(reply: Reply) -> Rendered:
    icon = reply.icon if reply.icon is not None else _TONE_ICON[reply.tone]
    title = _with_icon(icon, reply.title)
    head: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(plain_text(title), HEADER_LIMIT), emoji=True))
    ]
    if reply.where:
        head.append(
            ContextBlock(elements=[MarkdownTextObject(text=clip(mrkdwn(reply.where), SECTION_LIMIT))])
        )
    tail: list[Block] = []
    if reply.attachment is not None and reply.attachment.preview:
        tail.extend(_code_sections(reply.attachment.preview.split("\n")))
    if reply.buttons:
        tail.append(
            ActionsBlock(
                block_id="opsbot_actions",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=clip(button.label, 75)),
                        action_id=button.action_id,
                        value=button.value,
                        style=button.style,
                    )
                    for button in reply.buttons[:25]
                ],
            )
        )
    body: list[Block] = []
    for part in reply.parts:
        body.extend(_part_blocks(part))
    room = MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        body = body[: room - 1]
        body.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=mrkdwn(Text(Emphasis("Output truncated to fit in one Slack message.")))
                    )
                ]
            )
        )
    blocks = [block.to_dict() for block in (*head, *body, *tail)]
    fallback = mrkdwn(title) + (f" ({mrkdwn(reply.where)})" if reply.where else "")
    return Rendered(text=clip(fallback, FALLBACK_LIMIT), blocks=blocks)
