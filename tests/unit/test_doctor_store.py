"""The doctor's verdicts on a Redis store that need no Redis: persistence settings and the
URL's variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbot.config import Settings, load_settings
from opsbot.doctor.store import check_store, persistence_check


@pytest.mark.parametrize(
    ("appendonly", "save", "status", "says"),
    [
        pytest.param("yes", "", "ok", "persists every write", id="append-only-file"),
        pytest.param("no", "3600 1 300 100", "info", "loses the writes since the last snapshot", id="snapshots"),
        pytest.param("no", "", "warn", "lost when Redis restarts", id="nothing"),
        pytest.param(None, None, "info", "could not check persistence", id="config-get-refused"),
    ],
)
def test_persistence_verdict(appendonly: str | None, save: str | None, status: str, says: str) -> None:
    check = persistence_check(appendonly, save)
    assert check.status == status
    assert says in check.text


def redis_settings(tmp_path: Path) -> Settings:
    config = tmp_path / "config.yaml"
    config.write_text(
        "clusters: {test: {kubeconfig: /dev/null}}\nalerts: {enabled: false}\nstore: {backend: redis}\n", encoding="utf-8"
    )
    return load_settings(str(config))


def test_sqlite_has_no_store_section(tmp_path: Path) -> None:
    settings = redis_settings(tmp_path)
    sqlite = settings.model_copy(update={"store": settings.store.model_copy(update={"backend": "sqlite"})})
    assert check_store(sqlite, {}, offline=False) is None


def test_a_url_that_is_not_redis_fails_without_showing_it(tmp_path: Path) -> None:
    section = check_store(redis_settings(tmp_path), {"OPSBOT_REDIS_URL": "http://u:pw@host/"}, offline=False)
    assert section is not None
    assert [(c.status, c.text) for c in section.checks] == [
        ("fail", "OPSBOT_REDIS_URL is not a redis://, rediss:// or unix:// URL")
    ]


def test_offline_checks_the_variable_only(tmp_path: Path) -> None:
    section = check_store(redis_settings(tmp_path), {"OPSBOT_REDIS_URL": "redis://nowhere:1/0"}, offline=True)
    assert section is not None
    assert [(c.status, c.text) for c in section.checks] == [
        ("info", "OPSBOT_REDIS_URL is set; Redis not checked (--offline)")
    ]
