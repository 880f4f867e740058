"""The doctor's Store section, with `store.backend: redis`: the URL's variable is set,
Redis answers a PING at it, and it keeps what it acknowledged across a restart.

Nothing is written. No line names the URL (it may carry a password) or the password: only
the variables that hold them, and Redis's answers.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from opsbot.config import Settings
from opsbot.doctor.report import Check, Section
from opsbot.store.backend import REDIS_SCHEMES
from opsbot.store.settings import RedisSettings

TIMEOUT_SECONDS = 5.0
SECRET_HINT = "in Kubernetes: a Secret the Deployment reads into the environment"
PERSISTENCE_FIX = (
    "run Redis with appendonly yes (appendfsync everysec loses at most a second), "
    "or at least with save snapshots"
)


def persistence_check(appendonly: str | None, save: str | None) -> Check:
    """The verdict on Redis's persistence settings; None: CONFIG GET was not allowed."""
    if appendonly is None or save is None:
        return Check(
            "info",
            "could not check persistence (CONFIG GET is not allowed, as on most managed Redis): "
            "make sure it keeps its data across a restart",
        )
    if appendonly == "yes":
        return Check("ok", "Redis persists every write (appendonly yes)")
    if save.strip():
        return Check(
            "info",
            f"Redis saves snapshots (save {save}), not every write (appendonly no): "
            "a crash of Redis loses the writes since the last snapshot",
        )
    return Check(
        "warn",
        "Redis does not persist (appendonly no, save empty): acknowledged state (approvals, "
        "incidents, releases, the audit trail) is lost when Redis restarts",
        PERSISTENCE_FIX,
    )


def _refusal(exc: Exception) -> str:
    if isinstance(exc, AuthenticationError) or (
        isinstance(exc, ResponseError) and str(exc).startswith(("NOAUTH", "WRONGPASS", "AUTH"))
    ):
        return "refused the password"
    if isinstance(exc, RedisTimeoutError):
        return f"did not answer within {TIMEOUT_SECONDS:g} s"
    if isinstance(exc, RedisConnectionError):
        return "cannot be reached"
    return f"answered with an error ({type(exc).__name__})"


def check_store(settings: Settings, environ: Mapping[str, str], *, offline: bool) -> Section | None:
    """None with SQLite (a local file: `opsbot run` creates it)."""
    if settings.store.backend != "redis":
        return None
    config = settings.store.redis
    section = Section("Store (Redis)")
    url = environ.get(config.url_env, "").strip()
    if not url:
        section.add("fail", f"{config.url_env} is not set: store.backend is redis",
                    f"set {config.url_env} to the server's URL, redis://host:6379/0 or rediss:// for TLS ({SECRET_HINT})")  # fmt: skip
        return section
    if not url.startswith(REDIS_SCHEMES):
        section.add("fail", f"{config.url_env} is not a redis://, rediss:// or unix:// URL",
                    f"set {config.url_env} to the server's URL ({SECRET_HINT})")  # fmt: skip
        return section
    if offline:
        section.add("info", f"{config.url_env} is set; Redis not checked (--offline)")
        return section
    section.checks.extend(_ask_redis(url, environ.get(config.password_env, "").strip() or None, config))
    return section


def _ask_redis(url: str, password: str | None, config: RedisSettings) -> list[Check]:
    where = f"at the URL in {config.url_env}" + (f" (password from {config.password_env})" if password else "")
    try:
        client = redis.Redis.from_url(
            url, password=password, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS,
            decode_responses=True,
        )  # fmt: skip
    except ValueError:
        return [Check("fail", f"{config.url_env} is not a valid Redis URL", f"fix {config.url_env} ({SECRET_HINT})")]
    with client:
        try:
            client.ping()
        except redis.RedisError as exc:
            return [Check("fail", f"Redis {_refusal(exc)} {where}",
                          f"start Redis, or check {config.url_env}, {config.password_env} and the NetworkPolicy")]  # fmt: skip
        version = _version(client)
        answers = Check("ok", f"Redis{version} answers a PING {where}")
        return [answers, persistence_check(*_persistence(client))]


def _version(client: redis.Redis) -> str:
    try:
        return f" {client.info('server').get('redis_version', '')}".rstrip()
    except redis.RedisError:
        return ""


def _persistence(client: redis.Redis) -> tuple[str | None, str | None]:
    try:
        found = {**client.config_get("appendonly"), **client.config_get("save")}
    except redis.RedisError:
        return None, None
    return found.get("appendonly"), found.get("save")
