"""Greetings and small talk told apart from commands, and what answers them."""

from __future__ import annotations

import pytest

from opsbot.commands.catalog import build_registry
from opsbot.commands.smalltalk import Talk, after_greeting, small_talk
from opsbot.errors import UnknownCommandError

REGISTRY = build_registry()


@pytest.mark.parametrize(
    ("text", "talk"),
    [
        ("", Talk.GREETING),
        ("hi", Talk.GREETING),
        ("Hello!", Talk.GREETING),
        ("hey U0BOT00001", Talk.GREETING),  # "hey @opsbot": the mention, as normalize leaves it
        ("hiii there", Talk.GREETING),
        ("Good morning, team :wave:", Talk.GREETING),
        ("hey opsbot, how are you doing today?", Talk.GREETING),
        ("what's up?", Talk.WHATS_UP),
        ("whats up", Talk.WHATS_UP),
        ("hey, what’s up", Talk.WHATS_UP),  # a typographic apostrophe
        ("anything on fire?", Talk.WHATS_UP),
        ("thanks!", Talk.THANKS),
        ("thank you very much", Talk.THANKS),
        ("bye", Talk.BYE),
    ],
)
def test_small_talk_is_recognised(text: str, talk: Talk) -> None:
    assert small_talk(text) is talk


@pytest.mark.parametrize(
    "text",
    ["pdos", "hello world", "hi can you restart podinfo", "restart podinfo", "highlights", "logs", "good"],
)
def test_anything_else_is_not_small_talk(text: str) -> None:
    assert small_talk(text) is None


def test_a_command_after_a_greeting_is_found() -> None:
    assert after_greeting("hi, pods -n web") == "pods -n web"
    assert after_greeting("hey team: logs") == "logs"
    assert after_greeting("hi") is None
    assert after_greeting("pods -n web") is None


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("<@UBOT0001>", "hello"),
        ("<@UBOT0001> hi", "hello"),
        ("<@UBOT0001> hey <@UBOT0001>", "hello"),
        ("what's up?", "status"),
        ("thanks", "hello"),
        ("hi, pods -n web", "pods"),
        ("hello pods -n web", "pods"),
        ("help", "help"),
    ],
)
def test_the_registry_hands_small_talk_to_the_command_that_answers_it(text: str, command: str) -> None:
    assert REGISTRY.parse(text).spec.name == command


@pytest.mark.parametrize(
    ("text", "word", "suggested"), [("pdos", "pdos", ["pods"]), ("hi, pdos", "pdos", ["pods"])]
)
def test_unknown_words_that_look_like_commands_still_get_did_you_mean(
    text: str, word: str, suggested: list[str]
) -> None:
    with pytest.raises(UnknownCommandError) as raised:
        REGISTRY.parse(text)
    assert raised.value.word == word and raised.value.suggestions == suggested
