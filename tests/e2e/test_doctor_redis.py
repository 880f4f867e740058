"""`opsbot check-config` with `store.backend: redis` asks the real redis-server whether it
answers and whether it keeps what it acknowledged, naming variables, never the URL."""

from __future__ import annotations

from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import redis

from tests.e2e.test_cli import checks, doctor, fix_after, write_config
from tests.support.fake_kube import FakeKubeServer
from tests.support.redis_server import RedisServer, redis_server, running_redis
from tests.support.slack_emulator import SlackEmulator

__all__ = ["redis_server"]

URL_ENV = "OPSBOT_TEST_DOCTOR_REDIS_URL"
PASSWORD_ENV = "OPSBOT_TEST_DOCTOR_REDIS_PASSWORD"
STORE = {"backend": "redis", "redis": {"url_env": URL_ENV, "password_env": PASSWORD_ENV}}


async def check_config(slack: SlackEmulator, config: Path, env: dict[str, Any]) -> CompletedProcess[str]:
    """`opsbot check-config` with the Slack tokens and `env` (the Redis variables)."""
    return await doctor(slack, config, **env)


async def test_check_config_says_redis_answers_and_warns_that_it_does_not_persist(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    result = await check_config(slack, write_config(tmp_path, kubeconfig, store=STORE), {URL_ENV: redis_server.url})
    assert result.returncode == 0, result.stdout + result.stderr  # a warning, not a failure
    lines = checks(result.stdout, "Store (Redis)")
    assert lines[0].startswith("✓ Redis 7.") and lines[0].endswith(f"answers a PING at the URL in {URL_ENV}")
    assert lines[1] == (
        "! Redis does not persist (appendonly no, save empty): acknowledged state (approvals, "
        "incidents, releases, the audit trail) is lost when Redis restarts"
    )
    assert fix_after(result.stdout, "! Redis does not persist").startswith("run Redis with appendonly yes")
    assert str(redis_server.port) not in result.stdout


async def test_check_config_ticks_a_redis_with_an_append_only_file(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    for server in running_redis(tmp_path / "redis", appendonly=True):
        result = await check_config(slack, write_config(tmp_path, kubeconfig, store=STORE), {URL_ENV: server.url})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = checks(result.stdout, "Store (Redis)")
    assert lines[1] == "✓ Redis persists every write (appendonly yes)"


async def test_check_config_names_the_missing_url_variable_and_exits_2(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    result = await check_config(slack, write_config(tmp_path, kubeconfig, store=STORE), {})
    assert result.returncode == 2, result.stdout + result.stderr
    assert checks(result.stdout, "Store (Redis)") == [f"✗ {URL_ENV} is not set: store.backend is redis"]
    assert checks(result.stdout, "Slack")[0].startswith("✓ ")  # the rest is checked all the same


async def test_check_config_says_redis_refused_the_password_without_printing_it(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    url = redis_server.url.replace("redis://", "redis://opsbot:url-s3cret@")
    config = write_config(tmp_path, kubeconfig, store=STORE)
    result = await check_config(slack, config, {URL_ENV: url, PASSWORD_ENV: "env-s3cret"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert checks(result.stdout, "Store (Redis)") == [
        f"✗ Redis refused the password at the URL in {URL_ENV} (password from {PASSWORD_ENV})"
    ]
    assert "s3cret" not in result.stdout + result.stderr


async def test_check_config_says_it_could_not_check_persistence_when_config_is_not_allowed(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    """As on managed Redis: a user whose ACL forbids CONFIG (the password comes from its variable)."""
    with redis.Redis.from_url(redis_server.url) as admin:
        admin.acl_setuser("opsbot", enabled=True, passwords=["+bot-s3cret"], keys=["*"], commands=["+@all", "-config"])
    url = redis_server.url.replace("redis://", "redis://opsbot@")
    config = write_config(tmp_path, kubeconfig, store=STORE)
    result = await check_config(slack, config, {URL_ENV: url, PASSWORD_ENV: "bot-s3cret"})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = checks(result.stdout, "Store (Redis)")
    assert lines[0].endswith(f"answers a PING at the URL in {URL_ENV} (password from {PASSWORD_ENV})")
    assert lines[1].startswith("· could not check persistence (CONFIG GET is not allowed")
    assert "s3cret" not in result.stdout + result.stderr
