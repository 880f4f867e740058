"""Block Kit rendering stays inside Slack's limits (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from opsbot.core.reply import (
    Button,
    ChannelRef,
    Code,
    Emphasis,
    Fields,
    FileAttachment,
    Icon,
    Link,
    Mention,
    Mono,
    Quote,
    Reply,
    Strong,
    Table,
    Text,
    bullets,
    where,
)
from opsbot.slack.render import EMOJI, MAX_BLOCKS, mrkdwn, render


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


# neutral text → mrkdwn ---------------------------------------------------------


def test_plain_text_is_escaped_so_it_can_never_become_a_mention_or_link() -> None:
    assert mrkdwn("<!channel> & <@U1> <https://evil.example|click>") == (
        "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://evil.example|click&gt;"
    )
    assert mrkdwn("already &amp; escaped") == "already &amp;amp; escaped"


def test_strong_and_emphasis_become_markers() -> None:
    assert mrkdwn(Text(Strong("3"), " pods, ", Strong("1"), " not ready")) == "*3* pods, *1* not ready"
    assert mrkdwn(Text(Emphasis("No recent events."))) == "_No recent events._"
    assert (
        mrkdwn(Text(Strong("Last lines of ", Mono("app")), " (failed)")) == "*Last lines of `app`* (failed)"
    )
    assert mrkdwn(Text(Emphasis("Approved by ", Mention("UA"), " at noon"))) == "_Approved by <@UA> at noon_"


def test_user_data_inside_strong_or_emphasis_cannot_break_the_formatting() -> None:
    assert mrkdwn(Text(Strong("a*b <x>"))) == "*a\u2217b &lt;x&gt;*"
    assert mrkdwn(Text(Emphasis("_private and snake_case_"))) == "_\u02cdprivate and snake_case\u02cd_"
    assert mrkdwn(Text(Strong(" padded "))) == " *padded* "
    assert mrkdwn(Text(Strong(""), Emphasis("  "))) == "  "
    assert mrkdwn(Text(Strong(Strong("nested")))) == "*nested*"


def test_inline_code_is_escaped_and_cannot_be_closed_early() -> None:
    assert mrkdwn(Text(Mono("a`b <@U1> & c"))) == "`a\u02cbb &lt;@U1&gt; &amp; c`"
    assert mrkdwn(Text(Mono(""))) == ""


def test_links_mentions_channels_and_icons() -> None:
    assert mrkdwn(Text(Link("https://k8s.io/docs?a=1&b=2", "the <docs>"))) == (
        "<https://k8s.io/docs?a=1&amp;b=2|the &lt;docs&gt;>"
    )
    assert mrkdwn(Text(Link("https://x.io/a|b"))) == "<https://x.io/a%7Cb>"
    assert (
        mrkdwn(Text(Mention("U0ALICE01"), " in ", ChannelRef("C0OPS0001"))) == "<@U0ALICE01> in <#C0OPS0001>"
    )
    assert (
        mrkdwn(Text(Icon.SUCCESS, " ok ", Icon.FAILURE, Icon.MUTED)) == ":white_check_mark: ok :x::no_bell:"
    )


def test_a_mention_of_something_that_is_not_an_id_stays_plain_text() -> None:
    assert mrkdwn(Text(Mention("U1> <!channel"))) == "@U1&gt; &lt;!channel"
    assert mrkdwn(Text(ChannelRef("#general"))) == "##general"


@pytest.mark.parametrize("icon", list(Icon))
def test_every_icon_is_an_emoji(icon: Icon) -> None:
    emoji = mrkdwn(Text(icon))
    assert emoji.startswith(":") and emoji.endswith(":") and emoji == EMOJI[icon]


def test_strong_runs_are_closed_at_line_breaks() -> None:
    text = Text(Strong("What will change\nreplicas"), "\n", bullets(["a", Text("b ", Mono("c"))]))
    assert [mrkdwn(line) for line in text.lines()] == ["*What will change*", "*replicas*", "• a", "• b `c`"]


def test_fields_render_labels_bold_and_values_escaped_or_formatted() -> None:
    reply = Reply(
        "T",
        (Fields((("Reason", "<none> & *x*"), ("Requested by", Text(Mention("U0ALICE01"))))),),
    )
    fields = next(b for b in render(reply).blocks if "fields" in b)["fields"]
    assert [f["text"] for f in fields] == ["*Reason*\n&lt;none&gt; &amp; *x*", "*Requested by*\n<@U0ALICE01>"]


def test_quote_lines_are_quoted_and_escaped() -> None:
    rendered = render(Reply("T", (Quote("Back-off <x>\nagain"),)))
    assert section_texts(rendered.blocks) == ["> Back-off &lt;x&gt;\n> again"]


def test_header_is_plain_text_with_emoji_and_fallback_is_mrkdwn() -> None:
    reply = Reply(Text(Icon.CRITICAL, " CrashLoop — ", Mono("api"), " <&>"), where=where("prod", "web"))
    rendered = render(reply)
    header = rendered.blocks[0]["text"]
    assert header == {"type": "plain_text", "text": ":red_circle: CrashLoop — `api` <&>", "emoji": True}
    assert rendered.blocks[1]["elements"][0]["text"] == "cluster `prod` · namespace `web`"
    assert rendered.text == ":red_circle: CrashLoop — `api` &lt;&amp;&gt; (cluster `prod` · namespace `web`)"


def test_table_hint_and_code_fences_stay_intact() -> None:
    table = Table(("A",), (("<x>",),), total=3, hint=Text("Narrow with ", Mono("-n"), "."))
    rendered = render(Reply("T", (table, Code("a ``` b"))))
    texts = section_texts(rendered.blocks)
    assert texts[0] == "```\nA\n&lt;x&gt;\n```"
    assert texts[1] == "```\na `\u200b`` b\n```"
    context = [b for b in rendered.blocks if b["type"] == "context"]
    assert context[-1]["elements"][0]["text"] == "… and 2 more. Narrow with `-n`."
