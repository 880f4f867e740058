"""Reply → Block Kit (pure). Built with slack_sdk.models so Slack's limits are checked
when the blocks are serialized; the 50-block cap, which the SDK does not check, is
enforced here. Every message also gets a plain-text fallback."""

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

from opsbot.core.reply import Code, Fields, Reply, Table, Text, escape

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
FALLBACK_LIMIT = 3000
_FENCE_OVERHEAD = len("```\n\n```")
_CELL_WIDTH = 60

_TONE_ICON = {"info": "", "success": ":white_check_mark: ", "warning": ":warning: ", "error": ":x: "}


@dataclass(frozen=True)
class Rendered:
    text: str
    blocks: list[dict[str, Any]]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def table_lines(table: Table) -> list[str]:
    cells = [tuple(clip(str(cell), _CELL_WIDTH) for cell in row) for row in table.rows]
    widths = [len(column) for column in table.columns]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(value.ljust(widths[i]) for i, value in enumerate(values)).rstrip()

    return [line(table.columns), *(line(row) for row in cells)]


def _code_sections(lines: list[str]) -> list[SectionBlock]:
    return [
        SectionBlock(text=MarkdownTextObject(text=f"```\n{chunk}\n```"))
        for chunk in _chunks((escape(line) for line in lines), SECTION_LIMIT - _FENCE_OVERHEAD)
    ]


def _part_blocks(part: Text | Fields | Table | Code) -> list[Block]:
    if isinstance(part, Text):
        return [
            SectionBlock(text=MarkdownTextObject(text=chunk))
            for chunk in _chunks(part.markdown.split("\n"), SECTION_LIMIT)
        ]
    if isinstance(part, Fields):
        blocks: list[Block] = []
        pairs = list(part.pairs)
        for start in range(0, len(pairs), 10):
            fields = [
                MarkdownTextObject(text=clip(f"*{label}*\n{value}", FIELD_LIMIT))
                for label, value in pairs[start : start + 10]
            ]
            blocks.append(SectionBlock(fields=fields))
        return blocks
    if isinstance(part, Table):
        table_blocks: list[Block] = list(_code_sections(table_lines(part)))
        if part.hidden > 0:
            note = f"… and {part.hidden} more."
            if part.hint:
                note += f" {part.hint}"
            table_blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, SECTION_LIMIT))]))
        return table_blocks
    return list(_code_sections(part.text.split("\n")))


def render(reply: Reply) -> Rendered:
    icon = _TONE_ICON[reply.tone]
    head: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(icon + reply.title, HEADER_LIMIT), emoji=True))
    ]
    if reply.where:
        head.append(ContextBlock(elements=[MarkdownTextObject(text=clip(reply.where, SECTION_LIMIT))]))
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
                elements=[MarkdownTextObject(text="_Output truncated to fit in one Slack message._")]
            )
        )
    blocks = [block.to_dict() for block in (*head, *body, *tail)]
    fallback = clip(f"{icon}{reply.title}" + (f" ({reply.where})" if reply.where else ""), FALLBACK_LIMIT)
    return Rendered(text=fallback, blocks=blocks)
