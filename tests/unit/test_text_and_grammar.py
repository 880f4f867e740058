"""Slack text normalisation and the kubectl-like grammar (pure)."""

from __future__ import annotations

import pytest

from opsbot.commands.catalog import build_registry
from opsbot.commands.text import normalize, tokenize
from opsbot.errors import UnknownCommandError, UsageError

REGISTRY = build_registry()


@pytest.mark.parametrize(
    ("slack_text", "typed"),
    [
        pytest.param("<@UBOT0001> pods -n web", "pods -n web", id="leading-mention"),
        pytest.param("<@UBOT0001>: pods", "pods", id="mention-with-colon"),
        pytest.param("logs <http://api.example.com|api.example.com>", "logs api.example.com", id="autolink"),
        pytest.param("logs <http://api.example.com>", "logs api.example.com", id="bare-link"),
        pytest.param("pods -l \u201capp=api\u201d", 'pods -l "app=api"', id="smart-quotes"),
        pytest.param("`pods -n web`", "pods -n web", id="inline-code"),
        pytest.param("```pods -A```", "pods -A", id="code-fence"),
        pytest.param("logs api \u2014tail 5", "logs api --tail 5", id="em-dash"),
        pytest.param("pods -l a&amp;b", "pods -l a&b", id="entities"),
        pytest.param("pods <!channel> -A", "pods -A", id="broadcast-dropped"),
        pytest.param("pods\u00a0-A", "pods -A", id="nbsp"),
    ],
)
def test_normalize_undoes_slack_formatting(slack_text: str, typed: str) -> None:
    assert normalize(slack_text) == typed


def test_tokenize_keeps_quoted_selector_together() -> None:
    assert tokenize('pods -l "env in (a, b)"') == ["pods", "-l", "env in (a, b)"]


def test_tokenize_reports_unclosed_quote_as_usage_error() -> None:
    with pytest.raises(UsageError, match="quotes"):
        tokenize('pods -l "app=api')


def test_tokenize_never_interprets_shell_syntax() -> None:
    assert tokenize("pods; rm -rf / $(id) `x`") == ["pods;", "rm", "-rf", "/", "$(id)", "`x`"]


def test_parse_reads_options_in_every_spelling() -> None:
    for text in ("pods -n web", "pods --namespace web", "pods --namespace=web", "pods -nweb", "po -n=web"):
        invocation = REGISTRY.parse(text)
        assert invocation.spec.name == "pods"
        assert invocation.value("namespace") == "web", text


def test_parse_logs_with_all_options() -> None:
    invocation = REGISTRY.parse("logs api-1 -c app --tail 20 --previous --since 10m -n web")
    assert invocation.args == ("api-1",)
    assert invocation.value("container") == "app"
    assert invocation.value("tail") == "20"
    assert invocation.flag("previous")
    assert invocation.value("since") == "10m"


def test_unknown_command_suggests_near_misses() -> None:
    with pytest.raises(UnknownCommandError) as caught:
        REGISTRY.parse("psod -A")
    assert "pods" in caught.value.suggestions


def test_unknown_option_is_a_usage_error_naming_the_command() -> None:
    with pytest.raises(UsageError) as caught:
        REGISTRY.parse("pods --frobnicate")
    assert caught.value.command == "pods"


def test_both_namespace_and_all_namespaces_is_refused() -> None:
    with pytest.raises(UsageError, match="either"):
        REGISTRY.parse("pods -n web -A")


def test_missing_option_value_is_refused() -> None:
    with pytest.raises(UsageError, match="needs a value"):
        REGISTRY.parse("logs api --tail")


def test_extra_positional_arguments_are_refused() -> None:
    with pytest.raises(UsageError, match="unexpected"):
        REGISTRY.parse("pods web extra")


def test_a_bare_mention_is_a_greeting() -> None:
    assert REGISTRY.parse("<@UBOT0001>").spec.name == "hello"


def test_help_flag_short_circuits_argument_checks() -> None:
    invocation = REGISTRY.parse("scale --help")
    assert invocation.flag("help")
    assert invocation.spec.name == "scale"


def test_command_words_are_unique_across_aliases() -> None:
    words = [w for spec in REGISTRY.specs() for w in (spec.name, *spec.aliases)]
    assert len(words) == len(set(words))
