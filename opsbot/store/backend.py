"""Opens the configured backend: SQLite (default, one file) or Redis (shared by replicas)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from prometheus_client.registry import Collector

from opsbot.core.pacing import ChannelBudget, LocalBudget
from opsbot.errors import ConfigError
from opsbot.store.protocol import StateStore
from opsbot.store.settings import StoreSettings
from opsbot.store.sqlite import open_store

if TYPE_CHECKING:
    from opsbot.store.redis import RedisStore
    from opsbot.store.redis.peers import RedisPeers

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_backend(settings: StoreSettings, environ: Mapping[str, str]) -> StateStore:
    """The store, or a ConfigError naming what to set (the URL and password are never shown)."""
    if settings.backend == "sqlite":
        return open_store(settings.path)
    from opsbot.store.redis import Connection, RedisStore

    redis = settings.redis
    url = environ.get(redis.url_env, "").strip()
    if not url:
        raise ConfigError(
            [
                f"{redis.url_env} is not set: store.backend is redis, so set it to the server's URL "
                "(redis://host:6379/0, or rediss:// for TLS)"
            ]
        )
    if not url.startswith(REDIS_SCHEMES):
        raise ConfigError([f"{redis.url_env} must be a redis://, rediss:// or unix:// URL"])
    password = environ.get(redis.password_env, "").strip() or None
    try:
        connection = Connection.from_url(
            url, password=password, timeout=redis.timeout_seconds, retry_after=redis.retry_after_seconds
        )
    except ValueError:
        raise ConfigError([f"{redis.url_env} is not a valid Redis URL"]) from None
    store = RedisStore(connection, key_prefix=redis.key_prefix, audit_max_entries=redis.audit_max_entries)
    problem = store.problem()
    if problem is not None:
        store.close()
        raise ConfigError([f"store.backend: {problem} (at the URL in {redis.url_env}); start it, or check the URL"])
    return store


def _redis(store: StateStore) -> RedisStore | None:
    """The store as a RedisStore, if it is one: without importing redis-py for SQLite (a
    RedisStore exists only once its module has been imported)."""
    module = sys.modules.get("opsbot.store.redis")
    return store if module is not None and isinstance(store, module.RedisStore) else None


def channel_budget(store: StateStore, *, rate: float, burst: int) -> ChannelBudget:
    """How the outbox paces channels: in Redis when the store is Redis (every replica shares
    each channel's budget), else in this process."""
    redis = _redis(store)
    if redis is None:
        return LocalBudget(rate, burst)
    from opsbot.store.redis.pacing import RedisBudget

    return RedisBudget(redis.connection, rate=rate, burst=burst, key_prefix=redis.key_prefix)


def peer_directory(store: StateStore) -> RedisPeers | None:
    """Where replicas publish their URLs (`opsbot.ha.peers.PeerDirectory`): Redis only (replicas
    share no other store); None for SQLite."""
    redis = _redis(store)
    if redis is None:
        return None
    from opsbot.store.redis.peers import RedisPeers

    return RedisPeers(redis.connection, key_prefix=redis.key_prefix)


def store_collector(store: StateStore) -> Collector | None:
    """The store's /metrics (Redis: call seconds, errors, up); None for SQLite, which is not
    instrumented (a local file: nothing to see that the command metrics do not show)."""
    redis = _redis(store)
    if redis is None:
        return None
    from opsbot.store.redis.metrics import StoreCollector

    return StoreCollector(redis.connection)
