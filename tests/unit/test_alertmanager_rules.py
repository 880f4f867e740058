"""Remediation rules, settings and secrets of the Alertmanager feature, and the silence command's
grammar (pure)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from opsbot.alertmanager.planning import check_rules
from opsbot.alertmanager.rules import Rendered, TemplateError, fill, proposals
from opsbot.alertmanager.secrets import WEBHOOK_TOKEN_ENV, load_secrets
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.commands.catalog import build_registry
from opsbot.commands.catalog.silences import parse_silence
from opsbot.config import parse_settings
from opsbot.core.durations import parse_duration
from opsbot.errors import ConfigError, UsageError

ROLES = {"viewer", "operator", "admin"}


def settings(**data: Any) -> AlertmanagerSettings:
    return AlertmanagerSettings.model_validate({"enabled": True, **data})


def rule(**data: Any) -> dict[str, Any]:
    return {"name": "r", "match": {"alertname": "X"}, **data}


def test_templates_take_labels_and_annotations() -> None:
    labels = {"deployment": "api", "namespace": "web"}
    assert fill("scale deploy/{labels.deployment} 3", labels, {}, command=True) == "scale deploy/api 3"
    assert fill("failover {annotations.primary}", {}, {"primary": "db 1"}, command=False) == "failover db 1"


@pytest.mark.parametrize(
    "value",
    ["api --cluster prod", "-n", "api;rm", "", "a b", "$(x)"],
)
def test_a_label_can_never_add_arguments_or_options_to_a_command(value: str) -> None:
    with pytest.raises(TemplateError, match="cannot go into a command"):
        fill("restart deploy/{labels.deployment}", {"deployment": value}, {}, command=True)


def test_a_missing_label_or_unknown_placeholder_names_the_problem() -> None:
    with pytest.raises(TemplateError, match="no label 'deployment'"):
        fill("restart deploy/{labels.deployment}", {}, {}, command=True)
    with pytest.raises(TemplateError, match="not a placeholder"):
        fill("restart deploy/{deployment}", {}, {}, command=True)


def test_only_rules_whose_every_label_matches_propose() -> None:
    config = settings(
        remediations=[
            rule(
                name="a",
                match={"alertname": "X", "severity": "critical"},
                command="restart deploy/{labels.app}",
            ),
            rule(name="b", command="restart deploy/{labels.missing}"),
        ]
    )
    found = proposals(config, {"alertname": "X", "severity": "critical", "app": "api"}, {})
    assert isinstance(found[0], Rendered) and found[0].text == "restart deploy/api"
    assert not isinstance(found[1], Rendered) and "no label 'missing'" in found[1][1]
    assert proposals(config, {"alertname": "Y"}, {}) == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (rule(), "exactly one of `command` and `signal`"),
        (rule(command="restart deploy/x", signal={"target": "t", "action": "a"}), "exactly one"),
        (rule(signal={"target": "nowhere", "action": "a"}), "unknown target 'nowhere'"),
        (rule(name="Bad Name", command="restart deploy/x"), "lowercase name"),
        (rule(match={"bad-label": "x"}, command="restart deploy/x"), "not a Prometheus label name"),
    ],
)
def test_rules_are_checked_when_the_config_loads(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        settings(remediations=[data])


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("pods -n web", "`pods` changes nothing"),
        ("frobnicate deploy/x", "`frobnicate` is not a command"),
        ("scale deploy/{labels.app} 3 4 5", "unexpected argument"),
        ("restart deploy/{app}", "{app} is not a placeholder"),
    ],
)
def test_rule_commands_are_checked_against_the_command_registry(command: str, problem: str) -> None:
    problems = check_rules(settings(remediations=[rule(command=command)]), build_registry(), ROLES)
    assert any(problem in line for line in problems), problems
    assert all(line.startswith("alertmanager.remediations.0") for line in problems)


def test_valid_rules_pass_the_registry_check() -> None:
    config = settings(
        signal_targets={"deploybot": {"url": "https://deploy.example/hook"}},
        remediations=[
            rule(name="a", command="scale deploy/{labels.deployment} 3 -n {labels.namespace}"),
            rule(name="b", command="restart deploy/{labels.deployment}"),
            rule(name="r", command="rollback {labels.app} on prod"),
            rule(name="c", signal={"target": "deploybot", "action": "failover {labels.instance}"}),
        ],
    )
    assert check_rules(config, build_registry(), ROLES) == []


def test_settings_keep_credentials_out_of_urls_and_alerts_must_be_on() -> None:
    with pytest.raises(ValueError, match="credentials do not belong in the URL"):
        settings(url="http://admin:secret@alertmanager:9093")
    base = {"clusters": {"test": {"in_cluster": True}}}
    with pytest.raises(ConfigError, match="enable alerts too"):
        parse_settings({**base, "alerts": {"enabled": False}, "alertmanager": {"enabled": True}})
    with pytest.raises(ConfigError, match="unknown role 'dba'"):
        parse_settings(
            {
                **base,
                "alerts": {"default_channel": "C0ALERTS01"},
                "alertmanager": {
                    "enabled": True,
                    "remediations": [rule(command="restart deploy/x", approvers_role="dba")],
                },
            }
        )


def test_secrets_come_from_the_environment_and_never_show() -> None:
    config = settings(
        signal_targets={"deploybot": {"url": "https://d.example", "secret_env": "DEPLOYBOT_SECRET"}}
    )
    secrets, problems = load_secrets(config, {})
    assert secrets is None
    assert any(WEBHOOK_TOKEN_ENV in p for p in problems) and any("DEPLOYBOT_SECRET" in p for p in problems)
    _, problems = load_secrets(config, {WEBHOOK_TOKEN_ENV: "short", "DEPLOYBOT_SECRET": "whsec_!!"})
    assert any("shorter than" in p for p in problems) and any("base64" in p for p in problems)
    environ = {
        WEBHOOK_TOKEN_ENV: "t" * 32,
        "DEPLOYBOT_SECRET": "whsec_c2VjcmV0",
        "ALERTMANAGER_API_TOKEN": "api-tok",
    }
    secrets, problems = load_secrets(config, environ)
    assert problems == [] and secrets is not None
    shown = repr(secrets) + str(secrets.signal_secrets) + f"{secrets.webhook_token}"
    assert "t" * 32 not in shown and "c2VjcmV0" not in shown and "api-tok" not in shown
    assert secrets.api.headers() == {"Authorization": "Bearer api-tok"}
    assert secrets.scrub(f"bad token {'t' * 32}") == "bad token ********"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("45s", 45), ("1w", 604800)],
)
def test_durations_read_like_people_write_them(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "0m", "-1h", "9999999h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_silence_command_reads_targets_duration_and_comment() -> None:
    assert parse_silence("silence HighLatency") == (["HighLatency"], timedelta(hours=2), "")
    assert parse_silence("silence a b for 30m -- deploy in progress -- really") == (
        ["a", "b"],
        timedelta(minutes=30),
        "deploy in progress -- really",
    )
    with pytest.raises(UsageError, match="duration last"):
        parse_silence("silence for 2h a")
    with pytest.raises(UsageError, match="name an alert"):
        parse_silence("silence for 2h")
    with pytest.raises(UsageError):
        parse_silence("silence a for soon")


def test_signing_secrets_and_bearer_tokens_never_reach_a_log_line() -> None:
    from opsbot.logs import redact_text

    line = "signal failed: secret=whsec_c2VjcmV0MTIz+/= header Authorization: Bearer abc.def-123"
    assert redact_text(line) == "signal failed: secret=whsec_[redacted] header Authorization: Bearer [redacted]"
