"""Terminal rendering of replies (pure): the neutral text model becomes readable text."""

from __future__ import annotations

import pytest

from opsbot.console.render import SYMBOL, plain, render_text
from opsbot.core.reply import (
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
    lines,
    where,
)


def test_mentions_channels_and_links_become_readable() -> None:
    text = Text(
        Mention("U0ALICE01"),
        " in ",
        ChannelRef("C0OPS0001"),
        " see ",
        Link("https://k8s.io/docs", "the docs"),
        " or ",
        Link("https://x.io"),
    )
    assert plain(text) == "@U0ALICE01 in #C0OPS0001 see the docs (https://k8s.io/docs) or https://x.io"


def test_strong_and_emphasis_lose_their_styling_and_plain_text_keeps_every_character() -> None:
    assert plain(Text(Strong("What will change"))) == "What will change"
    assert plain(Text(Emphasis("Approved by ", Mention("U1")))) == "Approved by @U1"
    assert plain("env MY_VAR_NAME and snake_case_name") == "env MY_VAR_NAME and snake_case_name"
    assert plain("2 * 3 * 4 and *not bold*") == "2 * 3 * 4 and *not bold*"


def test_inline_code_keeps_its_backticks() -> None:
    assert plain(Text("Try ", Mono("help"))) == "Try `help`"


@pytest.mark.parametrize("icon", list(Icon))
def test_every_icon_has_a_symbol(icon: Icon) -> None:
    assert plain(Text(icon, " done")) == f"{SYMBOL[icon]} done"


def test_status_icons_read_as_symbols() -> None:
    assert plain(Text(Icon.SUCCESS, " ok")) == "✓ ok"
    assert plain(Text(Icon.FAILURE, " no")) == "✗ no"
    assert plain(Text(Icon.WARNING, " hm")) == "! hm"
    assert plain(Text(Icon.MUTED, " muted")) == "🔕 muted"


def test_hostile_user_text_is_shown_exactly_as_typed() -> None:
    """Nothing is escaped for a terminal and nothing in plain text is ever read as markup."""
    hostile = "<@U0EVIL001> & <https://evil.example|click> <!channel> &amp; *bold* _it_"
    assert plain(hostile) == hostile
    assert plain(Text(Strong(hostile))) == hostile


def test_lines_and_bullets_are_one_paragraph() -> None:
    text = Text(Strong("What will change"), "\n", bullets(["replicas 3 → 0", Text("pods: ", Mono("api-1"))]))
    assert plain(text) == "What will change\n• replicas 3 → 0\n• pods: `api-1`"
    assert plain(lines("a", Text("b"), Strong("c"))) == "a\nb\nc"


def test_a_reply_renders_title_tone_table_fields_and_truncation_note() -> None:
    reply = Reply(
        "Pods",
        (
            Fields((("Replicas", Text(Strong("3"))), ("Requested by", Text(Mention("U0ALICE01"))))),
            Table(("NAME", "STATUS"), (("api-1", "Running"),), total=4, hint=Text("Use ", Mono("-n"), ".")),
            Code("raw <text>"),
            Quote("Back-off <restarting>\nfailed container"),
        ),
        where=where("test", "web"),
        tone="error",
    )
    text = render_text(reply)
    lines_ = text.splitlines()
    assert lines_[0] == "✗ Pods"
    assert lines_[1] == "cluster `test` · namespace `web`"
    assert "Replicas: 3" in lines_
    assert "Requested by: @U0ALICE01" in lines_
    assert any(line.startswith("NAME") and "STATUS" in line for line in lines_)
    assert "… and 3 more. Use `-n`." in lines_
    assert "raw <text>" in lines_
    assert "> Back-off <restarting>" in lines_ and "> failed container" in lines_


def test_a_title_may_carry_an_icon_and_code() -> None:
    reply = Reply(Text(Icon.SUCCESS, " Resolved: ", Mono("api")), tone="info")
    assert render_text(reply) == "✓ Resolved: `api`"


def test_attachments_are_printed_whole_and_colour_only_when_asked() -> None:
    content = "\n".join(f"log line {n}" for n in range(500))
    reply = Reply(
        "Logs", (Text("tail"),), attachment=FileAttachment("api.log", content, "api", "log line 499")
    )
    text = render_text(reply)
    assert "log line 0" in text and "log line 499" in text and "--- api.log ---" in text
    assert "\x1b[" not in text
    assert render_text(reply, colour=True).startswith("\x1b[1mLogs\x1b[0m")
    assert render_text(Reply("Oops", tone="error"), colour=True) == "\x1b[1;31m✗ Oops\x1b[0m"


def test_buttons_that_stand_for_commands_are_shown_as_commands_to_type() -> None:
    from opsbot.core.reply import Button, run_buttons

    reply = Reply(
        "Hi, alice!",
        buttons=(*run_buttons(("Status", "status"), ("Pods", "pods")), Button("X", "other", "1")),
    )
    assert render_text(reply).splitlines()[-1] == "Next: `status` · `pods`"
