"""Two replicas on one Redis (and, for approvals, two handles on one SQLite file): exclusive
changes happen once, an outage fails fast and heals, and acknowledged writes survive a restart."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from opsbot.approvals.machine import Approval, ApprovalPolicy
from opsbot.approvals.service import ApprovalService
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Text
from opsbot.core.request import ChatRequest
from opsbot.errors import ConfigError, StoreUnavailable
from opsbot.slack.dedupe import SharedSeenKeys
from opsbot.store.approvals import StoreApprovals
from opsbot.store.backend import open_backend
from opsbot.store.protocol import StateStore
from opsbot.store.redis import Connection, RedisStore
from opsbot.store.settings import StoreSettings
from opsbot.store.sqlite import SqliteStore
from tests.contract.conftest import redis_store
from tests.support.redis_server import RedisServer, running_redis

_T = TypeVar("_T")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
PLAN = ActionPlan("scale", "prod", "web", "deployment", "api", ("replicas 3 → 1",), {"replicas": 1})


def together(calls: list[Callable[[], _T]]) -> list[_T]:
    """Run the calls on threads released at the same instant (one per replica)."""
    barrier = threading.Barrier(len(calls))
    results: list[_T] = []
    lock = threading.Lock()

    def run(call: Callable[[], _T]) -> None:
        barrier.wait(timeout=10)
        result = call()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


async def test_a_notification_seen_by_two_replicas_at_once_counts_once(redis_server: RedisServer) -> None:
    one, two = redis_store(redis_server), redis_store(redis_server)
    for n in range(50):
        key = f"notification-{n}"
        outcomes = await asyncio.gather(one.first_notification(key, 1.0), two.first_notification(key, 1.0))
        assert sorted(outcomes) == [False, True]


def test_two_replicas_claiming_one_app_get_one_holder(redis_server: RedisServer) -> None:
    one, two = redis_store(redis_server), redis_store(redis_server)
    for n in range(20):
        target = f"web/app{n}"
        outcomes = together(
            [
                partial(one.claim_release, f"a{n}", "prod", target, {"id": f"a{n}"}),
                partial(two.claim_release, f"b{n}", "prod", target, {"id": f"b{n}"}),
            ]
        )
        claimed = [outcome for outcome in outcomes if outcome is None]
        holders = [outcome for outcome in outcomes if outcome is not None]
        assert len(claimed) == 1 and len(holders) == 1
        assert [d["id"] for d in one.active_releases() if d["id"].endswith(str(n))] == [holders[0]["id"]]


async def test_a_retried_slack_event_reaching_two_replicas_is_answered_once(redis_server: RedisServer) -> None:
    one, two = SharedSeenKeys(redis_store(redis_server)), SharedSeenKeys(redis_store(redis_server))
    outcomes = await asyncio.gather(one.first_seen("Ev123", 60), two.first_seen("Ev123", 60))
    assert sorted(outcomes) == [False, True]
    assert await one.first_seen("Ev124", 60) is True


class Clock:
    def now(self) -> datetime:
        return NOW


class Surface:
    def __init__(self) -> None:
        self.notices: list[tuple[str, str]] = []

    async def update_card(self, approval: Approval) -> None:
        return None

    async def notify(self, user: str, text: Text) -> None:
        self.notices.append((user, text.plain()))

    async def tell_thread(self, approval: Approval, text: Text) -> None:
        return None


class ReadTogether:
    """The real repository, except that each replica's first read waits for the other's: both
    see the request pending before either writes, the race the compare-and-set must settle."""

    def __init__(self, inner: StoreApprovals, barrier: asyncio.Barrier) -> None:
        self._inner = inner
        self._barrier = barrier
        self._waited = False

    async def get(self, approval_id: str) -> Approval | None:
        found = await self._inner.get(approval_id)
        if not self._waited:
            self._waited = True
            await asyncio.wait_for(self._barrier.wait(), timeout=10)
        return found

    async def put(self, approval: Approval) -> None:
        await self._inner.put(approval)

    async def replace(self, before: Approval, after: Approval) -> bool:
        return await self._inner.replace(before, after)

    async def pending(self) -> list[Approval]:
        return await self._inner.pending()

    async def executing(self) -> list[Approval]:
        return await self._inner.executing()


async def race_two_approvers(stores: tuple[StateStore, StateStore]) -> tuple[int, list[tuple[str, str]]]:
    """Two replicas' services approve one pending request at the same moment; how many times
    did the action run, and what were the clickers told?"""
    runs = 0

    async def execute(plan: ActionPlan, origin: ActionOrigin) -> str:
        nonlocal runs
        runs += 1
        return "scaled"

    opener = ApprovalService(StoreApprovals(stores[0]), execute, Clock(), timedelta(minutes=15))
    request = ChatRequest("r1", "UREQ", "C1", "scale deploy/api 1", "mention")
    approval = await opener.open(
        PLAN, request, ApprovalPolicy(requester_may_confirm=False, approvals_required=1)
    )
    barrier = asyncio.Barrier(2)
    surface = Surface()

    def replica(store: StateStore, user: str) -> Awaitable[None]:
        service = ApprovalService(
            ReadTogether(StoreApprovals(store), barrier), execute, Clock(), timedelta(minutes=15)
        )
        return service.approve(approval.id, user, surface, allowed=True)

    await asyncio.gather(replica(stores[0], "UBOB"), replica(stores[1], "UCAROL"))
    final = await StoreApprovals(stores[0]).get(approval.id)
    assert final is not None and final.status.value == "succeeded"
    return runs, surface.notices


async def test_two_replicas_approving_at_once_on_redis_execute_once(redis_server: RedisServer) -> None:
    runs, notices = await race_two_approvers((redis_store(redis_server), redis_store(redis_server)))
    assert runs == 1
    assert any("already executing" in text or "already succeeded" in text for _user, text in notices)


async def test_two_replicas_approving_at_once_on_one_sqlite_file_execute_once(tmp_path: Path) -> None:
    runs, notices = await race_two_approvers((SqliteStore(tmp_path / "o.db"), SqliteStore(tmp_path / "o.db")))
    assert runs == 1
    assert any("already" in text for _user, text in notices)


async def test_with_two_approvals_required_racing_approvers_both_count_and_it_runs_once(
    redis_server: RedisServer,
) -> None:
    """The loser of the compare-and-set re-applies its approval to the winner's state."""
    runs = 0

    async def execute(plan: ActionPlan, origin: ActionOrigin) -> str:
        nonlocal runs
        runs += 1
        return "scaled"

    stores = (redis_store(redis_server), redis_store(redis_server))
    opener = ApprovalService(StoreApprovals(stores[0]), execute, Clock(), timedelta(minutes=15))
    request = ChatRequest("r1", "UREQ", "C1", "scale deploy/api 1", "mention")
    approval = await opener.open(
        PLAN, request, ApprovalPolicy(requester_may_confirm=False, approvals_required=2)
    )
    barrier = asyncio.Barrier(2)
    surface = Surface()
    services = [
        ApprovalService(ReadTogether(StoreApprovals(s), barrier), execute, Clock(), timedelta(minutes=15))
        for s in stores
    ]
    await asyncio.gather(
        services[0].approve(approval.id, "UBOB", surface, allowed=True),
        services[1].approve(approval.id, "UCAROL", surface, allowed=True),
    )
    final = await StoreApprovals(stores[0]).get(approval.id)
    assert final is not None and set(final.approvers) == {"UBOB", "UCAROL"}
    assert runs == 1 and final.status.value == "succeeded"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_outage_fails_fast_turns_unready_and_heals(redis_server: RedisServer) -> None:
    clock = FakeMonotonic()
    store = RedisStore(
        Connection.from_url(redis_server.url, password=None, timeout=0.5, retry_after=5.0, clock=clock)
    )
    await store.put_incident("i1", "k1", "open", "C1", {"id": "i1"})
    redis_server.stop()
    with pytest.raises(StoreUnavailable, match="unavailable"):
        await store.incident("i1")
    assert store.healthy is False and store.reason == "Redis cannot be reached"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="trying again in 5 s"):
        await store.incident("i1")
    assert time.monotonic() - started < 0.1  # the breaker answered; Redis was not tried
    assert store.problem() == "the shared store (Redis) is unavailable: Redis cannot be reached"
    redis_server.start()
    assert store.problem() is not None  # still backing off: not tried yet
    clock.now += 5.0
    await store.put_incident("i2", "k2", "open", "C1", {"id": "i2"})  # this server keeps no files: i1 is gone
    assert await store.incident("i2") == {"id": "i2"}
    assert store.healthy is True and store.problem() is None


