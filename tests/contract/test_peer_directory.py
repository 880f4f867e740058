"""Replicas' URLs in Redis (a real redis-server): published with a time to live, read by the
others, withdrawn only by the replica whose URL is still there."""

from __future__ import annotations

import asyncio
import time

from opsbot.store.redis import Connection
from opsbot.store.redis.peers import RedisPeers
from tests.support.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]


def peers(server: RedisServer) -> RedisPeers:
    connection = Connection.from_url(server.url, password=None, timeout=0.5, retry_after=2.0)
    return RedisPeers(connection, key_prefix="test:")


async def test_a_published_url_is_seen_by_another_replica_and_expires(redis_server: RedisServer) -> None:
    a, b = peers(redis_server), peers(redis_server)
    await a.publish("a", "http://10.0.0.1:8080", ttl=0.2)
    assert await b.lookup("a") == "http://10.0.0.1:8080"
    assert await b.lookup("c") is None
    deadline = time.monotonic() + 5
    while await b.lookup("a") is not None:  # Redis expires it (PX), nothing else does
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_withdraw_removes_only_the_url_it_published(redis_server: RedisServer) -> None:
    old, new = peers(redis_server), peers(redis_server)
    await old.publish("a", "http://10.0.0.1:8080", ttl=30)
    await new.publish("a", "http://10.0.0.2:8080", ttl=30)  # the same identity, restarted elsewhere
    await old.withdraw("a", "http://10.0.0.1:8080")
    assert await new.lookup("a") == "http://10.0.0.2:8080"
    await new.withdraw("a", "http://10.0.0.2:8080")
    assert await old.lookup("a") is None
