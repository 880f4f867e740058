"""The example configs' Slack ids are recognisable placeholders, and the doctor finds them all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from opsbot.config import load_settings, parse_settings
from opsbot.doctor.placeholders import SlackId, is_placeholder, placeholders, slack_ids
from opsbot.policy.ids import CHANNEL_ID, USER_ID, USERGROUP_ID

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIGS = (
    ROOT / "config.example.yaml",
    ROOT / "manifests" / "base" / "config.yaml",
    ROOT / "manifests" / "overlays" / "everything" / "config.yaml",
)


def id_shaped(value: Any) -> set[str]:
    """Every key or value in parsed YAML that looks like a Slack channel, user or group id."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= id_shaped(key) | id_shaped(item)
    elif isinstance(value, list):
        for item in value:
            found |= id_shaped(item)
    elif isinstance(value, str) and any(p.match(value) for p in (CHANNEL_ID, USER_ID, USERGROUP_ID)):
        found.add(value)
    return found


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_slack_id_a_shipped_config_names_is_a_placeholder_the_doctor_finds(path: Path) -> None:
    shipped = id_shaped(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert shipped, path
    assert all(is_placeholder(value) for value in shipped), sorted(shipped)
    # The walk over the settings misses no field a Slack id can be in.
    settings = load_settings(path)
    assert {slack_id.value for slack_id in placeholders(settings)} == shipped


def test_the_example_marks_channels_users_and_user_groups() -> None:
    kinds = {slack_id.kind for slack_id in placeholders(load_settings(ROOT / "config.example.yaml"))}
    assert kinds == {"channel", "user", "user group"}


@pytest.mark.parametrize("value", ["C024BE91L", "U0123ABCD", "S0SRE0001", "C0ALERTS01", "GEXAMPL01"])
def test_real_looking_ids_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


def test_slack_ids_name_the_key_path_of_each_id() -> None:
    settings = parse_settings(
        {
            "clusters": {"prod": {"in_cluster": True}},
            "channels": {"C0WEB00001": {"namespace": "web"}},
            "approvals": {"audit_channel": "C0AUDIT001"},
            "alerts": {"default_channel": "C0ALERTS01", "rules": [{"channel": "CEXAMPLEPAY"}]},
            "policy": {
                "bindings": [
                    {"role": "admin", "users": ["UEXAMPLEADMIN"], "usergroups": ["S0SRE0001"]},
                    {"role": "viewer", "channels": ["C0WEB00001"]},
                ],
                "channels": {"C0RO000001": {"allow_verbs": ["read"]}},
            },
        }
    )
    assert slack_ids(settings) == [
        SlackId("channels.C0WEB00001", "C0WEB00001", "channel"),
        SlackId("approvals.audit_channel", "C0AUDIT001", "channel"),
        SlackId("alerts.default_channel", "C0ALERTS01", "channel"),
        SlackId("alerts.rules.0.channel", "CEXAMPLEPAY", "channel"),
        SlackId("policy.bindings.0.users", "UEXAMPLEADMIN", "user"),
        SlackId("policy.bindings.0.usergroups", "S0SRE0001", "user group"),
        SlackId("policy.bindings.1.channels", "C0WEB00001", "channel"),
        SlackId("policy.channels.C0RO000001", "C0RO000001", "channel"),
    ]
    assert [slack_id.value for slack_id in placeholders(settings)] == ["CEXAMPLEPAY", "UEXAMPLEADMIN"]
