"""Alert storm: 1,000 pods crash within 10 s → what reaches Slack in the first minute, and what is lost.

Run:  python -m bench.alert_storm [--seconds S] [--spread S] [--deployments N] [--replicas N] [--quick]

World: the fake API server holds `--deployments` × `--replicas` healthy pods (default
40 Deployments × 25 = 1,000 pods over 4 namespaces, pods only, owned by their
ReplicaSets; each pod has a previous-run log for the enrichment reply) and 20 nodes.

The bot is the real `opsbot.app.Bot` on this event loop with product defaults where it
matters: outbox 1 msg/s per channel, burst 3; alerts at their defaults (enrichment on with
20 log lines, digest_threshold 5, resolve after 5 min), every alert to one default
channel. The Slack emulator enforces 1 chat.postMessage/s per channel (burst 3) and
answers 429 + Retry-After over it, as Slack does.

Once the watches have synced, every pod is crashed (CrashLoopBackOff, restartCount 3)
in a seeded random order, evenly spread over `--spread` seconds (10), from a worker
thread. The window is `--seconds` (60) from the first crash. Counted in the window,
from the emulator's own records: chat.postMessage split into incident roots (message
metadata), thread replies and digests ("N new incidents" messages, "1 new incident"), chat.update, the
429s the emulator answered and the retries the bot made after them
(`bot.outbox.rate_limited`).

Incidents at the end of the window: expected = one per Deployment; accounted = the
bot's open incidents that have a root_ts or a digest_ts and whose affected pods cover
all of the Deployment's pods; lost = expected − accounted. Also checked against what
Slack shows: the Deployment named in the current version of its root or a digest.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench._common import (
    BenchWorld,
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
from opsbot.alerts.incidents import Incident
from opsbot.alerts.routing import enabled_kinds
from opsbot.alerts.service import AlertService, ClusterEvent
from opsbot.alerts.settings import AlertsSettings
from opsbot.app import Bot
from tests.support.fake_kube import builders
from tests.support.harness import block_text
from tests.support.slack_emulator import Post

AIM_MESSAGES = 25
ALERTS = "C0ALERTS01"
NAMESPACES = ("shop", "payments", "search", "ingest")
NODES = 20
WATCHES = len(watched_resources(enabled_kinds(AlertsSettings())))  # one SYNCED each
ROOT_EVENT_TYPE = "opsbot_incident"
SEED = 20240601


@dataclass(frozen=True)
class Options:
    seconds: float
    spread: float
    deployments: int
    replicas: int


@dataclass(frozen=True)
class Crashed:
    namespace: str
    deployment: str
    pod: str


@dataclass
class Storm:
    """What the crashing thread did (perf_counter stamps)."""

    first: float = 0.0
    last: float = 0.0
    applied: int = 0
    behind_max: float = 0.0  # how late the latest crash was against its slot
    started: threading.Event = field(default_factory=threading.Event)


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.alert_storm", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="window from the first crash (60)")
    parser.add_argument("--spread", type=float, default=10.0, help="seconds the crashes are spread over (10)")
    parser.add_argument("--deployments", type=int, default=40, help="Deployments (40)")
    parser.add_argument("--replicas", type=int, default=25, help="pods per Deployment (25)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 s window, crashes over 5 s")
    args = parser.parse_args(argv)
    seconds, spread = (20.0, 5.0) if args.quick else (args.seconds, args.spread)
    if seconds <= 0 or spread < 0 or spread >= seconds or args.deployments < 1 or args.replicas < 1:
        parser.error("need 0 <= --spread < --seconds, --deployments >= 1, --replicas >= 1")
    return Options(seconds, spread, args.deployments, args.replicas)


# ---------------------------------------------------------------------- world


def populate(world: BenchWorld, options: Options) -> tuple[dict[str, list[Crashed]], float]:
    """Namespaces, nodes, pods with previous-run logs; returns {deployment: its pods}, seconds taken."""
    started = time.perf_counter()
    kube = world.kube
    for namespace in NAMESPACES:
        kube.add_namespace(namespace)
    kube.create_many(build_nodes(NODES))
    by_deployment: dict[str, list[Crashed]] = {}
    for d in range(options.deployments):
        namespace = NAMESPACES[d % len(NAMESPACES)]
        name = f"svc-{d:02d}"
        pods = deployment_pods(namespace, name, options.replicas, nodes=NODES, first_node=d)
        kube.create_many(pods)
        members = [Crashed(namespace, name, pod["metadata"]["name"]) for pod in pods]
        by_deployment[name] = members
        for member in members:
            kube.set_log(
                namespace,
                member.pod,
                [
                    "starting server on :8080",
                    "loading config from /etc/app/config.yaml",
                    f"panic: {name}: connection refused (db.{namespace}.svc:5432)",
                ],
                previous=True,
            )
    return by_deployment, time.perf_counter() - started


def crash_all(world: BenchWorld, order: list[Crashed], spread: float, storm: Storm) -> None:
    """Crash every pod in `order`, evenly spread over `spread` seconds (blocking: run in a thread)."""
    step = spread / max(1, len(order) - 1) if len(order) > 1 else 0.0
    start = time.perf_counter()
    storm.first = start
    storm.started.set()
    for i, target in enumerate(order):
        slot = start + i * step
        delay = slot - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            storm.behind_max = max(storm.behind_max, -delay)
        pod = world.kube.get("pods", target.namespace, target.pod)
        if pod is None:
            continue
        world.kube.apply_status(
            "pods", target.namespace, target.pod, builders.crashloop_status(pod, restarts=3)
        )
        storm.applied += 1
    storm.last = time.perf_counter()


# ---------------------------------------------------------------------- counting


def is_root(post: Post) -> bool:
    metadata = post.args.get("metadata")
    text = metadata if isinstance(metadata, str) else str(metadata or "")
    return post.method == "chat.postMessage" and post.thread_ts is None and ROOT_EVENT_TYPE in text


def is_digest(post: Post) -> bool:
    return (
        post.method == "chat.postMessage"
        and post.thread_ts is None
        and not is_root(post)
        and " new incident" in post.text
    )


class EventStamps:
    """Wraps the alert pipeline's handle: when the last pod MODIFIED event of the storm was processed."""

    def __init__(self, alerts: AlertService) -> None:
        self.modified = 0
        self.last = 0.0
        original = alerts.pipeline.handle

        async def handle(event: ClusterEvent) -> None:
            await original(event)
            if event.resource == "pods" and event.type == "MODIFIED":
                self.modified += 1
                self.last = time.perf_counter()

        alerts.pipeline.handle = handle  # type: ignore[method-assign]


