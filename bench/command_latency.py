"""Mention → first reply latency of opsbot commands, printed as percentiles.

Run:  python -m bench.command_latency [--commands N] [--pods N] [--quick]

What is measured: for each command, the time from just before the Slack emulator
delivers the app_mention (Socket Mode envelope) to the moment the emulator records
the bot's first chat.postMessage in that thread. The end stamp is taken inside the
emulator's chat.postMessage handler (bench._common.TimedPosts), so waiter wake-up
latency is not included. The bot is the real `opsbot.app.Bot` (Bolt, Socket Mode,
outbox, router, kube client), talking to the fake API server over HTTP.

Workloads, one command in flight at a time, interleaved round-robin so that drift
(GC, growing emulator state) hits every workload alike:
  help             baseline: no Kubernetes call (Slack round trip + routing + render)
  pods -n <ns>     one namespace (~pods/20 pods)
  pods -A          every namespace (the issue's aim: p99 < 300 ms at 1,000 pods)
and then a burst: `--burst` `pods -A` commands sent at once.

Each command goes to a different channel (round-robin over `--channels` ids) with
the product's outbox pacing (1 message/s per channel, burst 3), so pacing is
realistic but never what is measured. Logging is configured as in production
(JSON, info) into /dev/null. Alerts, and so the watch loop, are off: this measures
commands alone.

Also printed: a breakdown of one `pods -A` (fake API server list, decode, handler,
render; timed piece by piece with the bot idle), the garbage collector's passes
during the sequential runs and which commands overlapped a full collection, peak
RSS, and the aim check line.

The bot, the Slack emulator and the fake API server share this process (and its
GIL and heap); peak RSS covers all three, and a full GC walks all three heaps, so
GC pauses here are an upper bound of the bot's own. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s

from bench._common import (
    BenchWorld,
    GcPauses,
    Reply,
    Summary,
    bench_settings,
    bench_world,
    build_pods,
    environment_line,
    first_reply,
    format_table,
    peak_rss_mib,
    production_logging,
    started_bot,
)
from opsbot.app import Bot
from opsbot.commands.context import CommandContext
from opsbot.core.reply import Reply as CommandReply
from opsbot.core.request import ChatRequest
from opsbot.kube.client import KubeClient
from opsbot.ports import KubeObject, KubePort
from opsbot.slack.render import render
from tests.support.harness import block_text

AIM_P99_MS = 300.0
NAMESPACES = (
    "payments", "checkout", "catalog", "search", "web", "api-gateway", "auth", "notifications",
    "orders", "inventory", "shipping", "billing", "analytics", "recommendations", "media",
    "messaging", "reporting", "ingest", "ml-serving", "platform",
)  # fmt: skip
BREAKDOWN_REPEATS = 30
_CONTINUE = re.compile(rb'"continue":"([^"]+)"')


@dataclass(frozen=True)
class Workload:
    name: str
    text: str
    expect: str  # a phrase the correct answer contains (checked on warm-up replies)


@dataclass(frozen=True)
class Options:
    commands: int
    pods: int
    warmup: int
    burst: int
    channels: int


class Channels:
    """Channel ids handed out round-robin, so consecutive commands never share a channel."""

    def __init__(self, count: int) -> None:
        self._ids: Iterator[str] = itertools.cycle([f"C0BENCH{i:04d}" for i in range(count)])

    def next(self) -> str:
        return next(self._ids)


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.command_latency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--commands", type=int, default=300, help="measured commands per workload (300)")
    parser.add_argument("--pods", type=int, default=1000, help="pods in the fake API server (1000)")
    parser.add_argument("--quick", action="store_true", help="CI smoke run: 50 commands per workload")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured commands per workload (10)")
    parser.add_argument("--burst", type=int, default=50, help="pods -A commands sent at once (50)")
    parser.add_argument("--channels", type=int, default=250, help="channel ids to rotate over (250)")
    args = parser.parse_args(argv)
    commands = 50 if args.quick else args.commands
    if commands < 1 or args.pods < len(NAMESPACES) or args.burst < 1 or args.warmup < 1:
        parser.error(f"need --commands >= 1, --pods >= {len(NAMESPACES)}, --burst >= 1, --warmup >= 1")
    if args.channels < args.burst:
        parser.error("--channels must be at least --burst (one channel per burst command)")
    return Options(commands, args.pods, args.warmup, args.burst, args.channels)


def populate(world: BenchWorld, pods: int) -> float:
    """Namespaces, nodes and pods in the fake API server; returns seconds taken."""
    started = time.perf_counter()
    for namespace in NAMESPACES:
        world.kube.add_namespace(namespace)
    for i in range(10):
        world.kube.add_node(f"node-{i + 1:02d}")
    world.kube.create_many(build_pods(pods, NAMESPACES, nodes=10))
    return time.perf_counter() - started


@dataclass(frozen=True)
class Sample:
    seconds: float
    full_gc: bool  # a generation-2 collection ran while this command was in flight
    correct: bool  # the reply contains the workload's expected phrase


async def measure_sequential(
    world: BenchWorld,
    workloads: Sequence[Workload],
    channels: Channels,
    gc_pauses: GcPauses,
    *,
    warmup: int,
    commands: int,
) -> dict[str, list[Sample]]:
    """Warm up, then `commands` measured rounds; each round runs every workload once."""
    for round_no in range(warmup):
        for workload in workloads:
            reply = await first_reply(world, channels.next(), workload.text)
            if round_no == 0 and workload.expect not in block_text(reply.post):
                raise RuntimeError(
                    f"{workload.name!r}: unexpected answer (wanted {workload.expect!r}):\n"
                    f"{block_text(reply.post)[:2000]}"
                )
    samples: dict[str, list[Sample]] = {workload.name: [] for workload in workloads}
    for round_no in range(commands):
        # Rotate the order too, so no workload always follows the same neighbour.
        shift = round_no % len(workloads)
        for workload in (*workloads[shift:], *workloads[:shift]):
            full_before = gc_pauses.count[2]
            reply = await first_reply(world, channels.next(), workload.text)
            full_gc = gc_pauses.count[2] > full_before
            correct = workload.expect in block_text(reply.post)
            samples[workload.name].append(Sample(reply.latency, full_gc, correct))
    return samples


async def measure_burst(
    world: BenchWorld, text: str, channels: Channels, size: int
) -> tuple[list[Reply], float]:
    """`size` commands mentioned at once (each in its own channel); (replies, wall seconds)."""
    targets = [channels.next() for _ in range(size)]
    replies = await asyncio.gather(*(first_reply(world, channel, text, timeout=60.0) for channel in targets))
    wall = max(r.answered for r in replies) - min(r.started for r in replies)
    return list(replies), wall


@dataclass(frozen=True)
class Breakdown:
    payload_bytes: int
    parts: dict[str, float]  # median ms of each piece, collector off (see PARTS)
    handler_gc_mean_ms: float  # the whole handler with the collector on, as in production (mean)
    handler_gc_full: int  # full collections during those runs


# The pieces of one `pods -A`, in the order they are timed and printed.
RAW_LIST = "fake API server list, 1 unpaginated raw call"
RAW_PAGED = "fake API server list, limit=500 pages (as opsbot)"
DECODE = "json.loads of the unpaginated payload"
KUBE_LIST = "opsbot KubeClient.list_pods(None)"
ROWS = "`pods` handler on pre-decoded pods"
HANDLER = "`pods` handler total"
RENDER = "render(Reply) → Block Kit"


class _PreloadedPods(KubeClient):
    """opsbot's KubeClient, but list_pods answers from memory: the handler's own cost alone."""

    def __init__(self, cluster: str, api_client: k8s.ApiClient, pods: list[KubeObject]) -> None:
        super().__init__(cluster, api_client, timeout=10.0)
        self._pods = pods

    def list_pods(
        self, namespace: str | None, *, selector: str | None = None, field_selector: str | None = None
    ) -> list[KubeObject]:
        return self._pods


def measure_breakdown(world: BenchWorld, bot: Bot, repeats: int) -> Breakdown:
    """Where a `pods -A` goes, piece by piece, with the bot idle (blocking: run in a thread).

    The pieces are timed in interleaved rounds (so machine noise hits them alike)
    with the garbage collector off, so that a full collection landing in one piece
    does not blur the split; the whole handler is then run again with it on (mean,
    not median: the collector's cost comes in rare, long pauses).
    """
    api_client = world.kube.api_client()
    gc.collect()
    gc.disable()
    try:
        core = k8s.CoreV1Api(api_client)
        # Typed loosely: with _preload_content=False it returns a urllib3 response, not a V1PodList.
        list_all: Callable[..., Any] = core.list_pod_for_all_namespaces

        def raw_list(limit: int | None = None, token: str | None = None) -> bytes:
            response = list_all(_preload_content=False, limit=limit, _continue=token)
            try:
                data: bytes = response.data
            finally:
                response.release_conn()
            return data

        def raw_paged() -> None:
            token: str | None = None
            while True:
                page = raw_list(500, token)
                # The token sits in the list's metadata, at the head: no need to decode the page.
                found = _CONTINUE.search(page, 0, 4096)
                if found is None:
                    return
                token = found.group(1).decode()

        payload = raw_list()
        kube = bot.clusters.get(bot.settings.primary_cluster)
        preloaded = _PreloadedPods(kube.cluster, api_client, json.loads(payload)["items"])
        invocation = bot.router.registry.parse("pods -A")
        request = ChatRequest(uuid.uuid4().hex[:12], "U0BENCH01", "C0BENCH0000", "pods -A", "mention")

        def handler(port: KubePort) -> CommandReply:
            ctx = CommandContext(
                request=request,
                cluster=bot.settings.primary_cluster,
                namespace=None,
                default_namespace=bot.settings.default_namespace,
                kube=port,
                settings=bot.settings.commands,
                now=datetime.now(UTC),
                registry=bot.router.registry,
            )
            result = invocation.spec.handler(invocation, ctx)
            if not isinstance(result, CommandReply):
                raise TypeError(f"pods -A planned an action: {result!r}")
            return result

        reply = handler(kube)
        pieces: dict[str, Callable[[], object]] = {
            RAW_LIST: raw_list,
            RAW_PAGED: raw_paged,
            DECODE: lambda: json.loads(payload),
            KUBE_LIST: lambda: kube.list_pods(None),
            ROWS: lambda: handler(preloaded),
            HANDLER: lambda: handler(kube),
            RENDER: lambda: render(reply),
        }
        times: dict[str, list[float]] = {name: [] for name in pieces}
        for _ in range(repeats):
            for name, piece in pieces.items():
                started = time.perf_counter()
                piece()
                times[name].append(time.perf_counter() - started)
        gc.enable()
        with GcPauses() as pauses:
            started = time.perf_counter()
            for _ in range(repeats):
                handler(kube)
            handler_gc_mean_ms = (time.perf_counter() - started) / repeats * 1000.0
    finally:
        gc.enable()
        api_client.close()
    return Breakdown(
        payload_bytes=len(payload),
        parts={name: statistics.median(values) * 1000.0 for name, values in times.items()},
        handler_gc_mean_ms=handler_gc_mean_ms,
        handler_gc_full=pauses.count[2],
    )


def _ms(value: float) -> str:
    return f"{value:.1f}"


def _delta(value: float, base: float) -> str:
    return f"{value - base:+.1f}"


@dataclass
class Results:
    options: Options
    workloads: Sequence[Workload]
    samples: dict[str, list[Sample]]
    summaries: dict[str, Summary]
    burst: Summary
    burst_wall: float
    burst_wrong: int
    breakdown: Breakdown
    gc_pauses: GcPauses
    setup_seconds: float
    rss: dict[str, float]
    load: tuple[float, float]


def report(results: Results) -> None:
    options, workloads, summaries, samples = (
        results.options,
        results.workloads,
        results.summaries,
        results.samples,
    )
    burst, burst_wall, gc_pauses, load = results.burst, results.burst_wall, results.gc_pauses, results.load
    base = summaries[workloads[0].name]
    print()
    print(f"opsbot command latency — mention → first reply ({environment_line()})")
    print(
        f"fake API server: {options.pods} pods in {len(NAMESPACES)} namespaces (built in "
        f"{results.setup_seconds:.1f} s); {options.commands} measured + {options.warmup} warm-up commands "
        f"per workload, one in flight, interleaved; {options.channels} channels round-robin; "
        "outbox 1 msg/s per channel, burst 3"
    )
    print("end stamp: taken inside the Slack emulator when it records the chat.postMessage")
    print(
        f"load average (1 min) at start {load[0]:.2f}, at end {load[1]:.2f} "
        "(other busy processes on the machine inflate tails)"
    )
    print()
    header = ("workload", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "Δp50 vs help", "Δp99 vs help")
    rows = [
        (
            s.name,
            str(s.n),
            _ms(s.p50),
            _ms(s.p95),
            _ms(s.p99),
            _ms(s.max),
            "(baseline)" if s is base else _delta(s.p50, base.p50),
            "(baseline)" if s is base else _delta(s.p99, base.p99),
        )
        for s in (summaries[w.name] for w in workloads)
    ]
    rows.append(
        (
            burst.name,
            str(burst.n),
            _ms(burst.p50),
            _ms(burst.p95),
            _ms(burst.p99),
            _ms(burst.max),
            _delta(burst.p50, base.p50),
            _delta(burst.p99, base.p99),
        )
    )
    print(format_table(header, rows))
    print(
        f"burst: {burst.n} commands sent at once, wall time {burst_wall * 1000:.0f} ms "
        f"(first mention → last reply), {burst.n / burst_wall:.1f} commands/s"
        + ("; p99 of so few samples is close to the max" if burst.n < 100 else "")
    )
    wrong = {w.name: sum(1 for x in samples[w.name] if not x.correct) for w in workloads}
    wrong[burst.name] = results.burst_wrong
    if any(wrong.values()):
        print(
            "WARNING: replies without the expected answer (errors or timeouts?): "
            + ", ".join(f"{name} {count}" for name, count in wrong.items() if count)
        )
    else:
        print("every reply carried the expected answer")
    print()
    b = results.breakdown
    pods_all = summaries[workloads[-1].name]
    print(f"pods -A breakdown (median of {BREAKDOWN_REPEATS} interleaved rounds, bot idle, collector off):")
    notes = {
        RAW_LIST: f"{b.payload_bytes / 1024:.0f} KiB of JSON",
        RAW_PAGED: "raw bytes, not decoded",
        KUBE_LIST: "pages + decode",
        ROWS: "sort + format rows, no I/O",
        HANDLER: "list + decode + rows",
    }
    lines = [(name, ms, notes.get(name, "")) for name, ms in b.parts.items()]
    lines += [
        ("help p50: Slack round trip, Bolt, router, outbox", base.p50, "from the table above"),
        ("sum: handler + render + help p50", b.parts[HANDLER] + b.parts[RENDER] + base.p50, ""),
        ("pods -A p50, end to end", pods_all.p50, "from the table above"),
        (
            "`pods` handler mean, collector ON (as in prod)",
            b.handler_gc_mean_ms,
            f"{b.handler_gc_full} full GCs in {BREAKDOWN_REPEATS} runs",
        ),
    ]
    print(format_table(("part", "ms", "note"), [(name, _ms(ms), note) for name, ms, note in lines]))
    print()
    print(f"GC passes during the sequential runs (warm-up included): {gc_pauses.describe()}")
    for workload in workloads:
        hit = [x.seconds for x in samples[workload.name] if x.full_gc]
        clean = [x.seconds for x in samples[workload.name] if not x.full_gc]
        if hit and clean:
            print(
                f"  {workload.name}: {len(hit)} of {len(hit) + len(clean)} commands overlapped a full (gen 2) "
                f"collection: median {statistics.median(hit) * 1000:.1f} ms vs "
                f"{statistics.median(clean) * 1000:.1f} ms without"
            )
    print(
        "peak RSS (bot + Slack emulator + fake API server, one process): "
        + ", ".join(f"{phase} {mib:.0f} MiB" for phase, mib in results.rss.items())
    )
    met = "met" if pods_all.p99 < AIM_P99_MS else "NOT met"
    print(f"pods -A @{options.pods} pods p99 = {pods_all.p99:.1f} ms (aim < {AIM_P99_MS:.0f} ms): {met}")


async def run(options: Options) -> None:
    production_logging()
    per_namespace = options.pods // len(NAMESPACES) + (1 if options.pods % len(NAMESPACES) else 0)
    workloads = (
        Workload("help", "help", "opsbot commands"),
        Workload(f"pods -n {NAMESPACES[0]}", f"pods -n {NAMESPACES[0]}", f"*{per_namespace}* pods"),
        Workload("pods -A", "pods -A", f"*{options.pods}* pods"),
    )
    rss: dict[str, float] = {}
    load_at_start = os.getloadavg()[0]
    async with bench_world() as world:
        setup_seconds = populate(world, options.pods)
        rss["after setup"] = peak_rss_mib()
        channels = Channels(options.channels)
        async with started_bot(world, bench_settings(world.kubeconfig)) as bot:
            rss["bot started"] = peak_rss_mib()
            with GcPauses() as gc_pauses:
                samples = await measure_sequential(
                    world, workloads, channels, gc_pauses, warmup=options.warmup, commands=options.commands
                )
            burst_replies, burst_wall = await measure_burst(world, "pods -A", channels, options.burst)
            await world.slack.settle(timeout=5.0)
            breakdown = await asyncio.to_thread(measure_breakdown, world, bot, BREAKDOWN_REPEATS)
            rss["at end"] = peak_rss_mib()
    report(
        Results(
            options=options,
            workloads=workloads,
            samples=samples,
            summaries={
                name: Summary.of(name, [sample.seconds for sample in values])
                for name, values in samples.items()
            },
            burst=Summary.of(f"pods -A ×{options.burst} at once", [r.latency for r in burst_replies]),
            burst_wall=burst_wall,
            burst_wrong=sum(1 for r in burst_replies if workloads[-1].expect not in block_text(r.post)),
            breakdown=breakdown,
            gc_pauses=gc_pauses,
            setup_seconds=setup_seconds,
            rss=rss,
            load=(load_at_start, os.getloadavg()[0]),
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    asyncio.run(run(options))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
