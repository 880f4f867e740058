"""Releases: `apps` over several large clusters, and how soon a release's end is told.

1. `apps` over 3 clusters × 500 Deployments (fake API servers, watch caches on):
   mention → reply latency, p50/p99 (aim: p99 < 300 ms). The reply carries the first
   rows and the whole table as a file; the figure is the message.
2. commit → "available" notice: `promote … to stage` confirmed, the fleet repository
   on a smart-HTTP git server, the test Flux applying the push before it returns (so
   the Deployment is available then); measured from that moment to the notice
   "… available on stage" recorded by the Slack emulator (aim < 1 s), and from the
   Confirm click to the same notice.

Everything runs in one process (bot, emulator, fake API servers, git server): the
figures include their competition for the GIL. Printed, never asserted.

    python -m bench.releases [--deployments 500] [--commands 200] [--promotions 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench._common import (
    USER,
    Summary,
    TimedPosts,
    environment_line,
    format_table,
    install_timed_posts,
    peak_rss_mib,
    production_logging,
    wait_until,
)
from opsbot.approvals.cards import CONFIRM_ACTION
from tests.support.fleet_world import fleet_config, fleet_servers
from tests.support.harness import block_text, button_value, make_settings, running_bot
from tests.support.release_harness import release_config, release_world
from tests.support.slack_emulator import Post, SlackEmulator

POLICY = {
    "bindings": [{"role": "admin", "users": [USER]}],
    "rate_limit": {"commands_per_minute": 10_000, "burst": 1_000},
}


@dataclass(frozen=True)
class Options:
    deployments: int
    commands: int
    warmup: int
    promotions: int
    channels: int


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.releases", description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=500, help="Deployments per cluster (500)")
    parser.add_argument("--commands", type=int, default=200, help="measured `apps` commands (200)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured `apps` commands (10)")
    parser.add_argument("--promotions", type=int, default=20, help="measured promotions (20)")
    parser.add_argument("--channels", type=int, default=100, help="channel ids to rotate over (100)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 30 commands, 5 promotions")
    args = parser.parse_args(argv)
    if args.quick:
        return Options(args.deployments, 30, 3, 5, args.channels)
    return Options(args.deployments, args.commands, args.warmup, args.promotions, args.channels)


async def started_emulator() -> tuple[SlackEmulator, TimedPosts]:
    slack = SlackEmulator()
    posts = install_timed_posts(slack)
    await slack.start()
    return slack, posts


async def measure_apps(options: Options, tmp: Path) -> tuple[Summary, float, int]:
    """(latency summary, seconds to populate, apps per reply)."""
    slack, posts = await started_emulator()
    channels = itertools.cycle([f"C0BENCH{i:04d}" for i in range(options.channels)])
    started = time.perf_counter()
    try:
        with fleet_servers(options.deployments) as servers:
            populated = time.perf_counter() - started
            settings = make_settings(
                tmp / "unused",
                **fleet_config(tmp, servers),
                outbox={"per_channel_per_second": 1.0, "burst": 3},
                policy=POLICY,
                store={"path": str(tmp / "apps.db")},
            )
            async with running_bot(slack, servers["stage"], settings) as bot:
                rows = bot.parts.rows
                if not await wait_until(
                    lambda: all(rows.deployment_rows(c, None, None) is not None for c in servers), 60
                ):
                    raise RuntimeError("the deployment caches did not sync")
                latencies: list[float] = []
                apps = 0
                for index in range(options.warmup + options.commands):
                    channel = next(channels)
                    before = len(slack.posts)
                    sent_at = time.perf_counter()
                    sent = await slack.mention(USER, channel, "apps")
                    post = await slack.wait_for_post(
                        channel=channel,
                        thread_ts=sent.ts,
                        method="chat.postMessage",
                        after=before,
                        timeout=30,
                    )
                    if index == 0:
                        text = block_text(post)
                        if f"on *{len(servers)}* of {len(servers)} clusters" not in text:
                            raise RuntimeError(f"unexpected answer:\n{text[:1500]}")
                        apps = int(text.split("*", 2)[1])
                    if index >= options.warmup:
                        latencies.append(posts.recorded_at(post) - sent_at)
                await slack.settle(timeout=5.0)
        return Summary.of(f"apps, 3 clusters × {options.deployments}", latencies), populated, apps
    finally:
        await slack.stop()


@dataclass(frozen=True)
class Promotion:
    after_available: float  # the Deployment available (Flux applied the push) → the notice
    after_confirm: float  # Confirm clicked → the notice


async def measure_promotions(options: Options, tmp: Path) -> list[Promotion]:
    slack, posts = await started_emulator()
    try:
        async with release_world(tmp) as world:
            clusters, git, _flux, token_file = world
            available_at: list[float] = []
            # Subscribed after the test Flux: called once Flux applied the push (the
            # fake controllers settle inside the write), i.e. once the Deployment is available.
            git.subscribe(lambda sha: available_at.append(time.perf_counter()))
            settings = release_config(
                tmp,
                clusters,
                git.http_url,
                token_file,
                outbox={"per_channel_per_second": 1.0, "burst": 3},
                policy=POLICY,
            )
            async with running_bot(slack, clusters["stage"], settings):
                for kube in clusters.values():
                    kube.wait_for_watches(4)
                results: list[Promotion] = []
                for index in range(options.promotions):
                    version = f"6.{6 + index // 10}.{index % 10}"
                    channel = f"C0PROMO{index:04d}"
                    before = len(slack.posts)
                    sent = await slack.mention(USER, channel, f"promote podinfo@{version} to stage")
                    card = await slack.wait_for_post(
                        channel=channel,
                        thread_ts=sent.ts,
                        method="chat.postMessage",
                        after=before,
                        timeout=30,
                    )
                    pushed = len(available_at)
                    clicked = time.perf_counter()
                    await slack.click(
                        USER,
                        channel=channel,
                        message_ts=card.ts,
                        action_id=CONFIRM_ACTION,
                        value=button_value(card, CONFIRM_ACTION),
                        thread_ts=card.thread_ts,
                    )
                    done = await slack.wait_for_post(
                        _saying(f"podinfo {version} available on stage"),
                        channel=channel,
                        method="chat.postMessage",
                        timeout=30,
                    )
                    told = posts.recorded_at(done)
                    results.append(Promotion(told - available_at[pushed], told - clicked))
                await slack.settle(timeout=5.0)
                return results
    finally:
        await slack.stop()


def _saying(needle: str) -> Callable[[Post], bool]:
    def says(post: Post) -> bool:
        return needle in post.text

    return says


def report(
    options: Options, apps: Summary, populated: float, shown: int, promotions: list[Promotion]
) -> None:
    print("opsbot bench: releases")
    print(environment_line())
    print(
        f"fleet: 3 clusters × {options.deployments} Deployments (populated in {populated:.1f} s); {shown} apps per reply"
    )
    print()
    rows = [
        (apps.name, str(apps.n), f"{apps.p50:.1f}", f"{apps.p95:.1f}", f"{apps.p99:.1f}", f"{apps.max:.1f}")
    ]
    after_available = Summary.of("Deployment available → notice", [p.after_available for p in promotions])
    after_confirm = Summary.of("Confirm clicked → notice", [p.after_confirm for p in promotions])
    for summary in (after_available, after_confirm):
        rows.append(
            (
                summary.name,
                str(summary.n),
                f"{summary.p50:.1f}",
                f"{summary.p95:.1f}",
                f"{summary.p99:.1f}",
                f"{summary.max:.1f}",
            )
        )
    print(format_table(("workload (ms)", "n", "p50", "p95", "p99", "max"), rows))
    print()
    print(
        f"aims: apps p99 < 300 ms ({'met' if apps.p99 < 300 else 'MISSED'}); "
        f"available → notice < 1 s ({'met' if after_available.max < 1000 else 'MISSED'}, max {after_available.max:.0f} ms)"
    )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


async def run(options: Options) -> None:
    production_logging()
    with tempfile.TemporaryDirectory(prefix="opsbot-bench-releases-") as tmp:
        apps, populated, shown = await measure_apps(options, Path(tmp) / "apps")
        promotions = await measure_promotions(options, Path(tmp) / "promote")
    report(options, apps, populated, shown, promotions)


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(run(parse_options(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