@dataclass
class Figures:
    roots: int
    replies: int
    digests: int
    other_posts: int
    updates: int
    first_post_s: float | None
    last_post_s: float | None
    emulator_429: int
    bot_retries: int
    outbox_backlog: int
    expected: int
    accounted: int
    visible: int
    via_root: int
    via_digest: int
    pending_digest: int
    incomplete: list[str]
    missing: list[str]
    not_visible: list[str]
    events_handled: int
    events_done_s: float | None
    incidents_total: int

    @property
    def posts(self) -> int:
        return self.roots + self.replies + self.digests + self.other_posts

    @property
    def lost(self) -> int:
        return self.expected - self.accounted


def count(
    world: BenchWorld,
    bot: Bot,
    alerts: AlertService,
    by_deployment: dict[str, list[Crashed]],
    window: tuple[float, float],
    stamps: EventStamps,
) -> Figures:
    start, end = window
    posts = [
        p for p in world.slack.posts if p.channel == ALERTS and start <= world.posts.recorded_at(p) <= end
    ]
    messages = [p for p in posts if p.method == "chat.postMessage"]
    roots = [p for p in messages if is_root(p)]
    digests = [p for p in messages if is_digest(p)]
    replies = [p for p in messages if p.thread_ts is not None]
    stamps_of = sorted(world.posts.recorded_at(p) - start for p in messages)
    # What Slack shows now: the current text of every root and digest in the channel.
    shown = "\n".join(
        block_text(
            Post("", ALERTS, m.get("ts", ""), str(m.get("text", "")), m.get("blocks") or [], None, None, {})
        )
        for m in world.slack.messages(ALERTS)
        if not m.get("thread_ts") or m.get("thread_ts") == m.get("ts")
    )
    incidents: dict[str, Incident] = {}
    for open_incident in alerts.open_incidents_here():
        workload = open_incident.workload
        if workload.kind == "Deployment" and workload.name in by_deployment:
            incidents[workload.name] = open_incident
    accounted = visible = via_root = via_digest = pending = 0
    incomplete: list[str] = []
    missing: list[str] = []
    not_visible: list[str] = []
    for name, members in by_deployment.items():
        incident = incidents.get(name)
        if incident is None:
            missing.append(name)
            continue
        posted = bool(incident.root) or incident.digest not in (None, "", "pending")
        pending += incident.digest == "pending"
        covered = {member.pod for member in members} <= {a.name for a in incident.affected}
        if posted and covered:
            accounted += 1
            via_root += bool(incident.root)
            via_digest += not incident.root
        elif not covered:
            incomplete.append(f"{name} ({len(incident.affected)}/{len(members)} pods)")
        if f"deployment/{name}" in shown:
            visible += 1
        else:
            not_visible.append(name)
    return Figures(
        roots=len(roots),
        replies=len(replies),
        digests=len(digests),
        other_posts=len(messages) - len(roots) - len(replies) - len(digests),
        updates=sum(1 for p in posts if p.method == "chat.update"),
        first_post_s=stamps_of[0] if stamps_of else None,
        last_post_s=stamps_of[-1] if stamps_of else None,
        emulator_429=world.slack.rate_limited,
        bot_retries=bot.outbox.rate_limited,
        outbox_backlog=bot.outbox.pending(ALERTS),
        expected=len(by_deployment),
        accounted=accounted,
        visible=visible,
        via_root=via_root,
        via_digest=via_digest,
        pending_digest=pending,
        incomplete=incomplete,
        missing=missing,
        not_visible=not_visible,
        events_handled=stamps.modified,
        events_done_s=stamps.last - start if stamps.last else None,
        incidents_total=len(alerts.open_incidents_here()),
    )


