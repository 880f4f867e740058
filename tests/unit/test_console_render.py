"""Terminal rendering of replies (pure): Slack markup becomes readable text."""

from __future__ import annotations

from opsbot.console.render import plain, render_text
from opsbot.core.reply import Code, Fields, FileAttachment, Reply, Table, Text, escape


def test_mentions_channels_and_links_become_readable() -> None:
    text = plain("<@U0ALICE01> in <#C0OPS0001|ops> see <https://k8s.io/docs|the docs> or <https://x.io>")
    assert text == "@U0ALICE01 in #ops see the docs (https://k8s.io/docs) or https://x.io"


def test_emphasis_markers_go_but_names_with_underscores_stay() -> None:
    assert plain("*What will change*") == "What will change"
    assert plain("_Approved by someone_") == "Approved by someone"
    assert plain("env MY_VAR_NAME and snake_case_name") == "env MY_VAR_NAME and snake_case_name"
    assert plain("2 * 3 * 4") == "2 * 3 * 4"


def test_inline_code_keeps_its_backticks_and_fences_are_indented() -> None:
    assert plain("Try `help`") == "Try `help`"
    assert plain("```\nline 1\nline 2\n```") == "    line 1\n    line 2"


def test_escaped_user_text_is_shown_as_typed_and_never_turns_into_markup() -> None:
    hostile = "<@U0EVIL001> & <https://evil.example|click>"
    assert plain(escape(hostile)) == hostile


def test_a_reply_renders_title_tone_table_fields_and_truncation_note() -> None:
    reply = Reply(
        "Pods",
        (
            Fields((("Replicas", "*3*"),)),
            Table(("NAME", "STATUS"), (("api-1", "Running"),), total=4, hint="Use -n."),
            Code("raw <text>"),
        ),
        where="cluster `test` · namespace `web`",
        tone="error",
    )
    text = render_text(reply)
    lines = text.splitlines()
    assert lines[0] == "✗ Pods"
    assert lines[1] == "cluster `test` · namespace `web`"
    assert "Replicas: 3" in lines
    assert any(line.startswith("NAME") and "STATUS" in line for line in lines)
    assert "… and 3 more. Use -n." in lines
    assert "raw <text>" in lines


def test_attachments_are_printed_whole_and_colour_only_when_asked() -> None:
    content = "\n".join(f"log line {n}" for n in range(500))
    reply = Reply("Logs", (Text("tail"),), attachment=FileAttachment("api.log", content, "api", "log line 499"))
    text = render_text(reply)
    assert "log line 0" in text and "log line 499" in text and "--- api.log ---" in text
    assert "\x1b[" not in text
    assert render_text(reply, colour=True).startswith("\x1b[1mLogs\x1b[0m")