async def test_a_hung_redis_costs_one_timeout_then_fails_fast(redis_server: RedisServer) -> None:
    """A server that accepts but never answers (SIGSTOP): the first call waits its timeout
    (and one retry), every call after it fails at once while the breaker is open."""
    store = redis_store(redis_server, timeout=0.2, retry_after=30.0)
    assert await store.incident("nope") is None
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.2 s"):
            await store.incident("nope")
        first = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.first_notification("k", 1.0)
        second = time.monotonic() - started
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert 0.2 <= first < 3.0
    assert second < 0.1


async def test_acknowledged_writes_survive_a_restart_of_redis(tmp_path: Path) -> None:
    servers = running_redis(tmp_path / "redis", appendonly=True)
    server = next(servers)
    try:
        store = redis_store(server)
        await store.put_incident("i1", "k1", "open", "C1", {"id": "i1"})
        await store.put_approval("a1", "pending", {"id": "a1"})
        assert store.claim_release("r1", "prod", "web/api", {"id": "r1"}) is None
        store.append_audit(1.0, "U1", "command", {"n": 1})
        assert await store.first_notification("n1", 1.0) is True
        store.close()
        server.stop()
        server.start()
        again = redis_store(server)
        assert await again.incidents(state="open") == [{"id": "i1"}]
        assert await again.approvals(status="pending") == [{"id": "a1"}]
        assert again.claim_release("r2", "prod", "web/api", {"id": "r2"}) == {"id": "r1"}
        assert again.audit_records(user_id="U1") == [{"n": 1}]
        assert await again.first_notification("n1", 2.0) is False
        again.close()
    finally:
        servers.close()


