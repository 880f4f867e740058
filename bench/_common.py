"""Shared pieces for opsbot's benchmarks: the in-process world, timing and reporting.

A benchmark runs the real, unmodified bot against the Slack emulator (on the
benchmark's event loop) and the fake API server (its own threads), all in ONE
process: resource figures such as peak RSS cover all three, and they compete for
the same GIL. Figures are printed, never asserted; each benchmark compares its
workloads against a baseline measured in the same run.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsbot import logs
from opsbot.app import Bot
from opsbot.config import Settings
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import make_settings, running_bot
from tests.support.slack_emulator import Post, SlackEmulator

__all__ = [
    "USER",
    "BenchWorld",
    "GcPauses",
    "Reply",
    "Summary",
    "TimedPosts",
    "bench_settings",
    "bench_world",
    "build_nodes",
    "build_pods",
    "deployment_pods",
    "environment_line",
    "first_reply",
    "format_table",
    "install_timed_posts",
    "peak_rss_mib",
    "percentile",
    "production_logging",
    "started_bot",
    "wait_until",
]

USER = "U0BENCH01"

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


# ---------------------------------------------------------------------- timing


class TimedPosts(list[Post]):
    """The emulator's `posts` list, stamping `time.perf_counter()` as each post is recorded.

    Why: `Post` carries no timestamp. The emulator appends to `posts` inside its
    chat.postMessage handler, before it answers the bot, so this stamp is the
    moment "Slack" received the message, free of the waiter's wake-up latency.
    """

    def __init__(self) -> None:
        super().__init__()
        self._stamps: dict[int, float] = {}

    def append(self, post: Post) -> None:
        self._stamps[id(post)] = time.perf_counter()
        super().append(post)

    def recorded_at(self, post: Post) -> float:
        """perf_counter() when `post` was recorded (KeyError for posts not appended here)."""
        return self._stamps[id(post)]


def install_timed_posts(slack: SlackEmulator) -> TimedPosts:
    """Swap a fresh emulator's post list for a TimedPosts (call before any traffic)."""
    if slack.posts:
        raise RuntimeError("install_timed_posts must run before the emulator records posts")
    timed = TimedPosts()
    slack.posts = timed
    return timed


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Latency percentiles of one workload, in milliseconds."""

    name: str
    n: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, name: str, seconds: Sequence[float]) -> Summary:
        ms = [s * 1000.0 for s in seconds]
        return cls(
            name=name,
            n=len(ms),
            p50=percentile(ms, 50),
            p95=percentile(ms, 95),
            p99=percentile(ms, 99),
            max=max(ms),
            mean=sum(ms) / len(ms),
        )


class GcPauses:
    """Counts and times the collector's stop-the-world passes (gc.callbacks), per generation.

    Why: bot, emulator and fake API server share one heap here, so a full (gen 2)
    collection walks all of it; knowing how often that ran explains latency tails.
    """

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.total = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        took = time.perf_counter() - self._started
        self.count[generation] += 1
        self.total[generation] += took
        self.longest[generation] = max(self.longest[generation], took)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def describe(self) -> str:
        return "; ".join(
            f"gen{g}: {self.count[g]}× total {self.total[g] * 1000:.0f} ms, longest {self.longest[g] * 1000:.1f} ms"
            for g in range(3)
        )


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def format_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    all_rows = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(all_rows[0]), rule, *(line(row) for row in all_rows[1:])])


def environment_line() -> str:
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )


# ---------------------------------------------------------------------- world


def production_logging() -> None:
    """Configure logging exactly as `opsbot run` does (JSON lines, level info), into /dev/null.

    The bot logs one line per command; rendering it is part of the real cost, but
    printing it would bury the figures. Call before the bot starts.
    """
    logs.configure("json", "info")
    handler = logging.getLogger().handlers[0]
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


def _suffix(length: int, *parts: object) -> str:
    """A generated-name suffix in Kubernetes' alphabet, stable for `parts`."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()
    return builders.safe_encode(digest, length)


def build_pods(count: int, namespaces: Sequence[str], *, nodes: int = 10) -> list[dict[str, Any]]:
    """`count` pods spread evenly over `namespaces`, shaped like Deployment pods.

    Mix: ~3% CrashLoopBackOff (kubelet-style status from builders.crashloop_status),
    ~2% Pending (ContainerCreating), ~1% Running but not ready, the rest Running and
    ready; a third of the pods carry a sidecar container; ages vary over 30 days.
    The mix is deterministic so runs are comparable.
    """
    now = time.time()
    pods: list[dict[str, Any]] = []
    for i in range(count):
        namespace = namespaces[i % len(namespaces)]
        app = f"svc-{(i // len(namespaces)) % 12:02d}"
        replicaset = f"{app}-{_suffix(10, namespace, app)}"
        name = f"{replicaset}-{_suffix(5, namespace, i)}"
        containers: tuple[str, ...] = ("app", "envoy") if i % 3 == 0 else ("app",)
        bucket = i % 100
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - (i * 2593) % (30 * 86400) - 60))
        pod = builders.pod(
            name,
            namespace,
            phase="Pending" if bucket in (17, 61) else "Running",
            containers=containers,
            node=f"node-{i % nodes + 1:02d}",
            labels={"app": app, builders.TEMPLATE_HASH_LABEL: replicaset.rsplit("-", 1)[1]},
            owner={"kind": "ReplicaSet", "name": replicaset},
            ready=bucket != 43,
            restarts=(i * 7) % 3 if bucket % 9 == 0 else 0,
            created=created,
            image=f"registry.example.com/{namespace}/{app}:1.{i % 7}.0",
        )
        if bucket in (5, 38, 77):
            pod["status"].update(builders.crashloop_status(pod, restarts=3 + i % 20))
        pods.append(pod)
    return pods


