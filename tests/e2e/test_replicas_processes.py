"""Replicas as real processes: three `opsbot run` (ha on, short lease timings) sharing one
redis-server, one fake API server and one Slack emulator that spreads the envelopes over
their Socket Mode connections. Every command answered exactly once, a card approved on
another replica, kill -9 of the leader in an alert storm, Redis restarted, a rolling restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from opsbot.approvals.cards import APPROVE_ACTION
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import (
    ALERTS,
    ALICE,
    BOB,
    CHANNEL,
    block_text,
    button_value,
    click_card,
    crashloop_root_titles,
)
from tests.support.polling import until
from tests.support.redis_server import RedisServer, running_redis
from tests.support.replicas import TIMING, Replicas, wait_for_holder
from tests.support.slack_emulator import Post, Sent, SlackEmulator

NAMES = ("r1", "r2", "r3")
USERS = [ALICE, BOB, "U0CAROL01", "U0DAVE001", "U0ERIN001"]
CHANNELS = [CHANNEL, "C0OPS0002", "C0OPS0003", "C0OPS0004", "C0OPS0005", "C0OPS0006"]
POLICY: dict[str, Any] = {
    "bindings": [
        {"role": "admin", "users": [ALICE]},
        {"role": "operator", "users": [BOB]},
        {"role": "viewer", "channels": CHANNELS},
    ],
    "approvals": [{"namespaces": ["prod"], "self_confirm": False, "approvals_required": 1}],
    "rate_limit": {"commands_per_minute": 10_000, "burst": 1_000},
}


@pytest.fixture
def redis_store(tmp_path: Path) -> Iterator[RedisServer]:
    """The replicas' one store; append-only with fsync on every write, as a restart test needs."""
    servers = running_redis(tmp_path / "redis", appendonly=True)
    yield next(servers)
    servers.close()


@pytest_asyncio.fixture
async def replicas(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path, redis_store: RedisServer
) -> AsyncIterator[Replicas]:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=2)
    group = Replicas(slack, kubeconfig, tmp_path / "replicas", redis_store.url, policy=POLICY)
    try:
        yield group
    finally:
        await group.close()


def answers(slack: SlackEmulator, sent: Sent) -> list[Post]:
    """The bot's posts in the thread of one request."""
    return [
        p
        for p in slack.posts
        if p.method == "chat.postMessage" and p.channel == sent.channel and p.thread_ts == sent.ts
    ]


def unanswered(slack: SlackEmulator, requests: list[Sent]) -> list[Sent]:
    threads = {(p.channel, p.thread_ts) for p in slack.posts if p.method == "chat.postMessage"}
    return [s for s in requests if (s.channel, s.ts) not in threads]


async def all_answered(slack: SlackEmulator, requests: list[Sent], timeout: float) -> None:
    try:
        await until(lambda: not unanswered(slack, requests), timeout=timeout)
    except AssertionError:
        lost = {
            s.ts: [
                (e.connection_id, e.retry_attempt, e.envelope_id in slack.acks)
                for e in slack.envelopes
                if e.payload.get("event_id") == s.event_id
            ]
            for s in unanswered(slack, requests)
        }
        raise AssertionError(
            f"{len(lost)} of {len(requests)} unanswered; their deliveries (connection, retry, acked): {lost}"
        ) from None


async def handled(group: Replicas) -> float:
    """Commands the running replicas have finished (their opsbot_commands_total)."""
    return sum([await r.counter("opsbot_commands") for r in group.running()])


