"""Each contract test runs once per backend: SQLite (a file) and Redis (a real server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from opsbot.store.protocol import StateStore
from opsbot.store.redis import Connection, RedisStore
from opsbot.store.sqlite import SqliteStore
from tests.support.redis_server import RedisServer, redis_server, running_redis

__all__ = ["redis_server"]

OpenStore = Callable[[], StateStore]
"""Opens another handle on the same state: another replica (Redis) or another connection (SQLite)."""


def redis_store(server: RedisServer, *, retry_after: float = 2.0, timeout: float = 0.5) -> RedisStore:
    connection = Connection.from_url(server.url, password=None, timeout=timeout, retry_after=retry_after)
    return RedisStore(connection, key_prefix="test:")


@pytest.fixture(params=["sqlite", "redis"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    opened: list[StateStore] = []
    if request.param == "sqlite":
        def make() -> StateStore:
            opened.append(SqliteStore(tmp_path / "opsbot.db"))
            return opened[-1]

        yield make
    else:
        servers = running_redis(tmp_path / "redis")
        server = next(servers)

        def make() -> StateStore:
            opened.append(redis_store(server))
            return opened[-1]

        yield make
    for store in opened:
        await store.aclose()
    if request.param == "redis":
        servers.close()


@pytest.fixture
def store(open_store: OpenStore) -> StateStore:
    return open_store()
