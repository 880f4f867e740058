"""Failover: how soon another replica runs a cluster's alert loops once the leader goes.

Two real bots (`ha.enabled`) share the fake API server, the Slack emulator and the store
file. Each run takes the current leader away and times, on one monotonic clock, from
that moment to the moment the other replica's on_started finished (its incidents loaded
and its alert watches relisted: its first alert loop is running):

- stop:  the leader's shutdown path (`Bot.stop`): it steps down and releases its lease,
         so the follower takes over at its next attempt (about one retry period);
- kill:  its elector is cancelled with no step-down and no release (a killed process):
         the follower waits for the lease to expire on its own clock (about one lease
         duration after the last renewal it saw).

A fresh replica joins as the follower before the next run. Figures printed, not asserted.

    python -m bench.failover [--runs 10] [--lease-duration 2] [--renew-deadline 1.4] [--retry-period 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import time

from bench._common import (
    Summary,
    bench_settings,
    bench_world,
    environment_line,
    format_table,
    production_logging,
    wait_until,
)
from opsbot.app import Bot
from tests.support.harness import running_bot


def _leading(bot: Bot) -> bool:
    return bot.leadership is not None and bot.leadership.electors[0].leading


def _started_after(bot: Bot, moment: float) -> float | None:
    assert bot.leadership is not None
    return next((at for at, _c, what in bot.leadership.history if what == "started" and at >= moment), None)


async def _run(args: argparse.Namespace) -> dict[str, list[float]]:
    timings = {
        "lease_duration_seconds": args.lease_duration,
        "renew_deadline_seconds": args.renew_deadline,
        "retry_period_seconds": args.retry_period,
    }
    results: dict[str, list[float]] = {"stop": [], "kill": []}
    names = (f"replica-{n}" for n in itertools.count(1))
    async with bench_world() as world, contextlib.AsyncExitStack() as stack:
        world.kube.add_namespace("web")
        world.kube.add_deployment("web", "api", replicas=3)

        async def replica() -> Bot:
            settings = bench_settings(
                world.kubeconfig,
                alerts={"enabled": True, "default_channel": "C0ALERTS01"},
                ha={"enabled": True, "namespace": "default", "identity": next(names), **timings},
            )
            return await stack.enter_async_context(running_bot(world.slack, world.kube, settings))

        pair = (await replica(), await replica())
        for how in ["stop", "kill"] * args.runs:
            follower, seconds = await _failover(pair, how)
            results[how].append(seconds)
            pair = (follower, await replica())
    return results


async def _failover(pair: tuple[Bot, Bot], how: str) -> tuple[Bot, float]:
    """Take the leader of `pair` away (`how`); the follower and its takeover time."""
    if not await wait_until(lambda: any(_leading(b) for b in pair), timeout=30):
        raise SystemExit("no leader within 30 s")
    leader = next(b for b in pair if _leading(b))
    follower = next(b for b in pair if b is not leader)
    gone_at = time.monotonic()
    if how == "stop":
        await leader.stop(grace=5)
    else:
        assert leader.leadership is not None
        for elector in leader.leadership.electors:
            await elector.abandon()
    if not await wait_until(lambda: _started_after(follower, gone_at) is not None, timeout=60):
        raise SystemExit(f"no takeover within 60 s ({how})")
    took = (_started_after(follower, gone_at) or gone_at) - gone_at
    if how == "kill":
        await leader.stop(grace=5)  # its lease is already lost: nothing to release
    return follower, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="failovers of each kind")
    parser.add_argument("--lease-duration", type=float, default=2.0)
    parser.add_argument("--renew-deadline", type=float, default=1.4)
    parser.add_argument("--retry-period", type=float, default=0.2)
    args = parser.parse_args()
    production_logging()
    results = asyncio.run(_run(args))
    print(environment_line())
    print(
        f"lease timings: duration {args.lease_duration} s, renew deadline {args.renew_deadline} s, "
        f"retry period {args.retry_period} s; {args.runs} runs each"
    )
    rows = []
    for how, label in (("stop", "graceful stop (lease released)"), ("kill", "kill (no release)")):
        summary = Summary.of(label, results[how])
        rows.append((label, str(summary.n), f"{summary.p50:.0f}", f"{summary.p99:.0f}", f"{summary.max:.0f}"))
    print("leader gone → new leader's alert loops running (ms)")
    print(format_table(("failover", "n", "p50", "p99", "max"), rows))


if __name__ == "__main__":
    main()
