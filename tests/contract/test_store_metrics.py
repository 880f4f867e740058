"""/metrics of the Redis store (a real redis-server): call seconds by operation, errors by
kind, and the breaker's view of whether Redis is up."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from redis.exceptions import ResponseError

from opsbot.errors import StoreUnavailable
from opsbot.store.backend import store_collector
from opsbot.store.redis import Connection, RedisStore
from opsbot.store.redis.metrics import operation_of
from opsbot.store.sqlite import SqliteStore
from tests.support.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]


def scraped(store: RedisStore) -> CollectorRegistry:
    registry = CollectorRegistry()
    collector = store_collector(store)
    assert collector is not None
    registry.register(collector)
    return registry


def open_redis(server: RedisServer, timeout: float = 0.5) -> RedisStore:
    connection = Connection.from_url(server.url, password=None, timeout=timeout, retry_after=60.0)
    return RedisStore(connection, key_prefix="m:")


def errors(registry: CollectorRegistry, kind: str) -> float | None:
    return registry.get_sample_value("opsbot_store_errors_total", {"kind": kind})


async def test_a_call_is_timed_under_the_method_that_made_it(redis_server: RedisServer) -> None:
    store = open_redis(redis_server)
    registry = scraped(store)
    assert await store.first_seen("event-1", 60)
    assert await store.first_seen("event-2", 60)
    labels = {"operation": "first_seen"}
    assert registry.get_sample_value("opsbot_store_call_seconds_count", labels) == 2
    assert registry.get_sample_value("opsbot_store_call_seconds_bucket", {**labels, "le": "+Inf"}) == 2
    assert registry.get_sample_value("opsbot_store_call_seconds_sum", labels) > 0  # type: ignore[operator]
    assert registry.get_sample_value("opsbot_store_up") == 1.0
    assert [errors(registry, kind) for kind in ("unavailable", "timeout", "other")] == [0, 0, 0]


async def test_an_outage_shows_as_down_with_each_refused_call_counted(redis_server: RedisServer) -> None:
    store = open_redis(redis_server)
    registry = scraped(store)
    assert await store.first_seen("event-1", 60)
    redis_server.stop()
    for _ in range(2):  # the first reaches for Redis, the second is refused by the breaker
        with pytest.raises(StoreUnavailable):
            await store.first_seen("event-2", 60)
    assert registry.get_sample_value("opsbot_store_up") == 0.0
    assert errors(registry, "unavailable") == 2
    assert registry.get_sample_value("opsbot_store_call_seconds_count", {"operation": "first_seen"}) == 2


async def test_a_redis_that_does_not_answer_counts_as_a_timeout(redis_server: RedisServer) -> None:
    store = open_redis(redis_server, timeout=0.2)
    registry = scraped(store)
    assert store.problem() is None  # connected before it stops answering
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(StoreUnavailable):
            await store.first_seen("event-1", 60)
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert errors(registry, "timeout") == 1
    assert registry.get_sample_value("opsbot_store_up") == 0.0


def test_an_error_answer_counts_as_other_and_leaves_redis_up(redis_server: RedisServer) -> None:
    store = open_redis(redis_server)
    registry = scraped(store)
    with pytest.raises(ResponseError):
        store.connection.run(lambda r: r.execute_command("NO-SUCH-COMMAND"), "probe")  # type: ignore[no-untyped-call]
    assert errors(registry, "other") == 1
    assert registry.get_sample_value("opsbot_store_call_seconds_count", {"operation": "probe"}) == 1
    assert registry.get_sample_value("opsbot_store_up") == 1.0


def test_sqlite_has_no_store_metrics(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "opsbot.db")
    try:
        assert store_collector(store) is None
    finally:
        store.close()


def test_the_operation_is_the_method_a_lambda_was_written_in() -> None:
    class Store:
        def put_incident(self) -> object:
            return lambda r: r

    assert operation_of(Store().put_incident()) == "put_incident"  # type: ignore[arg-type]
    assert operation_of(len) == "other"
