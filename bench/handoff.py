"""Replicas: an Approve click on a remediation, taken by the replica running the Alertmanager
loops, or by the other one, which hands it on (opsbot.alertmanager.handoff).

Two real bots in this process (`ha.enabled`, one real redis-server as their store, the
Slack emulator and the fake API server); Alertmanager notifications POSTed to the replica
running the loops, each about a new group whose rule proposes `restart deploy/<its own>`.
Each sample: the card's Approve clicked, the click delivered by the emulator to one chosen
replica (alternately the one running the loops and the other); start: perf_counter() just
before the click; end: the emulator's record of "Approved by" in the group's thread (what
the person sees). The difference is the hand-off: a signed POST to the other replica over
loopback, its check, and the decision there.

Figures printed, never asserted.

    python -m bench.handoff [--samples 40] [--warmup 4]

Measured 2026-12-03 (python 3.11.7, 2 CPUs, Linux 6.18), defaults:

    click taken             n   p50   p99   max
    on the loops' replica  20  42.2  50.7  51.3
    handed on              20  40.8  53.6  53.9

The hand-off is within the noise at p50 (+3 ms at p99); most of the 40 ms is the decision's
own round trips (the clicker's name, the store's compare-and-set, the card updated before
the thread line).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp

from bench._common import (
    BenchWorld,
    Summary,
    bench_settings,
    bench_world,
    environment_line,
    format_table,
    production_logging,
    wait_until,
)
from opsbot.alertmanager.cards import APPROVE_ACTION
from opsbot.alertmanager.receiver import WEBHOOK_PATH
from opsbot.app import Bot
from opsbot.config import Settings
from tests.support.alertmanager import WEBHOOK_TOKEN, notification
from tests.support.am_world import secrets
from tests.support.harness import block_text, click_card, running_bot
from tests.support.redis_server import RedisServer

REDIS_ENV = "OPSBOT_BENCH_REDIS_URL"
ALERTS = "C0ALERTS01"
APPROVER = "U0BOB0001"
LEASE = {"lease_duration_seconds": 15.0, "renew_deadline_seconds": 10.0, "retry_period_seconds": 0.5}
RULE = {"name": "restart", "match": {"alertname": "Stuck"}, "command": "restart deploy/{labels.deployment}"}


def replica_settings(world: BenchWorld, identity: str) -> Settings:
    return bench_settings(
        world.kubeconfig,
        store={"backend": "redis", "redis": {"url_env": REDIS_ENV, "key_prefix": "handoff:"}},
        ha={"enabled": True, "namespace": "default", "identity": identity, **LEASE},
        alerts={"enabled": True, "default_channel": ALERTS},
        alertmanager={"enabled": True, "remediations": [RULE]},
        health={"host": "127.0.0.1", "port": 0},
        outbox={"per_channel_per_second": 100.0, "burst": 50},
        policy={
            "bindings": [{"role": "operator", "users": [APPROVER]}],
            "rate_limit": {"commands_per_minute": 10_000, "burst": 1_000},
        },
    )


@asynccontextmanager
async def two_replicas(world: BenchWorld) -> AsyncIterator[tuple[Bot, Bot, dict[Bot, int]]]:
    """(the replica running the loops, the other, each one's Socket Mode connection)."""
    async with AsyncExitStack() as stack:
        bots = []
        for identity in ("a", "b"):
            settings = replica_settings(world, identity)
            bot = await stack.enter_async_context(
                running_bot(world.slack, world.kube, settings, alertmanager_secrets=secrets())
            )
            bots.append(bot)

        def settled() -> bool:
            running = [b for b in bots if b.alertmanager is not None and b.alertmanager.ready]
            if len(running) != 1:
                return False
            other = next(b for b in bots if b is not running[0])
            holder = running[0].leadership.identity if running[0].leadership else ""
            return other.leadership is not None and other.leadership.shared_holder() == holder

        if not await wait_until(settled, timeout=60):
            raise SystemExit("bench.handoff: no replica took the Alertmanager loops within 60 s")
        loops = next(b for b in bots if b.alertmanager is not None and b.alertmanager.ready)
        other = next(b for b in bots if b is not loops)
        first, second = sorted(world.slack.connection_ids)  # a connected first
        yield loops, other, {bots[0]: first, bots[1]: second}


async def sample(
    world: BenchWorld, http: aiohttp.ClientSession, loops: Bot, i: int, connection: int
) -> float:
    """One group, its card, Approve delivered to `connection`: seconds to "Approved by"."""
    name = f"svc-{i}"
    world.kube.add_deployment("web", name, replicas=1)
    assert loops.health is not None
    body = notification("Stuck", labels={"namespace": "web", "deployment": name}, fingerprint=f"{i:016x}")
    body["groupKey"] = f'{{}}:{{deployment="{name}"}}'
    body["groupLabels"] = {"alertname": "Stuck", "deployment": name}
    url = f"http://127.0.0.1:{loops.health.port}{WEBHOOK_PATH}"
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"}) as response:
        assert response.status == 200, await response.text()
    card = await world.slack.wait_for_post(
        lambda p: p.thread_ts is None and name in block_text(p) and "Approve" in block_text(p), timeout=30
    )
    before = len(world.slack.posts)
    started = time.perf_counter()
    await click_card(world.slack, card, f"{APPROVE_ACTION}:0", user=APPROVER, only=connection)
    said = await world.slack.wait_for_post(
        lambda p: "Approved by" in p.text, thread_ts=card.ts, after=before, timeout=30
    )
    return world.posts.recorded_at(said) - started


async def run(args: argparse.Namespace) -> tuple[Summary, Summary, float]:
    with tempfile.TemporaryDirectory(prefix="opsbot-bench-handoff-") as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        os.environ[REDIS_ENV] = server.url
        os.environ["POD_IP"] = "127.0.0.1"  # each replica advertises http://127.0.0.1:<its port>
        try:
            async with (
                bench_world() as world,
                two_replicas(world) as (loops, other, connections),
                aiohttp.ClientSession(trust_env=False) as http,
            ):
                here: list[float] = []
                handed: list[float] = []
                for i in range(args.warmup + args.samples):
                    target = loops if i % 2 == 0 else other
                    seconds = await sample(world, http, loops, i, connections[target])
                    if i >= args.warmup:
                        (here if target is loops else handed).append(seconds)
                assert other.forwarding is not None
                passed_on = other.forwarding.forwarder.outcomes["ok"]
        finally:
            server.stop()
    return Summary.of("on the loops' replica", here), Summary.of("handed on", handed), passed_on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("bench.handoff: redis-server is not installed (make bench installs it)")
    production_logging()
    here, handed, passed_on = asyncio.run(run(args))
    print(environment_line())
    print(f"Approve click → 'Approved by' in the thread, {args.samples} samples after {args.warmup} warm-up (ms)")
    rows = [(s.name, str(s.n), f"{s.p50:.1f}", f"{s.p99:.1f}", f"{s.max:.1f}") for s in (here, handed)]
    print(format_table(("click taken", "n", "p50", "p99", "max"), rows))
    print(f"the hand-off adds p50 {handed.p50 - here.p50:+.1f} ms; clicks handed on: {passed_on:.0f}")


if __name__ == "__main__":
    main()
