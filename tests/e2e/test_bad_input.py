"""Bad input gets a clear answer and changes nothing: no request reaches the API server."""

from __future__ import annotations

import pytest

from tests.support.harness import BotHarness, block_text


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param("logs Bad_Name", "not a valid pod name", id="pod-name"),
        pytest.param("logs api -c Bad_C", "not a valid container name", id="container-name"),
        pytest.param("pods -n Web", "not a valid namespace name", id="namespace"),
        pytest.param("pods -n " + "a" * 64, "not a valid namespace name", id="namespace-too-long"),
        pytest.param("pods -l 'app=(x'", "not a valid label selector", id="selector"),
        pytest.param("scale deploy/api 999", "replicas must be a whole number from 0 to 50, got 999", id="too-many-replicas"),
        pytest.param("scale deploy/api -1", "replicas must be a whole number from 0 to 50", id="negative-replicas"),
        pytest.param("scale deploy/api ３", "replicas must be a whole number from 0 to 50", id="fullwidth-digit"),
        pytest.param("scale deploy/api ٣", "replicas must be a whole number from 0 to 50", id="arabic-indic-digit"),
        pytest.param("scale deploy/api three", "replicas must be a whole number from 0 to 50", id="words-for-replicas"),
        pytest.param("scale deploy/../../x 1", "not a valid deployment name", id="path-in-name"),
        pytest.param("restart deploy/API", "not a valid deployment name", id="uppercase-deploy"),
        pytest.param("logs api --tail 999999", "--tail must be a whole number from 1 to 5000", id="tail-cap"),
        pytest.param("logs api --since yesterday", "is not a duration", id="since"),
        pytest.param("describe secret x", "cannot describe", id="describe-kind"),
        pytest.param("events --for pod/Bad_Name", "not a valid pod name", id="events-for"),
        pytest.param("pods --cluster nope", "unknown cluster", id="unknown-cluster"),
        pytest.param("pods -l 'a=1' -l 'b=2'", "given twice", id="repeated-option"),
        pytest.param('pods -l "unclosed', "check your quotes", id="unclosed-quote"),
    ],
)
async def test_invalid_input_is_refused_before_any_api_call(
    harness: BotHarness, command: str, expected: str
) -> None:
    harness.kube.clear_requests()
    reply = await harness.ask(command)
    assert expected in block_text(reply)
    await harness.settle()
    assert harness.kube.requests == []


async def test_unknown_command_suggests_the_near_miss(harness: BotHarness) -> None:
    reply = await harness.ask("psod -A")
    text = block_text(reply)
    assert "I don't know the command `psod`" in text
    assert "Did you mean `pods`?" in text


async def test_usage_error_shows_the_commands_usage(harness: BotHarness) -> None:
    reply = await harness.ask("logs")
    assert "logs POD|app/NAME [-c CONTAINER]" in block_text(reply)


async def test_huge_text_is_refused_without_parsing(harness: BotHarness) -> None:
    harness.kube.clear_requests()
    reply = await harness.ask("pods " + "x" * 30_000)
    assert "too long" in block_text(reply)
    await harness.settle()
    assert harness.kube.requests == []


async def test_hostile_markup_is_never_echoed_as_markup(harness: BotHarness) -> None:
    reply = await harness.ask("<!here> psod<@U0EVIL> &")
    text = block_text(reply)
    assert "<!here>" not in text and "<@U0EVIL>" not in text


async def test_junk_is_not_echoed_with_invisible_characters(harness: BotHarness) -> None:
    reply = await harness.ask("ps\u200bod\u202e\u2066 -A")
    text = block_text(reply)
    assert "psod" in text
    assert not any(ch in text for ch in "\u200b\u202e\u2066")