async def counted(group: Replicas, expected: float, timeout: float = 10.0) -> float:
    """Polls the replicas' command counters until they reach `expected`; the last sum."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    total = await handled(group)
    while total < expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
        total = await handled(group)
    return total


def grown(items: list[Sent], size: int) -> Callable[[], bool]:
    return lambda: len(items) > size


def connection(slack: SlackEmulator, sent: Sent) -> int:
    """The Socket Mode connection an envelope went to."""
    return next(e.connection_id for e in slack.envelopes if e.envelope_id == sent.envelope_id)


async def test_three_processes_answer_300_commands_exactly_once_and_a_retried_event_once(
    slack: SlackEmulator, replicas: Replicas
) -> None:
    await replicas.start_ready(*NAMES)
    assert slack.open_connections == 3
    senders = itertools.cycle(itertools.product(USERS, CHANNELS))
    requests: list[Sent] = []
    for _ in range(10):  # 10 bursts of 30 at once
        batch = [
            slack.mention(user, channel, "pods -n web") for user, channel in itertools.islice(senders, 30)
        ]
        requests.extend(await asyncio.gather(*batch))
    # Slack retries an event on another connection: one event id, two replicas.
    retried = await slack.mention(ALICE, CHANNEL, "pods -n web")
    again = await slack.redeliver(retried)
    assert connection(slack, retried) != connection(slack, again)
    await all_answered(slack, [*requests, retried], timeout=40)
    await slack.wait_delivered(timeout=10)
    total = await counted(replicas, 301)
    assert total == 301, total  # every command handled once; the retry dropped
    per_thread = Counter(len(answers(slack, s)) for s in [*requests, retried])
    assert per_thread == {1: 301}
    assert all("api-" in block_text(answers(slack, s)[0]) for s in requests)
    # Each replica served a share of them (the emulator spread the envelopes).
    shares = [await r.counter("opsbot_commands") for r in replicas.running()]
    assert all(share > 0 for share in shares), shares


async def test_a_card_posted_by_one_replica_is_approved_on_another_and_runs_once(
    slack: SlackEmulator, kube: FakeKubeServer, replicas: Replicas
) -> None:
    kube.add_namespace("prod")
    kube.add_deployment("prod", "api", replicas=3)
    await replicas.start_ready(*NAMES)
    request = await slack.mention(ALICE, CHANNEL, "scale deploy/api 1 -n prod")
    card = await slack.wait_for_post(
        channel=CHANNEL, thread_ts=request.ts, method="chat.postMessage", timeout=15
    )
    assert "Approval needed" in card.text
    asked_on = connection(slack, request)
    kube.clear_requests()
    # Bob's Approve (a double click) reaches the two replicas that did not post the card, at once.
    others = [c for c in slack.connection_ids if c != asked_on]
    assert len(others) == 2
    clicks = await asyncio.gather(*(click_card(slack, card, APPROVE_ACTION, user=BOB, only=c) for c in others))
    assert sorted(connection(slack, c) for c in clicks) == sorted(others)
    await slack.wait_for_post(
        lambda p: "Scaled deployment/api from 3 to 1" in p.text, thread_ts=card.thread_ts, timeout=15
    )
    await slack.wait_for_post(lambda p: p.ts == card.ts, method="chat.update", timeout=15)
    await slack.wait_delivered(timeout=10)
    await asyncio.gather(*(slack.wait_for_ack(c.envelope_id, timeout=10) for c in clicks))
    scale = "/apis/apps/v1/namespaces/prod/deployments/api/scale"
    assert [(r.method, r.path) for r in kube.writes() if "/leases/" not in r.path] == [("PATCH", scale)]
    deployment = kube.get("deployments", "prod", "api")
    assert deployment is not None and deployment["spec"]["replicas"] == 1
    done = [p for p in slack.posts if p.thread_ts == card.thread_ts and "Scaled deployment/api" in p.text]
    assert len(done) == 1, [p.text for p in done]


STORM_DEPLOYMENTS = 50
STORM_PODS = 10  # 500 crashing pods


async def test_kill_9_of_the_leader_mid_storm_hands_over_within_the_lease_and_loses_or_repeats_no_incident(
    slack: SlackEmulator, kube: FakeKubeServer, replicas: Replicas
) -> None:
    replicas.overrides.update(
        alerts={
            "enabled": True,
            "default_channel": ALERTS,
            "digest_threshold": 100,
            "enrichment_log_lines": 0,
        },
        outbox={"per_channel_per_second": 20, "burst": 2},
    )
    for index in range(STORM_DEPLOYMENTS):
        kube.add_deployment("web", f"svc-{index}", replicas=STORM_PODS)
    started = {r.name: r for r in await replicas.start_ready(*NAMES)}
    leader = await wait_for_holder(kube, set(NAMES))
    crashing = [p for p in kube.list("pods", "web") if "svc-" in p["metadata"]["name"]]
    assert len(crashing) == STORM_DEPLOYMENTS * STORM_PODS
    for pod in crashing:
        kube.apply_status("pods", "web", pod["metadata"]["name"], builders.crashloop_status(pod, restarts=2))
    await slack.wait_for_post(lambda p: len(crashloop_root_titles(slack)) >= 5, timeout=30)
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    await started[leader].kill()
    posted_before_kill = len(crashloop_root_titles(slack))
    assert posted_before_kill < STORM_DEPLOYMENTS, "the kill came in the middle of the storm"
    successor = await wait_for_holder(kube, set(NAMES) - {leader}, timeout=10)
    took = loop.time() - killed_at
    # The lease expires one lease duration after the last renewal, which came before the kill.
    assert took < TIMING["lease_duration_seconds"] + 1.0, took
    await slack.wait_for_post(lambda p: len(crashloop_root_titles(slack)) >= STORM_DEPLOYMENTS, timeout=40)
    await slack.wait_delivered(timeout=10)
    await started[successor].wait_ready()
    titles = crashloop_root_titles(slack)
    per_workload = Counter(
        next(f"svc-{i}" for i in range(STORM_DEPLOYMENTS) if f"deployment/svc-{i} " in title)
        for title in titles
    )
    assert per_workload == dict.fromkeys((f"svc-{i}" for i in range(STORM_DEPLOYMENTS)), 1), titles


async def test_redis_restarted_mid_run_answers_every_command_once_and_keeps_the_pending_approval(
    slack: SlackEmulator, kube: FakeKubeServer, replicas: Replicas, redis_store: RedisServer
) -> None:
    kube.add_namespace("prod")
    kube.add_deployment("prod", "api", replicas=3)
    group = await replicas.start_ready(*NAMES)
    request = await slack.mention(ALICE, CHANNEL, "scale deploy/api 1 -n prod")
    card = await slack.wait_for_post(
        channel=CHANNEL, thread_ts=request.ts, method="chat.postMessage", timeout=15
    )
    assert "Approval needed" in card.text
    await slack.wait_delivered(timeout=10)

    await asyncio.to_thread(redis_store.stop)  # SIGTERM: the append-only file is complete
    during = [await slack.mention(USERS[i % 5], CHANNELS[i % 6], "pods -n web") for i in range(6)]
    change = await slack.mention(ALICE, CHANNEL, "restart deploy/api -n prod")
    await all_answered(slack, [*during, change], timeout=20)
    # Reads need no state: answered, saying saved contexts could not be consulted. A change
    # gets a clear answer instead of landing where a saved context might have said otherwise.
    for sent in during:
        assert "Saved contexts cannot be read right now" in block_text(answers(slack, sent)[0])
    assert "the shared store is unavailable" in block_text(answers(slack, change)[0])
    await asyncio.to_thread(redis_store.start)  # same port, same directory
    await asyncio.gather(*(r.wait_ready(timeout=20) for r in group))

    after = [await slack.mention(USERS[i % 5], CHANNELS[i % 6], "pods -n web") for i in range(6)]
    await all_answered(slack, after, timeout=20)
    kube.clear_requests()
    value = button_value(card, APPROVE_ACTION)
    await slack.click(BOB, channel=card.channel, message_ts=card.ts, action_id=APPROVE_ACTION, value=value)
    await slack.wait_for_post(
        lambda p: "Scaled deployment/api from 3 to 1" in p.text, thread_ts=card.thread_ts, timeout=15
    )
    await slack.wait_delivered(timeout=10)
    scale = "/apis/apps/v1/namespaces/prod/deployments/api/scale"
    assert [(r.method, r.path) for r in kube.writes() if "/leases/" not in r.path] == [("PATCH", scale)]
    assert Counter(len(answers(slack, s)) for s in [*during, change, *after]) == {1: 13}
    assert all("api-" in block_text(answers(slack, s)[0]) for s in after)


async def test_a_rolling_restart_of_all_three_under_steady_commands_answers_each_exactly_once(
    slack: SlackEmulator, replicas: Replicas
) -> None:
    # An envelope sent to a replica's socket as it closes is never acked: Slack sends it again.
    slack.retry_unacked_after = 1.0
    old = await replicas.start_ready(*NAMES)
    requests: list[Sent] = []
    stop = asyncio.Event()

    async def keep_asking() -> None:
        senders = itertools.cycle(itertools.product(USERS, CHANNELS))
        while not stop.is_set():
            user, channel = next(senders)
            requests.append(await slack.mention(user, channel, "pods -n web"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    asking = asyncio.create_task(keep_asking())
    try:
        for number, replica in enumerate(old, start=1):
            more = grown(requests, len(requests) + 5)
            assert await replica.terminate() == 0, replica.tail()
            (fresh,) = await replicas.start_ready(f"r{number}-new")
            await until(more)  # commands kept coming meanwhile
            assert fresh.process.returncode is None
    finally:
        stop.set()
        await asking
    await all_answered(slack, requests, timeout=30)
    await slack.wait_delivered(timeout=10)
    assert Counter(len(answers(slack, s)) for s in requests) == {1: len(requests)}
    assert all("api-" in block_text(answers(slack, s)[0]) for s in requests)
    assert len(requests) > 50