# ---------------------------------------------------------------------- run + report


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def report(options: Options, setup_s: float, sync_s: float, storm: Storm, f: Figures, pods: int) -> None:
    window = f"first {options.seconds:.0f} s"
    print()
    print(f"opsbot alert storm — {pods} pods crash within {options.spread:.0f} s ({environment_line()})")
    print(
        f"fake API server: {options.deployments} Deployments × {options.replicas} pods in {len(NAMESPACES)} "
        f"namespaces + {NODES} nodes, built in {setup_s:.1f} s; bot synced {sync_s:.1f} s after start"
    )
    print(
        "outbox 1 msg/s per channel, burst 3 (product default); emulator enforces 1 chat.postMessage/s per "
        "channel, burst 3; alerts at defaults (enrichment on, digest_threshold 5), one channel"
    )
    print(
        f"storm: {storm.applied} crashes applied in {storm.last - storm.first:.1f} s "
        f"(at most {storm.behind_max * 1000:.0f} ms behind schedule); the bot processed "
        f"{f.events_handled} pod MODIFIED events, the last {_s(f.events_done_s)} after the first crash"
    )
    print()
    rows = [
        ("chat.postMessage, incident roots", str(f.roots)),
        ("chat.postMessage, digests", str(f.digests)),
        ("chat.postMessage, thread replies", str(f.replies)),
        ("chat.postMessage, other top-level", str(f.other_posts)),
        ("chat.postMessage, total", str(f.posts)),
        ("chat.update (roots and digests edited in place)", str(f.updates)),
        (
            "first / last chat.postMessage after the first crash",
            f"{_s(f.first_post_s)} / {_s(f.last_post_s)}",
        ),
        ("429s answered by the emulator", str(f.emulator_429)),
        ("429 retries by the bot (outbox.rate_limited)", str(f.bot_retries)),
        ("messages still queued in the outbox at the end", str(f.outbox_backlog)),
    ]
    print(format_table((f"in the {window} (alert channel)", "count"), rows))
    print()
    rows = [
        ("expected (one per Deployment)", str(f.expected)),
        ("accounted: root or digest, all pods in it", str(f.accounted)),
        ("  of which with their own root", str(f.via_root)),
        ("  of which in a digest only", str(f.via_digest)),
        ("digest_ts 'pending' (digest post failed)", str(f.pending_digest)),
        ("named in a root or digest Slack shows now", str(f.visible)),
        ("open incidents in the bot, all", str(f.incidents_total)),
        ("lost", str(f.lost)),
    ]
    print(format_table((f"incidents at the end of the {window}", "count"), rows))
    if f.missing:
        print(f"  no incident at all: {', '.join(f.missing)}")
    if f.incomplete:
        print(f"  incidents missing pods: {', '.join(f.incomplete)}")
    if f.not_visible:
        print(f"  not named in any root or digest in Slack: {', '.join(f.not_visible)}")
    print(f"peak RSS of this process (bot + Slack emulator + fake API server): {peak_rss_mib():.0f} MiB")
    met = "met" if f.posts <= AIM_MESSAGES else "NOT met"
    print(f"messages posted in the {window}: {f.posts} (aim <= {AIM_MESSAGES}): {met}")
    met = "met" if f.lost == 0 else "NOT met"
    print(f"incidents lost: {f.lost} of {f.expected} (must be 0): {met}")


async def run(options: Options) -> None:
    production_logging()
    async with bench_world() as world:
        by_deployment, setup_s = populate(world, options)
        pods = sum(len(members) for members in by_deployment.values())
        world.slack.enforce_rate_limit("chat.postMessage", per_second=1.0, burst=3)
        settings = bench_settings(world.kubeconfig, alerts={"enabled": True, "default_channel": ALERTS})
        started = time.perf_counter()
        async with started_bot(world, settings) as bot:
            alerts = bot.alerts
            if alerts is None:
                raise RuntimeError("alerts are not enabled")
            expected = pods + NODES + WATCHES
            if not await wait_until(lambda: alerts.events_processed >= expected, timeout=60.0):
                raise RuntimeError(f"not synced: {alerts.events_processed} of {expected} events in 60 s")
            sync_s = time.perf_counter() - started
            stamps = EventStamps(alerts)
            order = [member for members in by_deployment.values() for member in members]
            random.Random(SEED).shuffle(order)
            storm = Storm()
            crashing = asyncio.create_task(asyncio.to_thread(crash_all, world, order, options.spread, storm))
            await asyncio.to_thread(storm.started.wait)
            await asyncio.sleep(max(0.0, storm.first + options.seconds - time.perf_counter()))
            await crashing
            figures = count(
                world, bot, alerts, by_deployment, (storm.first, storm.first + options.seconds), stamps
            )
    report(options, setup_s, sync_s, storm, figures, pods)


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(run(parse_options(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
