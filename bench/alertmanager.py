"""Alertmanager → Slack: notification received → root posted, and a storm of 1,000 alerts.

Run:  python -m bench.alertmanager [--samples N] [--alerts N] [--groups N] [--spread S] [--seconds S] [--quick]

1. Latency, unpaced (outbox 100 msg/s per channel, burst 50: the config's maximum; one
   channel). The real bot on this event loop with alerts and the Alertmanager receiver on;
   one notification at a time, each about a new group (so each posts a root), POSTed to
   the receiver exactly as Alertmanager sends it (payload version 4, bearer token). Start:
   perf_counter() just before the POST; end: the Slack emulator recording the root's
   chat.postMessage (bench._common.TimedPosts). Also: when the receiver answered.

2. Storm, with the real Alertmanager (Debian's prometheus-alertmanager; skipped, saying
   how to install it, when missing). Product defaults where it matters: outbox 1 msg/s per
   channel, burst 3; the emulator enforces 1 chat.postMessage/s per channel (burst 3) with
   429s; digest_threshold 5; one channel. Alertmanager groups by alertname with
   group_wait 5 s and group_interval 15 s (so groups also change within the minute). `--alerts`
   alerts (1,000) over `--groups` alert names (50) are pushed to its API evenly over
   `--spread` seconds (10), round-robin over the groups. Counted in the first `--seconds`
   (60) from the first push: chat.postMessage (roots, digests, thread replies), chat.update,
   429s. None lost: every alert is firing in the bot's groups, every group's incident has a
   root or is in a digest, and every alert name is in what the channel shows now.

Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench._common import (
    BenchWorld,
    Summary,
    bench_settings,
    bench_world,
    environment_line,
    format_table,
    production_logging,
)
from opsbot.alertmanager.receiver import WEBHOOK_PATH
from opsbot.app import Bot
from tests.support.alertmanager import WEBHOOK_TOKEN, Alertmanager, binary, iso, notification
from tests.support.am_world import secrets
from tests.support.harness import block_text, running_bot
from tests.support.loopback import free_port
from tests.support.slack_emulator import Post

ALERTS = "C0ALERTS01"
AIM_P99_MS = 100.0
AIM_MESSAGES = 25


@dataclass(frozen=True)
class Options:
    samples: int
    warmup: int
    alerts: int
    groups: int
    spread: float
    seconds: float


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.alertmanager", description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="measured notifications (300)")
    parser.add_argument("--alerts", type=int, default=1000, help="alerts in the storm (1000)")
    parser.add_argument("--groups", type=int, default=50, help="alert names (groups) in the storm (50)")
    parser.add_argument("--spread", type=float, default=10.0, help="seconds the storm's pushes take (10)")
    parser.add_argument("--seconds", type=float, default=60.0, help="storm window from the first push (60)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 50 samples, 200 alerts in 10 groups, 30 s"
    )
    args = parser.parse_args(argv)
    if args.quick:
        return Options(50, 5, 200, 10, 5.0, 30.0)
    return Options(args.samples, 20, args.alerts, args.groups, args.spread, args.seconds)


def settings(world: BenchWorld, port: int, *, paced: bool, am_url: str | None = None) -> Any:
    outbox = (
        {"per_channel_per_second": 1.0, "burst": 3} if paced else {"per_channel_per_second": 100, "burst": 50}
    )
    return bench_settings(
        world.kubeconfig,
        outbox=outbox,
        alerts={"enabled": True, "default_channel": ALERTS, "enrichment_log_lines": 0},
        health={"host": "127.0.0.1", "port": port},
        alertmanager={"enabled": True, "url": am_url, "reconcile_minutes": 10},
    )


@asynccontextmanager
async def bot_of(world: BenchWorld, config: Any) -> AsyncIterator[Bot]:
    async with running_bot(world.slack, world.kube, config, alertmanager_secrets=secrets()) as bot:
        assert bot.alertmanager is not None
        await bot.alertmanager.first_reconcile.wait()
        yield bot


# ---------------------------------------------------------------------- 1. latency


def bench_notification(i: int) -> dict[str, Any]:
    return notification(
        f"BenchAlert{i:04d}",
        labels={"namespace": "web", "instance": f"api-{i}"},
        annotations={"summary": "latency above objective"},
        starts_at=iso(datetime.now(UTC)),
        fingerprint=f"{i:016x}",
        external_url="http://alertmanager.example:9093",
        generatorURL="http://prometheus.example/graph",
    )


async def latency(options: Options) -> tuple[Summary, Summary, int]:
    async with bench_world() as world:
        port = free_port()
        async with (
            bot_of(world, settings(world, port, paced=False)),
            aiohttp.ClientSession(trust_env=False) as http,
        ):
            url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
            totals: list[float] = []
            answers: list[float] = []
            wrong = 0
            for i in range(options.warmup + options.samples):
                body = bench_notification(i)
                name = body["groupLabels"]["alertname"]
                before = len(world.slack.posts)
                started = time.perf_counter()
                async with http.post(url, json=body, headers=headers) as response:
                    answered = time.perf_counter()
                    assert response.status == 200, await response.text()

                def is_root(p: Post, n: str = name) -> bool:
                    return p.thread_ts is None and n in p.text

                post = await world.slack.wait_for_post(
                    is_root,
                    channel=ALERTS,
                    method="chat.postMessage",
                    after=before,
                    timeout=30,
                )
                wrong += "1 firing" not in block_text(post)
                if i >= options.warmup:
                    totals.append(world.posts.recorded_at(post) - started)
                    answers.append(answered - started)
            return (
                Summary.of("received → root posted", totals),
                Summary.of("receiver answered", answers),
                wrong,
            )


# ---------------------------------------------------------------------- 2. storm


@dataclass
class Storm:
    posts: int
    roots: int
    digests: int
    replies: int
    updates: int
    first_post_s: float | None
    pushed_s: float
    emulator_429: int
    firing: int
    groups_accounted: int
    names_visible: int
    notifications: int


async def storm(options: Options) -> Storm | None:
    if binary() is None:
        return None
    async with bench_world() as world:
        world.slack.enforce_rate_limit(per_second=1.0, burst=3)
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="opsbot-bench-am-") as tmp:
            am = Alertmanager(
                Path(tmp),
                f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
                group_wait="5s",
                group_interval="15s",
                repeat_interval="4h",
            )
            async with am, bot_of(world, settings(world, port, paced=True, am_url=am.url)) as bot:
                service = bot.alertmanager
                assert service is not None
                names = [f"StormAlert{g:02d}" for g in range(options.groups)]
                alerts = [
                    {
                        "alertname": names[i % options.groups],
                        "severity": "critical",
                        "instance": f"node-{i:04d}",
                    }
                    for i in range(options.alerts)
                ]
                batches = [alerts[i : i + 10] for i in range(0, len(alerts), 10)]
                step = options.spread / max(1, len(batches) - 1)
                start = time.perf_counter()
                for n, batch in enumerate(batches):
                    await asyncio.sleep(max(0.0, start + n * step - time.perf_counter()))
                    await am.fire_many(batch)
                pushed = time.perf_counter() - start
                await asyncio.sleep(max(0.0, start + options.seconds - time.perf_counter()))
                end = start + options.seconds
                window = [
                    p
                    for p in world.slack.posts
                    if p.channel == ALERTS and start <= world.posts.recorded_at(p) <= end
                ]
                messages = [p for p in window if p.method == "chat.postMessage"]
                stamps = sorted(world.posts.recorded_at(p) - start for p in messages)
                shown = "\n".join(
                    block_text(
                        Post(
                            "",
                            ALERTS,
                            str(m.get("ts", "")),
                            str(m.get("text", "")),
                            m.get("blocks") or [],
                            None,
                            None,
                            {},
                        )
                    )
                    for m in world.slack.messages(ALERTS)
                    if not m.get("thread_ts") or m.get("thread_ts") == m.get("ts")
                )
                firing = sum(len(group.firing()) for group in service.state.groups.values())
                accounted = 0
                for group in service.state.groups.values():
                    incident = bot.alerts.book.get(group.key) if bot.alerts else None
                    accounted += incident is not None and (
                        bool(incident.root) or incident.digest not in (None, "", "pending")
                    )
                return Storm(
                    posts=len(messages),
                    roots=sum(
                        1
                        for p in messages
                        if p.thread_ts is None and "opsbot_incident" in str(p.args.get("metadata"))
                    ),
                    digests=sum(1 for p in messages if " new incidents in " in p.text),
                    replies=sum(1 for p in messages if p.thread_ts is not None),
                    updates=sum(1 for p in window if p.method == "chat.update"),
                    first_post_s=stamps[0] if stamps else None,
                    pushed_s=pushed,
                    emulator_429=world.slack.rate_limited,
                    firing=firing,
                    groups_accounted=accounted,
                    names_visible=sum(1 for name in names if name in shown),
                    notifications=service.intake.received,
                )


# ---------------------------------------------------------------------- report


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    production_logging()
    total, answered, wrong = asyncio.run(latency(options))
    print()
    print(f"opsbot + Alertmanager — {environment_line()}")
    print(
        f"1. notification received → root posted, unpaced, {options.samples} samples after {options.warmup} warm-up"
    )
    rows = [
        (s.name, str(s.n), f"{s.p50:.1f}", f"{s.p95:.1f}", f"{s.p99:.1f}", f"{s.max:.1f}", f"{s.mean:.1f}")
        for s in (total, answered)
    ]
    print(format_table(("ms", "n", "p50", "p95", "p99", "max", "mean"), rows))
    verdict = "met" if total.p99 < AIM_P99_MS else "MISSED"
    print(
        f"aim p99 < {AIM_P99_MS:.0f} ms: {verdict} ({total.p99:.1f} ms); roots not showing their alert: {wrong}"
    )
    result = asyncio.run(storm(options))
    print()
    if result is None:
        print("2. storm: skipped: install Alertmanager (sudo apt-get install -y prometheus-alertmanager)")
        return 0
    print(
        f"2. storm: {options.alerts} alerts in {options.groups} groups pushed to the real Alertmanager within "
        f"{result.pushed_s:.1f} s (group_wait 5 s, group_interval 15 s); outbox 1 msg/s, burst 3; emulator 429s over it"
    )
    first = "-" if result.first_post_s is None else f"{result.first_post_s:.1f} s"
    print(
        f"first {options.seconds:.0f} s: {result.posts + result.updates} messages = {result.posts} chat.postMessage "
        f"({result.roots} roots, {result.digests} digests, {result.replies} thread replies) + {result.updates} "
        f"chat.update; first post at {first}; emulator 429s: {result.emulator_429}; notifications received: "
        f"{result.notifications}"
    )
    lost = options.alerts - result.firing
    print(
        f"none lost: alerts firing in the bot {result.firing}/{options.alerts}; groups with a root or in a digest "
        f"{result.groups_accounted}/{options.groups}; alert names visible in the channel {result.names_visible}/{options.groups} "
        "(a digest's table shows 40 rows and counts the rest; `incidents` lists them all)"
    )
    verdict = "met" if result.posts + result.updates <= AIM_MESSAGES and lost == 0 else "MISSED"
    print(f"aim ≤ {AIM_MESSAGES} messages in the first minute, none lost: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