def test_backend_redis_without_its_url_names_the_variable() -> None:
    settings = StoreSettings(backend="redis")
    with pytest.raises(ConfigError) as refused:
        open_backend(settings, {})
    assert refused.value.problems[0].startswith("OPSBOT_REDIS_URL is not set: store.backend is redis")


def test_an_unreachable_redis_at_start_is_one_line_without_the_password(redis_server: RedisServer) -> None:
    port = redis_server.port
    redis_server.stop()
    environ = {"OPSBOT_REDIS_URL": f"redis://:s3cret-pw@127.0.0.1:{port}/0", "OPSBOT_REDIS_PASSWORD": "other-pw"}
    with pytest.raises(ConfigError) as refused:
        open_backend(StoreSettings(backend="redis"), environ)
    message = " ".join(refused.value.problems)
    assert "Redis cannot be reached" in message and "OPSBOT_REDIS_URL" in message
    assert "s3cret" not in message and "other-pw" not in message


def test_backend_redis_with_a_password_from_the_environment(redis_server: RedisServer) -> None:
    store = open_backend(
        StoreSettings(backend="redis"), {"OPSBOT_REDIS_URL": redis_server.url, "OPSBOT_REDIS_PASSWORD": ""}
    )
    try:
        assert isinstance(store, RedisStore) and store.problem() is None
    finally:
        store.close()


class ReadyBot:
    """A bot that is ready in every other respect: only its store can make it unready."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.accepting = True
        self.socket_hellos = 1
        self.outbox = None
        self.alerts = None

    def watch_health(self) -> None:
        return None

    async def connected(self) -> bool:
        return True

    def link_problem(self) -> None:
        return None

    def unusable_clusters(self) -> dict[str, str]:
        return {}

    async def store_problem(self) -> str | None:
        return await self._store.aproblem()


async def test_readiness_names_an_unreachable_redis_and_recovers(redis_server: RedisServer) -> None:
    from opsbot.health import readiness_problems

    bot = ReadyBot(redis_store(redis_server, retry_after=0.01))
    assert await readiness_problems(bot) == []  # type: ignore[arg-type]
    redis_server.stop()
    assert await readiness_problems(bot) == [  # type: ignore[arg-type]
        "the shared store (Redis) is unavailable: Redis cannot be reached"
    ]
    redis_server.start()
    assert await readiness_problems(bot) == []  # type: ignore[arg-type]


async def test_with_redis_away_each_replica_still_answers_an_event_once_from_its_memory(
    redis_server: RedisServer,
) -> None:
    seen = SharedSeenKeys(redis_store(redis_server))
    redis_server.stop()
    assert await seen.first_seen("Ev1", 60) is True
    assert await seen.first_seen("Ev1", 60) is False


async def test_pruned_incidents_and_approvals_leave_nothing_behind_in_redis(redis_server: RedisServer) -> None:
    """Memory stays bounded: no index entry or state field outlives a deleted incident."""
    store = redis_store(redis_server)
    for n in range(20):
        await store.put_incident(f"i{n}", f"k{n}", "resolved" if n % 2 else "open", "C1", {"id": f"i{n}"})
    assert store.prune_incidents(resolved_before=time.time() + 1) == 10
    client = store.connection.client
    assert client.zcard("test:incidents") == 10
    assert client.hlen("test:incident:data") == client.hlen("test:incident:state") == 10
    assert client.zcard("test:incidents:state:resolved") == 0
    await store.put_approval("a1", "pending", {"id": "a1", "revision": 0})
    assert await store.replace_approval("a1", "succeeded", {"id": "a1", "revision": 1}, revision=0)
    assert store.prune_approvals(over_before=time.time() + 1) == 1
    assert [client.hlen(f"test:approval:{f}") for f in ("data", "status", "revision", "writer")] == [0, 0, 0, 0]
    assert client.zcard("test:approvals:succeeded") == 0
