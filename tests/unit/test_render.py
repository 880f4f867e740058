"""Block Kit rendering stays inside Slack's limits (pure)."""

from __future__ import annotations

from typing import Any

from opsbot.core.reply import Button, Code, FileAttachment, Reply, Table, Text
from opsbot.slack.render import MAX_BLOCKS, render


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


def test_huge_table_is_split_into_sections_under_3000_chars_and_50_blocks() -> None:
    rows = tuple((f"pod-{i:05d}", "1/1", "Running", "0", "5d", "node-1") for i in range(3000))
    reply = Reply("Pods", (Table(("NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"), rows),), where="x")
    rendered = render(reply)
    assert len(rendered.blocks) <= MAX_BLOCKS
    assert all(len(text) <= 3000 for text in section_texts(rendered.blocks))
    assert rendered.blocks[-1]["type"] == "context"


def test_truncated_table_says_how_many_more() -> None:
    table = Table(("A",), (("x",),), total=12, hint="Narrow with -n.")
    rendered = render(Reply("T", (table,)))
    context = [b for b in rendered.blocks if b["type"] == "context"]
    assert "… and 11 more. Narrow with -n." in context[-1]["elements"][0]["text"]


def test_code_and_table_cells_are_escaped() -> None:
    rendered = render(Reply("T", (Code("<!channel> & <@U1>"),)))
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in section_texts(rendered.blocks)[0]


def test_long_text_paragraph_is_chunked() -> None:
    rendered = render(Reply("T", (Text("\n".join(f"line {i} " + "x" * 100 for i in range(200))),)))
    assert all(len(t) <= 3000 for t in section_texts(rendered.blocks))
    assert len(rendered.blocks) <= MAX_BLOCKS


def test_header_is_clipped_to_150_chars_and_fallback_text_exists() -> None:
    rendered = render(Reply("x" * 400, (), where="cluster `a`", tone="error"))
    assert len(rendered.blocks[0]["text"]["text"]) <= 150
    assert rendered.text.startswith(":x: ")


def test_buttons_render_as_actions_block_with_values() -> None:
    reply = Reply("Confirm", (), buttons=(Button("Confirm", "opsbot:approval:confirm", "abc", "primary"),))
    actions = next(b for b in render(reply).blocks if b["type"] == "actions")
    assert actions["elements"][0]["value"] == "abc"
    assert actions["elements"][0]["style"] == "primary"


def test_attachment_preview_is_shown_in_the_message() -> None:
    reply = Reply("Logs", (), attachment=FileAttachment("a.log", "1\n2\n3", "a", preview="3"))
    assert "```\n3\n```" in section_texts(render(reply).blocks)
