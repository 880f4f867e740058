"""Settings and secrets: errors name the key path; tokens never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbot.config import load_secrets, load_settings, parse_settings
from opsbot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def problems_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data)
    return caught.value.problems


def test_example_and_manifest_configs_are_valid() -> None:
    for path in (ROOT / "config.example.yaml", ROOT / "manifests" / "base" / "config.yaml"):
        settings = load_settings(path)
        assert settings.primary_cluster in settings.clusters


def test_unknown_key_is_reported_with_its_path() -> None:
    problems = problems_of({"clusters": {"prod": {"in_cluster": True, "contxt": "x"}}})
    assert problems == [
        "clusters.prod.contxt: unknown setting (check the spelling against config.example.yaml)"
    ]


def test_wrong_type_names_the_path_and_expectation() -> None:
    problems = problems_of({"clusters": {"a": {}}, "commands": {"scale": {"max_replicas": "lots"}}})
    assert any(p.startswith("commands.scale.max_replicas:") and "integer" in p for p in problems)


def test_references_to_unknown_clusters_are_reported() -> None:
    problems = problems_of(
        {"clusters": {"a": {}, "b": {}}, "default_cluster": "c", "channels": {"C1": {"cluster": "zz"}}}
    )
    assert any(p.startswith("default_cluster:") for p in problems)
    assert any(p.startswith("channels.C1.cluster:") for p in problems)


def test_no_clusters_is_an_error() -> None:
    assert any(p.startswith("clusters") for p in problems_of({}))


def test_missing_file_and_bad_yaml_are_one_line_each(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_settings(bad)


def test_missing_tokens_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_secrets({})
    text = " ".join(caught.value.problems)
    assert "SLACK_BOT_TOKEN is not set" in text and "SLACK_APP_TOKEN is not set" in text


def test_swapped_tokens_are_caught_and_repr_hides_them() -> None:
    with pytest.raises(ConfigError, match="does not look like"):
        load_secrets({"SLACK_BOT_TOKEN": "xapp-1", "SLACK_APP_TOKEN": "xoxb-1"})
    secrets = load_secrets(
        {
            "SLACK_BOT_TOKEN": "xoxb-secret",
            "SLACK_APP_TOKEN": "xapp-secret",
            "SLACK_API_URL": "http://127.0.0.1:1/api",
        }
    )
    assert secrets.slack_api_url == "http://127.0.0.1:1/api/"
    assert "secret" not in repr(secrets)


def test_the_default_store_stays_in_the_working_directory() -> None:
    """Running locally (`make run`, `opsbot console`) must not write outside the working
    directory unless configured: only the manifests' config points at the state volume."""
    default = Path(parse_settings({"clusters": {"a": {}}, "alerts": {"enabled": False}}).store.path)
    assert not default.is_absolute() and ".." not in default.parts
    example = Path(load_settings(ROOT / "config.example.yaml").store.path)
    assert not example.is_absolute() and ".." not in example.parts
    in_cluster = load_settings(ROOT / "manifests" / "base" / "config.yaml").store.path
    assert in_cluster == "/var/lib/opsbot/opsbot.db"
