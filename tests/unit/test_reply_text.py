"""The neutral text model (pure): how paragraphs are built, joined and cut into lines."""

from __future__ import annotations

from opsbot.core.reply import (
    Emphasis,
    Icon,
    Mention,
    Mono,
    Strong,
    Table,
    Text,
    as_text,
    bullets,
    lines,
    on_cluster,
    where,
)


def test_nested_text_is_spliced_in_empty_strings_vanish_and_strings_merge() -> None:
    inner = Text("a", Strong("b"))
    assert Text("", inner, "", Mono("c")).spans == ("a", Strong("b"), Mono("c"))
    assert Text("a", "b", Text("c", Strong("d", "e"))).spans == ("abc", Strong("de"))
    assert not Text("", Text()) and Text(Icon.SUCCESS)


def test_paragraphs_compose_with_plus_and_join() -> None:
    assert Text("x") + Strong("y") == Text("x", Strong("y"))
    assert "x" + Text(Strong("y")) == Text("x", Strong("y"))
    assert Text.join(", ", (Mono(p) for p in ("a", "b"))) == Text(Mono("a"), ", ", Mono("b"))
    assert Text.join(", ", ()) == Text()


def test_a_plain_string_is_plain_text() -> None:
    assert as_text("*not bold* <@U1>") == Text("*not bold* <@U1>")
    assert as_text(Text(Mention("U1"))) == Text(Mention("U1"))


def test_lines_cut_strong_and_emphasis_runs_at_line_breaks() -> None:
    text = Text("a\nb ", Strong("c\nd"), Emphasis("\ne"))
    assert text.lines() == [Text("a"), Text("b ", Strong("c")), Text(Strong("d")), Text(Emphasis("e"))]


def test_lines_and_bullets_helpers() -> None:
    assert lines("a", Text(Strong("b"))) == Text("a\n", Strong("b"))
    assert bullets(["x", Mono("y")]).lines() == [Text("• x"), Text("• ", Mono("y"))]


def test_where_names_cluster_and_namespace_as_code() -> None:
    assert where("prod", "web") == Text("cluster ", Mono("prod"), " · namespace ", Mono("web"))
    assert where("prod", None) == Text(on_cluster("prod"), " · all namespaces")


def test_table_layout_aligns_and_clips_cells_and_counts_hidden_rows() -> None:
    table = Table.first(("NAME", "STATUS"), [("api-1", "Running"), ("x" * 80, "Pending")], 1, hint="Use -n.")
    assert table.layout() == ["NAME   STATUS", "api-1  Running"]
    assert table.hidden == 1 and table.more_note() == Text("… and 1 more.", " ", "Use -n.")
    wide = Table(("A",), (("x" * 80,),))
    assert wide.layout()[1] == "x" * 59 + "…"