def deployment_pods(
    namespace: str, deployment: str, replicas: int, *, nodes: int = 10, first_node: int = 0
) -> list[dict[str, Any]]:
    """`replicas` healthy, Running, ready pods of one Deployment (owned by its ReplicaSet).

    Only the pods are built (no Deployment or ReplicaSet object): opsbot tells a
    pod's Deployment from the ReplicaSet owner reference plus the pod-template-hash
    label, as for real ones. Nothing is crashing, so a freshly started bot opens no
    incident; a benchmark breaks pods later with builders.crashloop_status.
    """
    now = time.time()
    template_hash = _suffix(10, namespace, deployment)
    replicaset = f"{deployment}-{template_hash}"
    pods: list[dict[str, Any]] = []
    for i in range(replicas):
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - (i * 2593) % (30 * 86400) - 60))
        pods.append(
            builders.pod(
                f"{replicaset}-{_suffix(5, namespace, deployment, i)}",
                namespace,
                containers=("app", "envoy") if i % 3 == 0 else ("app",),
                node=f"node-{(first_node + i) % nodes + 1:03d}",
                labels={"app": deployment, builders.TEMPLATE_HASH_LABEL: template_hash},
                owner={"kind": "ReplicaSet", "name": replicaset},
                created=created,
                image=f"registry.example.com/{namespace}/{deployment}:1.{i % 7}.0",
            )
        )
    return pods


def build_nodes(count: int) -> list[dict[str, Any]]:
    """`count` Ready worker nodes named node-001, node-002, ... (deployment_pods' node names)."""
    return [builders.node(f"node-{i + 1:03d}", True, roles=("worker",)) for i in range(count)]


async def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate()` on the event loop until truthy; False when `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


@dataclass
class BenchWorld:
    slack: SlackEmulator
    posts: TimedPosts
    kube: FakeKubeServer
    kubeconfig: Path
    bot: Bot | None = None


@asynccontextmanager
async def bench_world(
    *, bookmark_interval: float = 5.0, controllers: bool = True
) -> AsyncIterator[BenchWorld]:
    """A started Slack emulator (this loop) and fake API server (own threads), torn down after.

    The bot is not started here: populate the API server first, then use `started_bot`.
    `controllers=False` for a cluster built by `bench.memory.populate`: its Deployments are
    stored as already rolled out with their pods, and the fake API server's controllers
    would otherwise start a ReplicaSet and a second set of pods for each.
    """
    for name in _PROXY_VARIABLES:
        os.environ.pop(name, None)  # the fake servers live on 127.0.0.1
    slack = SlackEmulator()
    posts = install_timed_posts(slack)
    await slack.start()
    kube = FakeKubeServer(controllers=controllers, bookmark_interval=bookmark_interval).start()
    try:
        with tempfile.TemporaryDirectory(prefix="opsbot-bench-") as tmp:
            kubeconfig = kube.write_kubeconfig(Path(tmp) / "kubeconfig", context="fake")
            yield BenchWorld(slack, posts, kube, kubeconfig)
    finally:
        kube.stop()
        await slack.stop()


def bench_settings(kubeconfig: Path, **overrides: Any) -> Settings:
    """Product defaults (outbox pacing 1/s per channel, burst 3; 10 s request timeout).

    Alerts (and so the watch loop) are off unless overridden: command benchmarks
    measure commands alone. The SQLite store lives next to the kubeconfig. The
    policy is the product default (reads for everyone) with the per-user rate limit
    lifted, since one synthetic user sends hundreds of commands.
    """
    data: dict[str, Any] = {
        "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
        "outbox": {"per_channel_per_second": 1.0, "burst": 3},
        "alerts": {"enabled": False, "default_channel": "C0ALERTS01"},
        "store": {"path": str(kubeconfig.parent / "opsbot.db")},
        "policy": {"rate_limit": {"commands_per_minute": 10_000, "burst": 1_000}},
    }
    data.update(overrides)
    return make_settings(kubeconfig, **data)


@asynccontextmanager
async def started_bot(world: BenchWorld, settings: Settings) -> AsyncIterator[Bot]:
    """The real bot connected to the emulator; waits for in-flight echoes before stopping."""
    async with running_bot(world.slack, world.kube, settings) as bot:
        world.bot = bot
        try:
            yield bot
        finally:
            await world.slack.settle(timeout=5.0)
            world.bot = None


@dataclass(frozen=True)
class Reply:
    """One command's exchange: perf_counter() just before the mention and when the reply was recorded."""

    started: float
    answered: float
    post: Post

    @property
    def latency(self) -> float:
        return self.answered - self.started


async def first_reply(world: BenchWorld, channel: str, text: str, *, timeout: float = 30.0) -> Reply:
    """Mention the bot in `channel` and await its first chat.postMessage in that thread.

    The end time is the emulator's own record of the post (TimedPosts), not when
    this coroutine woke up.
    """
    slack = world.slack
    before = len(slack.posts)
    started = time.perf_counter()
    sent = await slack.mention(USER, channel, text)
    post = await slack.wait_for_post(
        channel=channel, thread_ts=sent.ts, method="chat.postMessage", after=before, timeout=timeout
    )
    return Reply(started, world.posts.recorded_at(post), post)
