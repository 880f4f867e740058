"""Replicas: command latency with the Redis store against SQLite, and peak RSS per replica.

1. Command latency, same run, same fake API server and Slack emulator: the real bot in
   this process, `pods -n web` mentioned one at a time (each in the next of 250 channels,
   so the per-channel outbox pacing is not what is measured), from the mention to the
   emulator's record of the answer; first with `store.backend: sqlite`, then with
   `store.backend: redis` and `ha.enabled` (a real redis-server on loopback, appendonly
   everysec). Aim: Redis within 1.5x of SQLite at p50 and p99.
2. Peak RSS per replica: three `opsbot run` processes (ha on, Redis store, product defaults:
   alerts on, watch caches on, every namespace watched, the lease timings; run as in the
   image, without the test-only packages, as bench.memory does) against a fake API server
   holding bench.memory's cluster (--pods pods, --nodes nodes, no controllers); each
   replica's VmHWM once all three are ready (watches synced) and have answered a burst of
   30 `pods -A` / `status -A`. Only the leader runs the alert loops (and relists its alert
   watches once elected); every replica watches and caches.

Figures printed, never asserted.

    python -m bench.replicas [--commands 200] [--pods 10000] [--nodes 500] [--quick]

Measured 2026-12-03 (python 3.11.7, 2 CPUs, Linux 6.18), defaults:

    command latency (ms)   n    p50   p99   max
    sqlite                 200  8.8   13.0  14.9
    redis (+ ha)           200  11.4  17.8  31.0
    redis / sqlite: p50 1.29x, p99 1.37x (aim: within 1.5x)
    three replicas, 10000 pods + 500 nodes: all ready in 22.7 s; peak RSS (VmHWM) r1 114,
    r2 114, r3 116 MiB (RSS after the burst 112-115 MiB).
    A second run an hour later, final code of that day: 7.4 / 10.4 against 10.6 / 15.5 ms =
    1.44x / 1.50x; peak RSS 114, 114, 116 MiB. The ratio moves with the machine: Redis round
    trips on loopback measured 0.10-0.15 ms in the morning, 0.25-0.5 ms then (bench.store).

A third run in the evening (after the Alertmanager hand-offs, nothing on this path changed):
7.2 / 9.1 against 10.1 / 13.0 ms = 1.40x / 1.43x; peak RSS 117, 114, 114 MiB.

Earlier the same day: p50 1.39-1.51x, p99 1.49-1.90x, peak RSS 125-131 MiB. What changed:
a command reads the person's and the channel's context in one round trip (was two); read
commands are audited behind the answer (an audit thread; was a round trip before every
reply); watches list pages of 100 objects (250 made a decoded page the biggest transient:
127/123/123 against 116/114/114 MiB in one A/B run); redis-py no longer loads
OpenTelemetry's metrics SDK (~2.4 MiB).

Before (2026-12-03, same machine): 171-183 MiB per replica, ready in 43.8 s, because
(1) the fake API server ran its controllers, which gave each of populate's 240 rolled-out
Deployments a ReplicaSet and 41 pods more (19,840 pods watched); (2) the tests' 1.5 s lease
made the lease change hands while three processes listed on 2 CPUs, and each new leader
relisted its alert watches; (3) during such a relist the watch caches did not answer, so the
burst listed 10,000 pods live (fixed in ResourceWatch.current: +25 MiB on the leader);
(4) `python -m opsbot` imported the test-only kubernetes-validate (~4 MiB).

--quick (60 commands, 2000 pods, 100 nodes): a smoke run, its figures are not the aim's.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench._common import (
    Summary,
    bench_settings,
    bench_world,
    environment_line,
    first_reply,
    format_table,
    production_logging,
)
from bench.memory import AS_IN_THE_IMAGE, peak_and_rss, populate
from tests.support.harness import running_bot
from tests.support.redis_server import RedisServer
from tests.support.replicas import Replicas

REDIS_ENV = "OPSBOT_BENCH_REDIS_URL"
# The product's lease timings (HASettings' defaults), not the tests' 1.5 s lease: with that,
# three processes listing on 2 CPUs miss renewals, the lease changes hands several times, and
# each new leader relists its alert watches while commands list live meanwhile.
PRODUCT_LEASE = {"lease_duration_seconds": 15.0, "renew_deadline_seconds": 10.0, "retry_period_seconds": 2.0}
AIM_RATIO = 1.5
BURST = ("pods -A", "status -A")


async def latency(store: str, commands: int, warmup: int, redis_url: str) -> Summary:
    """Sequential `pods -n web` with one store backend; a fresh world each time."""
    os.environ[REDIS_ENV] = redis_url
    async with bench_world() as world:
        world.kube.add_namespace("web")
        world.kube.add_deployment("web", "api", replicas=5)
        overrides: dict[str, object] = {}
        if store == "redis":
            overrides = {
                "store": {"backend": "redis", "redis": {"url_env": REDIS_ENV, "key_prefix": "latency:"}},
                "ha": {"enabled": True, "namespace": "default", "identity": "bench"},
            }
        settings = bench_settings(world.kubeconfig, **overrides)
        channels = itertools.cycle([f"C0REP{store[:3].upper()}{i:03d}" for i in range(250)])
        async with running_bot(world.slack, world.kube, settings):
            for _ in range(warmup):
                await first_reply(world, next(channels), "pods -n web")
            seconds = [
                (await first_reply(world, next(channels), "pods -n web")).latency for _ in range(commands)
            ]
            await world.slack.settle(timeout=5.0)
    return Summary.of(store, seconds)


async def peaks(
    pods: int, nodes: int, redis_url: str, directory: Path
) -> tuple[list[tuple[str, float, float]], float]:
    """Three replica processes on a populated cluster: (name, VmHWM, VmRSS) each, and seconds to ready."""
    # As bench.memory's cluster: no controllers, or each of populate's rolled-out Deployments
    # would get a ReplicaSet and pods of its own (19,840 pods for --pods 10000).
    async with bench_world(bookmark_interval=5.0, controllers=False) as world:
        populate(world.kube, pods, nodes)
        group = Replicas(
            world.slack,
            world.kubeconfig,
            directory,
            redis_url,
            program=("-c", AS_IN_THE_IMAGE),  # as bench.memory: without the test-only packages
            ha=PRODUCT_LEASE,
            alerts={"enabled": True, "default_channel": "C0ALERTS01"},
            watch={"cache": True},
            policy={"rate_limit": {"commands_per_minute": 10_000, "burst": 1_000}},
            outbox={"per_channel_per_second": 1.0, "burst": 3},
            # A fresh emulator numbers its event ids from 1 again: keys of their own, or the
            # latency part's de-duplication keys would drop these events as seen before.
            store={
                "backend": "redis",
                "path": str(directory / "opsbot.db"),
                "redis": {"key_prefix": "peaks:"},
            },
        )
        try:
            started = time.perf_counter()
            replicas = await group.start_ready("r1", "r2", "r3", timeout=600)
            ready = time.perf_counter() - started
            await asyncio.gather(
                *(first_reply(world, f"C0RSS{i:03d}", BURST[i % 2], timeout=120) for i in range(30))
            )
            figures = [(r.name, *peak_and_rss(r.pid)) for r in replicas]
        finally:
            await group.close()
    return figures, ready


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="opsbot-bench-replicas-") as tmp:
        server = RedisServer(Path(tmp) / "redis", appendonly=True)
        server.appendfsync = "everysec"
        server.start()
        try:
            sqlite = await latency("sqlite", args.commands, args.warmup, server.url)
            redis = await latency("redis", args.commands, args.warmup, server.url)
            figures, ready = await peaks(args.pods, args.nodes, server.url, Path(tmp) / "replicas")
        finally:
            server.stop()
    print(environment_line())
    print(
        f"command latency, `pods -n web` one at a time, {args.commands} commands after {args.warmup} warm-up (ms)"
    )
    rows = [(s.name, str(s.n), f"{s.p50:.1f}", f"{s.p99:.1f}", f"{s.max:.1f}") for s in (sqlite, redis)]
    print(format_table(("store", "n", "p50", "p99", "max"), rows))
    print(
        f"redis / sqlite: p50 {redis.p50 / sqlite.p50:.2f}x, p99 {redis.p99 / sqlite.p99:.2f}x "
        f"(aim: within {AIM_RATIO}x)"
    )
    print(f"three replicas (opsbot run), {args.pods} pods + {args.nodes} nodes: all ready in {ready:.1f} s")
    print(
        format_table(
            ("replica", "peak RSS MiB (VmHWM)", "RSS MiB now"),
            [(n, f"{p:.0f}", f"{r:.0f}") for n, p, r in figures],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="60 commands, 2000 pods, 100 nodes")
    args = parser.parse_args()
    if args.quick:
        args.commands, args.pods, args.nodes = 60, 2000, 100
    if shutil.which("redis-server") is None:
        raise SystemExit("bench.replicas: redis-server is not installed (make bench installs it)")
    production_logging()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
