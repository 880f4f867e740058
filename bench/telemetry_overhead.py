"""What tracing costs a command: mention → first reply with OpenTelemetry off and on.

Run:  python -m bench.telemetry_overhead [--commands N] [--pods N]

The same real bot answers `pods -n web` (--pods pods in that namespace) three times
over, one command in flight at a time, each to its own channel: first with
telemetry off (the baseline, what every install without OTEL_EXPORTER_OTLP_ENDPOINT
runs), then with spans exported over OTLP/HTTP to a loopback receiver (batch
processor, 200 ms schedule delay, so exports happen during the run), then off again
to show drift between runs. Printed: latency percentiles, CPU seconds per command
(process time, so the exporter's thread counts too) and how many spans arrived.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench._common import (
    BenchWorld,
    Summary,
    bench_settings,
    bench_world,
    build_pods,
    environment_line,
    first_reply,
    format_table,
    production_logging,
)
from opsbot.telemetry import Telemetry, from_environ
from tests.support.harness import running_bot
from tests.support.otlp_receiver import OtlpReceiver

NAMESPACE = "web"


@dataclass(frozen=True)
class Run:
    name: str
    latency: Summary
    cpu_ms_per_command: float
    spans: int


async def measure(
    world: BenchWorld, name: str, telemetry: Telemetry, receiver: OtlpReceiver, commands: int, warmup: int
) -> Run:
    channels = itertools.cycle([f"C0TRACE{i:04d}" for i in range(200)])
    spans_before = len(receiver.spans)
    async with running_bot(world.slack, world.kube, bench_settings(world.kubeconfig), telemetry=telemetry):
        for _ in range(warmup):
            await first_reply(world, next(channels), f"pods -n {NAMESPACE}")
        cpu_start = time.process_time()
        latencies = [
            (await first_reply(world, next(channels), f"pods -n {NAMESPACE}")).latency for _ in range(commands)
        ]
        cpu = time.process_time() - cpu_start
        await world.slack.settle(timeout=5.0)
    # Bot.stop flushed the exporter: every span of the run has arrived by now.
    return Run(name, Summary.of(name, latencies), cpu / commands * 1000, len(receiver.spans) - spans_before)


async def run(commands: int, pods: int, warmup: int) -> list[Run]:
    production_logging()
    receiver = OtlpReceiver()
    await receiver.start()
    try:
        async with bench_world() as world:
            world.kube.add_namespace(NAMESPACE)
            world.kube.create_many(build_pods(pods, [NAMESPACE]))
            traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
            return [
                await measure(world, "off (baseline)", Telemetry(), receiver, commands, warmup),
                await measure(world, "OTLP on", from_environ(traced), receiver, commands, warmup),
                await measure(world, "off again", Telemetry(), receiver, commands, warmup),
            ]
    finally:
        await receiver.stop()


def report(runs: Sequence[Run], pods: int) -> None:
    base = runs[0]
    print(f"telemetry overhead: `pods -n {NAMESPACE}` with {pods} pods; {environment_line()}")
    rows = []
    for item in runs:
        summary = item.latency
        rows.append(
            [
                item.name,
                str(summary.n),
                f"{summary.p50:.1f}",
                f"{summary.p95:.1f}",
                f"{summary.p99:.1f}",
                f"{item.cpu_ms_per_command:.2f}",
                f"{item.cpu_ms_per_command - base.cpu_ms_per_command:+.2f}",
                str(item.spans),
            ]
        )
    print(
        format_table(
            ["run", "n", "p50 ms", "p95 ms", "p99 ms", "CPU ms/cmd", "vs baseline", "spans received"], rows
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.telemetry_overhead", description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=300, help="measured commands per run (300)")
    parser.add_argument("--pods", type=int, default=50, help="pods in the namespace (50)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured commands per run (20)")
    options = parser.parse_args(argv)
    report(asyncio.run(run(options.commands, options.pods, options.warmup)), options.pods)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
