"""A reply lost or late between Redis and a replica: the command ran, the replica did not hear.

A real redis-server behind a proxy (tests/support/reply_proxy.py) that swallows or holds back
exactly the next reply. A connection lost is retried once on a fresh connection (the same
call reaches Redis twice): every exclusive change must then recognise its own first write,
or a Slack event is dropped as "already seen", an Alertmanager notification as a repeat, an
approval as "changed meanwhile", a release as "held by another". A timeout is never retried
(the command may have run): the caller hears "unavailable", and nothing is written twice.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opsbot.errors import StoreUnavailable
from opsbot.slack.dedupe import SharedSeenKeys
from opsbot.store.redis import Connection, RedisStore, scripts
from tests.support.redis_server import RedisServer, redis_server
from tests.support.reply_proxy import ReplyProxy, reply_proxy

__all__ = ["redis_server"]


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[ReplyProxy]:
    with reply_proxy(redis_server.port) as proxied:
        yield proxied


def store_at(url: str, *, timeout: float = 0.5) -> RedisStore:
    """A replica's store, connected and with every script already in Redis's script cache: the
    next reply is then the command's own (not a NOSCRIPT answer before the script runs)."""
    store = RedisStore(Connection.from_url(url, password=None, timeout=timeout, retry_after=0.05), key_prefix="t:")
    for source in (value for name, value in vars(scripts).items() if name.isupper() and isinstance(value, str)):
        store.connection.client.script_load(source)
    assert store.problem() is None
    return store


async def connected_on_the_loop(store: RedisStore) -> RedisStore:
    """The asyncio client's connection made too, so its handshake is not the reply held back."""
    assert await store.connection.aproblem() is None
    return store


@pytest.fixture
def replica(proxy: ReplyProxy) -> RedisStore:
    """A replica whose replies pass the proxy."""
    return store_at(proxy.url)


@pytest.fixture
def other(redis_server: RedisServer) -> RedisStore:
    return store_at(redis_server.url)


async def test_a_slack_event_whose_reply_was_lost_is_still_answered_once(
    replica: RedisStore, other: RedisStore, proxy: ReplyProxy
) -> None:
    await connected_on_the_loop(replica)
    proxy.drop_next_reply()
    assert await replica.first_seen("Ev0000000113", 60) is True
    assert proxy.done.is_set()
    assert await other.first_seen("Ev0000000113", 60) is False  # the retry Slack sends elsewhere


async def test_a_notification_whose_reply_was_lost_counts_as_the_first(
    replica: RedisStore, other: RedisStore, proxy: ReplyProxy
) -> None:
    proxy.drop_next_reply()
    assert await replica.first_notification("group/fingerprint", 100.0) is True
    assert proxy.done.is_set()
    assert await other.first_notification("group/fingerprint", 101.0) is False


async def test_an_approval_decided_while_its_reply_was_lost_is_decided_by_that_call(
    replica: RedisStore, other: RedisStore, proxy: ReplyProxy
) -> None:
    await replica.put_approval("a1", "pending", {"id": "a1", "revision": 0})
    proxy.drop_next_reply()
    assert await replica.replace_approval("a1", "executing", {"id": "a1", "revision": 1, "by": "B"}, revision=0) is True
    assert proxy.done.is_set()
    # Another replica's click, read at the same revision, loses: the approval runs once.
    assert await other.replace_approval("a1", "rejected", {"id": "a1", "revision": 1, "by": "C"}, revision=0) is False
    assert await other.approval("a1") == {"id": "a1", "revision": 1, "by": "B"}


async def test_a_remediation_decided_while_its_reply_was_lost_is_decided_by_that_call(
    replica: RedisStore, other: RedisStore, proxy: ReplyProxy
) -> None:
    await replica.put_remediation("r1", "k", "", {"id": "r1", "revision": 0}, delivery=None)
    proxy.drop_next_reply()
    decided = {"id": "r1", "revision": 1, "by": "B"}
    assert await replica.replace_remediation("r1", "k", "", decided, delivery=None, revision=0) is True
    assert proxy.done.is_set()
    rejected = {"id": "r1", "revision": 1, "by": "C"}
    assert await other.replace_remediation("r1", "k", "", rejected, delivery=None, revision=0) is False
    assert await other.remediation("r1") == decided


async def test_an_identical_decision_from_another_replica_still_loses_the_compare_and_set(
    replica: RedisStore, other: RedisStore
) -> None:
    """The same document written by two calls: only the first wins (not recognised by content)."""
    await replica.put_approval("a1", "pending", {"id": "a1", "revision": 0})
    decided = {"id": "a1", "revision": 1, "status": "approved"}
    assert await replica.replace_approval("a1", "executing", decided, revision=0) is True
    assert await other.replace_approval("a1", "executing", decided, revision=0) is False


def test_a_release_claimed_while_its_reply_was_lost_is_claimed(
    replica: RedisStore, other: RedisStore, proxy: ReplyProxy
) -> None:
    proxy.drop_next_reply()
    assert replica.claim_release("r1", "prod", "web/api", {"id": "r1"}) is None
    assert proxy.done.is_set()
    assert other.claim_release("r2", "prod", "web/api", {"id": "r2"}) == {"id": "r1"}


def test_a_late_reply_is_unavailable_to_the_caller_and_the_command_is_not_sent_again(
    redis_server: RedisServer, other: RedisStore, proxy: ReplyProxy
) -> None:
    replica = store_at(proxy.url, timeout=0.2)
    proxy.delay_next_reply(0.6)
    with pytest.raises(StoreUnavailable):
        replica.append_audit(1.0, "U1", "command", {"n": 1})
    assert proxy.done.wait(timeout=5)
    assert other.audit_records(user_id="U1") == [{"n": 1}]  # ran once, never twice


async def test_a_slack_event_whose_reply_came_late_is_answered_by_the_replica_that_has_it(
    other: RedisStore, proxy: ReplyProxy
) -> None:
    replica = await connected_on_the_loop(store_at(proxy.url, timeout=0.2))
    seen = SharedSeenKeys(replica)
    proxy.delay_next_reply(0.6)
    assert await seen.first_seen("Ev0000000140", 60) is True  # answered here, not dropped as a repeat
    assert proxy.done.wait(timeout=5)
    assert await other.first_seen("Ev0000000140", 60) is False


async def test_a_read_whose_reply_came_late_is_asked_once_more(other: RedisStore, proxy: ReplyProxy) -> None:
    """Reads change nothing: a busy moment (of Redis or of this process) costs a second try,
    not an "unavailable" (at a replica's start that would fail the start)."""
    await other.put_approval("a1", "executing", {"id": "a1", "revision": 1})
    replica = store_at(proxy.url, timeout=0.2)
    proxy.delay_next_reply(0.6)
    assert await replica.approvals(status="executing") == [{"id": "a1", "revision": 1}]
    assert proxy.done.wait(timeout=5)  # the late reply did come, after the second try's
    assert replica.problem() is None
