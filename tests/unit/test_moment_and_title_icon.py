"""A moment in time (`Moment`) and a reply's one title icon, in both renderers and the stored form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from opsbot.console.render import local_time, plain, render_text
from opsbot.core.reply import Icon, Moment, Reply, Text, plural, text_from_data, text_to_data
from opsbot.slack.render import mrkdwn, plain_text, render

AT = datetime(2026, 3, 1, 12, 3, 9, tzinfo=UTC)


def test_slack_shows_a_moment_in_each_readers_time_zone_with_a_utc_fallback() -> None:
    assert mrkdwn(Text("since ", Moment(AT))) == (
        f"since <!date^{int(AT.timestamp())}^{{date_short_pretty}} {{time}}|2026-03-01 12:03 UTC>"
    )


def test_a_moment_is_the_same_instant_whatever_zone_it_was_given_in() -> None:
    berlin = AT.astimezone(timezone(timedelta(hours=1)))
    assert Moment(berlin) == Moment(berlin) and Moment(berlin).utc == AT
    assert mrkdwn(Text(Moment(berlin))) == mrkdwn(Text(Moment(AT)))
    assert Moment(AT.replace(tzinfo=None)).utc == AT  # naive is UTC


def test_headers_and_the_console_write_a_moment_as_text() -> None:
    assert plain_text(Text("at ", Moment(AT))) == "at 2026-03-01 12:03 UTC"
    shown = plain(Text(Moment(AT)))
    assert shown == local_time(Moment(AT))
    assert datetime.fromisoformat(shown) == AT.replace(second=0)


def test_a_moment_survives_the_stored_form() -> None:
    text = Text("since ", Moment(AT), "!")
    assert text_from_data(text_to_data(text)) == text


@pytest.mark.parametrize("tone", ["info", "success", "warning", "error"])
def test_a_reply_with_its_own_icon_shows_only_that_one(tone: str) -> None:
    reply = Reply("CrashLoopBackOff — deployment/api", tone=tone, icon=Icon.CRITICAL)  # type: ignore[arg-type]
    header = render(reply).blocks[0]["text"]["text"]
    assert header == ":red_circle: CrashLoopBackOff — deployment/api"
    assert render_text(reply) == "🔴 CrashLoopBackOff — deployment/api"


def test_without_an_icon_the_tone_gives_one() -> None:
    assert render(Reply("Done", tone="success")).blocks[0]["text"]["text"] == ":white_check_mark: Done"


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 new incidents"), (1, "1 new incident"), (2, "2 new incidents")]
)
def test_plural(count: int, text: str) -> None:
    assert plural(count, "new incident") == text
    assert plural(1, "pressure", "pressures") == "1 pressure"
