"""Alert latency: pod status change at the API server → root chat.postMessage, and the bot's RSS.

Run:  python -m bench.alert_latency [--samples N] [--pods N] [--nodes N] [--skip-rss] [--quick]

World: the fake API server holds `--pods` healthy pods (default 10,000: 500 Deployments of
20 pods over 20 namespaces, pods only, owned by their ReplicaSets) and `--nodes` Ready
nodes (500). The bot watches pods, nodes, deployments, jobs and cronjobs in all namespaces.

1. Peak RSS of the bot ON ITS OWN (the figure the aim is about): `python -m opsbot run`
   as a subprocess, configured like production (alerts on, one default channel, JSON
   logs at level warning, SQLite store in a temp dir) against the Slack emulator and the
   fake API server of this process. Once its watches are open and its CPU has gone
   quiet (the initial 10,500 ADDED events are processed), one pod is crashed to prove the
   process is live and synced (its root post is awaited), then VmHWM (peak) and VmRSS
   (current) are read from /proc/<pid>/status. `--skip-rss` skips this part.

2. Latency, in this process (the real `opsbot.app.Bot` on this event loop). Alerts on,
   enrichment off (`enrichment_log_lines: 0`, so a root is the only post per incident),
   outbox unpaced for this purpose (100 msg/s per channel, burst 50: the config's
   maximum). After the watches have synced (`bot.alerts.events_processed` reached every
   object), one sample at a time: crash one pod of a Deployment not alerted yet (so each
   change opens a NEW incident and posts a root), await that root, next. Start stamp:
   perf_counter() just before `kube.apply_status(...)` (called from a worker thread, as
   a separate API server would not block the bot's loop); end stamp: inside the Slack
   emulator when it records the chat.postMessage (bench._common.TimedPosts). Also
   stamped: when the event reached `AlertService.handle` (watch thread: read, decode,
   cache, bridge, queue), which splits the latency into "to the pipeline" and "pipeline
   → post" (detect, incident, SQLite save, render, outbox, HTTP to the emulator).

Everything in (2) shares one process, GIL and heap with the Slack emulator and the fake
API server (10k pods in memory), so (2)'s tails are an upper bound of the bot's own.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench._common import (
    BenchWorld,
    GcPauses,
    Summary,
    bench_settings,
    bench_world,
    build_nodes,
    deployment_pods,
    environment_line,
    format_table,
    peak_rss_mib,
    production_logging,
    started_bot,
    wait_until,
)
from opsbot.alerts.detectors import watched_resources
from opsbot.alerts.routing import enabled_kinds
from opsbot.alerts.service import AlertService, ClusterEvent
from opsbot.alerts.settings import AlertsSettings
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import block_text
from tests.support.slack_emulator import Post

AIM_P99_MS = 500.0
AIM_RSS_MIB = 150.0
ALERTS = "C0ALERTS01"
RSS_CHANNEL = "C0ALERTSRSS"
# pods, nodes, deployments, jobs, cronjobs (all namespaces): what the default kinds read
WATCHES = len(watched_resources(enabled_kinds(AlertsSettings())))
NAMESPACES = tuple(f"team-{i:02d}" for i in range(20))
ROOT_EVENT_TYPE = "opsbot_incident"
REPO = Path(__file__).resolve().parents[1]
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


@dataclass(frozen=True)
class Options:
    samples: int
    warmup: int
    pods: int
    deployments: int
    nodes: int
    skip_rss: bool


@dataclass(frozen=True)
class Target:
    namespace: str
    deployment: str
    pod: str


@dataclass(frozen=True)
class Sample:
    total: float  # apply_status → root recorded by the emulator
    to_pipeline: float | None  # apply_status → AlertService.handle got the MODIFIED event
    apply: float  # the apply_status call itself (fake API server: patch + fan-out to watchers)
    full_gc: bool
    correct: bool  # the root names the crashed pod's Deployment


@dataclass
class RssResult:
    peak_mib: float
    current_mib: float
    peak_before_probe_mib: float
    connected_s: float
    watches_open_s: float
    quiet_s: float
    probe_s: float
    cpu_s: float
    exit_code: int | None
    problem: str = ""


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.alert_latency", description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="measured status changes (300)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured status changes first (10)")
    parser.add_argument("--pods", type=int, default=10_000, help="pods in the fake API server (10000)")
    parser.add_argument("--deployments", type=int, default=500, help="Deployments the pods belong to (500)")
    parser.add_argument("--nodes", type=int, default=500, help="nodes in the fake API server (500)")
    parser.add_argument("--skip-rss", action="store_true", help="skip the subprocess RSS measurement")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 samples, 5 warm-up")
    args = parser.parse_args(argv)
    samples, warmup = (50, 5) if args.quick else (args.samples, args.warmup)
    if args.deployments < 1 or args.pods < args.deployments or args.nodes < 1:
        parser.error("need --deployments >= 1, --pods >= --deployments, --nodes >= 1")
    if samples < 1 or warmup < 0 or samples + warmup + 1 > args.deployments:
        parser.error("each sample needs its own Deployment: --samples + --warmup + 1 <= --deployments")
    return Options(samples, warmup, args.pods, args.deployments, args.nodes, args.skip_rss)


# ---------------------------------------------------------------------- world


def populate(world: BenchWorld, options: Options) -> tuple[list[Target], float]:
    """Namespaces, nodes, pods; returns one target pod per Deployment and the seconds taken."""
    started = time.perf_counter()
    kube = world.kube
    for namespace in NAMESPACES:
        kube.add_namespace(namespace)
    kube.create_many(build_nodes(options.nodes))
    targets: list[Target] = []
    base, extra = divmod(options.pods, options.deployments)
    made = 0
    for d in range(options.deployments):
        namespace = NAMESPACES[d % len(NAMESPACES)]
        name = f"svc-{d:03d}"
        pods = deployment_pods(
            namespace, name, base + (1 if d < extra else 0), nodes=options.nodes, first_node=made
        )
        made += len(pods)
        kube.create_many(pods)
        targets.append(Target(namespace, name, pods[0]["metadata"]["name"]))
    return targets, time.perf_counter() - started


def crash(world: BenchWorld, target: Target) -> tuple[float, float]:
    """Crash the target pod (blocking: run in a thread); (perf_counter before, seconds the call took)."""
    pod = world.kube.get("pods", target.namespace, target.pod)
    if pod is None:
        raise RuntimeError(f"pod {target.namespace}/{target.pod} is gone")
    status = builders.crashloop_status(pod, restarts=3)
    started = time.perf_counter()
    world.kube.apply_status("pods", target.namespace, target.pod, status)
    return started, time.perf_counter() - started


def recover(world: BenchWorld, target: Target) -> None:
    pod = world.kube.get("pods", target.namespace, target.pod)
    if pod is not None:
        world.kube.apply_status("pods", target.namespace, target.pod, builders.recovered_status(pod))


def is_root(post: Post) -> bool:
    metadata = post.args.get("metadata")
    text = metadata if isinstance(metadata, str) else str(metadata or "")
    return post.method == "chat.postMessage" and post.thread_ts is None and ROOT_EVENT_TYPE in text


# ---------------------------------------------------------------------- 1. RSS of `opsbot run`


def _proc_status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _kib_field(pid: int, name: str) -> float:
    """A `NNN kB` field of /proc/<pid>/status, in MiB."""
    return int(_proc_status(pid)[name].split()[0]) / 1024.0


def _cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


async def measure_subprocess_rss(world: BenchWorld, probe: Target | None, tmp: Path) -> RssResult:
    """Start `python -m opsbot run` against this world, wait until synced and idle, read its RSS."""
    config: dict[str, Any] = {
        "clusters": {"test": {"kubeconfig": str(world.kubeconfig), "context": "fake"}},
        "alerts": {"enabled": True, "default_channel": RSS_CHANNEL},
        "store": {"path": str(tmp / "opsbot-rss.db")},
        "logging": {"level": "warning", "format": "json"},
    }
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES and k != "KUBECONFIG"}
    env.update(
        SLACK_BOT_TOKEN=world.slack.bot_token,
        SLACK_APP_TOKEN=world.slack.app_token,
        SLACK_API_URL=world.slack.base_url,
        PYTHONUNBUFFERED="1",
    )
    stderr_path = tmp / "opsbot-run.stderr"
    expected_hello = world.slack.hello_count + 1
    before_posts = len(world.slack.posts)
    with stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "opsbot", "run", "--config", str(config_path),
            cwd=str(REPO), env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
        pid = process.pid
        result = RssResult(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None)
        try:
            await world.slack.wait_connected(expected_hello, timeout=60.0)
            result.connected_s = time.perf_counter() - started
            if not await wait_until(lambda: world.kube.open_watches >= WATCHES, timeout=120.0):
                result.problem = f"only {world.kube.open_watches} of {WATCHES} watches opened within 120 s"
            result.watches_open_s = time.perf_counter() - started
            # Quiet: less than 2% of a CPU over the last 2 s (the ADDED backlog is processed).
            window: list[float] = [_cpu_seconds(pid)]
            deadline = time.perf_counter() + 90.0
            while time.perf_counter() < deadline:
                await asyncio.sleep(0.5)
                window.append(_cpu_seconds(pid))
                window = window[-5:]
                if len(window) == 5 and window[-1] - window[0] < 0.04:
                    break
            else:
                result.problem = result.problem or "the process never went quiet within 90 s"
            result.quiet_s = time.perf_counter() - started
            result.peak_before_probe_mib = _kib_field(pid, "VmHWM")
            if probe is not None:
                # Liveness probe: one crash must reach Slack from the subprocess.
                probe_started = time.perf_counter()
                await asyncio.to_thread(crash, world, probe)
                try:
                    await world.slack.wait_for_post(
                        lambda p: is_root(p) and f"deployment/{probe.deployment}" in block_text(p),
                        channel=RSS_CHANNEL,
                        after=before_posts,
                        timeout=30.0,
                    )
                    result.probe_s = time.perf_counter() - probe_started
                except AssertionError:
                    result.problem = result.problem or "the probe crash never reached Slack within 30 s"
                await asyncio.sleep(1.0)  # the enrichment reply that follows the root
            result.peak_mib = _kib_field(pid, "VmHWM")
            result.current_mib = _kib_field(pid, "VmRSS")
            result.cpu_s = _cpu_seconds(pid)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), timeout=30.0)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            result.exit_code = process.returncode
    if probe is not None:
        await asyncio.to_thread(recover, world, probe)
    await world.slack.settle(timeout=5.0)
    await wait_until(lambda: world.kube.open_watches == 0, timeout=10.0)
    if result.problem or result.exit_code not in (0, None):
        tail = stderr_path.read_text(errors="replace").strip().splitlines()[-15:]
        result.problem = (result.problem or f"exit code {result.exit_code}") + (
            "\n    stderr: " + "\n    ".join(tail) if tail else ""
        )
    return result


# ---------------------------------------------------------------------- 2. latency in process


class HandleStamps:
    """Wraps one AlertService's pipeline `handle` to stamp when each pod's MODIFIED event reached it."""

    def __init__(self, alerts: AlertService) -> None:
        self.modified: dict[str, float] = {}
        original = alerts.pipeline.handle

        async def handle(event: ClusterEvent) -> None:
            if event.resource == "pods" and event.type == "MODIFIED" and event.obj is not None:
                name = str((event.obj.get("metadata") or {}).get("name", ""))
                self.modified.setdefault(name, time.perf_counter())
            await original(event)

        # An instance attribute shadows the method: consume() calls self.handle(event).
        alerts.pipeline.handle = handle  # type: ignore[method-assign]


async def one_sample(world: BenchWorld, target: Target, stamps: HandleStamps, gc_pauses: GcPauses) -> Sample:
    before = len(world.slack.posts)
    full_before = gc_pauses.count[2]
    started, apply = await asyncio.to_thread(crash, world, target)
    post = await world.slack.wait_for_post(
        is_root, channel=ALERTS, method="chat.postMessage", after=before, timeout=30.0
    )
    reached = stamps.modified.get(target.pod)
    return Sample(
        total=world.posts.recorded_at(post) - started,
        to_pipeline=None if reached is None else reached - started,
        apply=apply,
        full_gc=gc_pauses.count[2] > full_before,
        correct=f"deployment/{target.deployment}" in block_text(post),
    )


@dataclass
class Latency:
    samples: list[Sample]
    sync_s: float
    synced_events: int
    expected_events: int
    gc_pauses: GcPauses
    open_incidents: int
    root_posts: int


async def measure_latency(world: BenchWorld, targets: list[Target], options: Options) -> Latency:
    settings = bench_settings(
        world.kubeconfig,
        outbox={"per_channel_per_second": 100.0, "burst": 50},
        alerts={"enabled": True, "default_channel": ALERTS, "enrichment_log_lines": 0},
    )
    expected = options.pods + options.nodes + WATCHES  # every ADDED plus one SYNCED per watch
    started = time.perf_counter()
    async with started_bot(world, settings) as bot:
        alerts = bot.alerts
        if alerts is None:
            raise RuntimeError("alerts are not enabled")
        if not await wait_until(lambda: alerts.events_processed >= expected, timeout=120.0):
            raise RuntimeError(f"not synced: {alerts.events_processed} of {expected} events in 120 s")
        sync_s = time.perf_counter() - started
        synced_events = alerts.events_processed
        stamps = HandleStamps(alerts)
        for target in targets[options.samples : options.samples + options.warmup]:
            await one_sample(world, target, stamps, GcPauses())
        samples: list[Sample] = []
        with GcPauses() as gc_pauses:
            for target in targets[: options.samples]:
                samples.append(await one_sample(world, target, stamps, gc_pauses))
        open_incidents = len(alerts.open_incidents_here())
        root_posts = sum(1 for p in world.slack.posts if p.channel == ALERTS and is_root(p))
    return Latency(samples, sync_s, synced_events, expected, gc_pauses, open_incidents, root_posts)


# ---------------------------------------------------------------------- report


def _ms(value: float) -> str:
    return f"{value:.1f}"


def report(
    options: Options,
    setup_s: float,
    rss: RssResult | None,
    baseline: RssResult | None,
    latency: Latency,
    load: tuple[float, float],
) -> None:
    samples = latency.samples
    total = Summary.of("status change → root post (end to end)", [s.total for s in samples])
    parts = [
        total,
        Summary.of("  apply_status call (fake API server)", [s.apply for s in samples]),
    ]
    reached = [s for s in samples if s.to_pipeline is not None]
    if reached:
        parts.append(Summary.of("  → event in AlertService.handle", [s.to_pipeline or 0.0 for s in reached]))
        parts.append(
            Summary.of("  handle → root recorded", [s.total - (s.to_pipeline or 0.0) for s in reached])
        )
    print()
    print(f"opsbot alert latency — pod status change → root chat.postMessage ({environment_line()})")
    print(
        f"fake API server: {options.pods} pods ({options.deployments} Deployments, {len(NAMESPACES)} namespaces) "
        f"+ {options.nodes} nodes, built in {setup_s:.1f} s; load average (1 min) at start {load[0]:.2f}, "
        f"at end {load[1]:.2f}"
    )
    print()
    if rss is None:
        print("1. bot RSS as its own process: skipped (--skip-rss)")
    else:
        print(
            "1. `python -m opsbot run` as its own process, watching everything above (alerts on, logs: warning)"
        )
        print(
            f"   connected to Slack after {rss.connected_s:.1f} s, {WATCHES} watches open after {rss.watches_open_s:.1f} s, "
            f"CPU quiet after {rss.quiet_s:.1f} s; probe crash → root in {rss.probe_s * 1000:.0f} ms; "
            f"CPU used {rss.cpu_s:.1f} s; exit code after SIGTERM {rss.exit_code}"
        )
        print(
            f"   peak RSS (VmHWM) {rss.peak_mib:.1f} MiB (synced, before the probe: {rss.peak_before_probe_mib:.1f} MiB); "
            f"current RSS (VmRSS) {rss.current_mib:.1f} MiB"
        )
        if rss.problem:
            print(f"   WARNING: {rss.problem}")
        if baseline is not None:
            print(
                f"   baseline, the same bot watching an EMPTY cluster: peak {baseline.peak_mib:.1f} MiB, "
                f"current {baseline.current_mib:.1f} MiB (CPU quiet after {baseline.quiet_s:.1f} s, "
                f"{baseline.cpu_s:.1f} s CPU) → the {options.pods} pods + {options.nodes} nodes add "
                f"{rss.peak_mib - baseline.peak_mib:.1f} MiB"
                + (f"\n   WARNING (baseline): {baseline.problem}" if baseline.problem else "")
            )
        met = "met" if rss.peak_mib < AIM_RSS_MIB and not rss.problem else "NOT met"
        print(f"   peak RSS = {rss.peak_mib:.1f} MiB (aim < {AIM_RSS_MIB:.0f} MiB): {met}")
    print()
    print(
        f"2. latency, bot in this process: synced ({latency.synced_events} of {latency.expected_events} events) "
        f"{latency.sync_s:.1f} s after start; {len(samples)} measured + {options.warmup} warm-up changes, "
        "one at a time, each a new incident; outbox 100 msg/s, burst 50; enrichment off"
    )
    print("   end stamp: taken inside the Slack emulator when it records the chat.postMessage")
    print()
    header = ("part", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms")
    rows = [(s.name, str(s.n), _ms(s.p50), _ms(s.p95), _ms(s.p99), _ms(s.max), _ms(s.mean)) for s in parts]
    print(format_table(header, rows))
    wrong = sum(1 for s in samples if not s.correct)
    print(
        f"roots in the alert channel: {latency.root_posts} (expected {options.samples + options.warmup}); "
        f"open incidents: {latency.open_incidents}; roots naming another Deployment: {wrong}"
    )
    if len(reached) < len(samples):
        print(f"WARNING: {len(samples) - len(reached)} changes never reached AlertService.handle as MODIFIED")
    print(f"GC passes during the measured changes: {latency.gc_pauses.describe()}")
    hit = [s.total for s in samples if s.full_gc]
    if hit:
        print(f"  {len(hit)} changes overlapped a full (gen 2) collection: max {max(hit) * 1000:.1f} ms")
    print(f"peak RSS of THIS process (bot + Slack emulator + fake API server): {peak_rss_mib():.0f} MiB")
    met = "met" if total.p99 < AIM_P99_MS and wrong == 0 else "NOT met"
    print(
        f"alert latency @{options.pods} pods + {options.nodes} nodes: p50 = {total.p50:.1f} ms, "
        f"p99 = {total.p99:.1f} ms (aim p99 < {AIM_P99_MS:.0f} ms, unpaced): {met}"
    )


async def run(options: Options) -> None:
    production_logging()
    load_at_start = os.getloadavg()[0]
    async with bench_world() as world:
        targets, setup_s = populate(world, options)
        rss: RssResult | None = None
        baseline: RssResult | None = None
        if not options.skip_rss:
            with tempfile.TemporaryDirectory(prefix="opsbot-rss-") as tmp:
                rss = await measure_subprocess_rss(world, targets[-1], Path(tmp))
                # Baseline: the same bot watching an empty cluster (what the objects add is the difference).
                with FakeKubeServer(bookmark_interval=5.0) as empty:
                    kubeconfig = empty.write_kubeconfig(Path(tmp) / "empty" / "kubeconfig", context="fake")
                    empty_world = BenchWorld(world.slack, world.posts, empty, kubeconfig)
                    baseline = await measure_subprocess_rss(empty_world, None, Path(tmp) / "empty")
        latency = await measure_latency(world, targets, options)
    report(options, setup_s, rss, baseline, latency, (load_at_start, os.getloadavg()[0]))


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(run(parse_options(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
