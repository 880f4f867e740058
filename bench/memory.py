"""Memory and latency of the bot as its own process: idle, watching, and under concurrent big commands.

Run:  python -m bench.memory [--pods N] [--nodes N] [--rounds N] [--quick]

The bot is `opsbot run` in a child process (as in production: its RSS is its own,
not shared with the test servers), connected to the Slack emulator and the fake API
server, which live in this process. The fake API server holds --pods pods (realistic
objects from tests.support.fake_kube.builders: ~6 KB of JSON each, managedFields
included) over 20 namespaces, --nodes nodes (with the kubelet's image list) and 12
Deployments per namespace. Peak RSS is the kernel's high-water mark of the child over its
whole life (VmHWM in /proc/PID/status): what a memory limit must cover.

The bot's interpreter does not see kubernetes-validate, a test extra the image does not
install (see AS_IN_THE_IMAGE).

Phases, each with a fresh bot:
  idle           nothing watched (alerts off, watch.cache false): imports + Slack link
  watching       product defaults: alerts on, watch caches on, every namespace watched;
                 peak RSS from start until /readyz says ready (every watch synced) + 2 s
  burst, cache   then (same bot, so its peak covers the watches' start too) --rounds rounds
                 of 10 `pods -A` + 10 `status -A` sent at
                 once by 20 users, each in its own channel (a fresh channel per round, so
                 Slack pacing of 1 message/s per channel is never what is measured)
  burst, live    the baseline: a bot with alerts off and `watch.cache: false` (every
                 command lists live, page by page) under the same rounds
  1k pods        a second API server with 1,000 pods: `pods -A` one at a time, from the
                 cache and live (the issue's aim: p99 < 100 ms)

Latency is mention → the command's answer (a "Busy, you're in line" notice posted
first does not count as the answer; how many were posted is printed), stamped inside
the emulator when it records the post. The test servers share this process and its
GIL: during the live baseline the fake API server's serving (Python) is part of what is
measured. Figures are printed, never asserted.

Measured (python 3.11, 2 CPUs, `python -m bench.memory --quick` on a shared machine),
10,000 pods + 500 nodes + 240 Deployments, realistic objects. "before" is the field trial
of issue 10 (the bot at that time, same cluster size: its own fake API server for the
watching figure, a real kube-apiserver for the rest):

    phase                        before    after   aim
    idle, peak RSS (MiB)            101       75    -
    watching, peak RSS (MiB)        159      119    < 120
    burst, cache: peak RSS (MiB)   2048      119    < 200 (before: 8 at once, now 20)
    burst, cache: p50 / p99 (ms)  21-25 s  152 / 229  p99 < 300
    burst, live: peak RSS (MiB)       -      112    (baseline)
    1k pods, cache: p99 (ms)        528        8    < 100
    1k pods, live: p99 (ms)         528      224    (baseline)

Since watches list pages of 100 objects instead of 250 (issue 15, defaults, not --quick):
idle 76, watching 111 (ready after 15.8 s), burst from the caches 111 MiB (p50 140 / p99
224 ms), burst live 115 MiB; 1k pods p99 10 ms cached, 274 ms live.

The live burst's latency is dominated by this process serving 20 live lists of 10,000
~7 KB pods from Python at once, on the same two CPUs; it is printed, not a product figure.

The Deployment's memory request/limit (manifests/base/deployment.yaml) come from the
peaks above; tests/unit/test_manifests.py ties them together.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench._common import (
    Summary,
    build_nodes,
    build_pods,
    environment_line,
    format_table,
    install_timed_posts,
)
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import block_text
from tests.support.loopback import free_port
from tests.support.process import ROOT, slack_environment
from tests.support.replicas import Replica
from tests.support.slack_emulator import SlackEmulator

NAMESPACES = (
    "payments", "checkout", "catalog", "search", "web", "api-gateway", "auth", "notifications",
    "orders", "inventory", "shipping", "billing", "analytics", "recommendations", "media",
    "messaging", "reporting", "ingest", "ml-serving", "platform",
)  # fmt: skip
APPS_PER_NAMESPACE = 12  # build_pods names its pods svc-00 .. svc-11
ALERTS = "C0MEMALERT"
BUSY = "Busy, you're in line"
WATCH_AIM_MIB = 120.0
BURST_AIM_MIB = 200.0
BURST_AIM_P99_MS = 300.0
SMALL_AIM_P99_MS = 100.0
MANIFEST = ROOT / "manifests" / "base" / "deployment.yaml"
# `opsbot run` with the packages the image has: the virtualenv also holds the test extras, and
# one of them, kubernetes-validate (with jsonschema, ~10 MiB), is imported by the kubernetes
# package's dynamic client when present. Hidden here, as it is absent from the image.
TEST_ONLY_PACKAGES = ("kubernetes_validate",)
AS_IN_THE_IMAGE = (
    "import sys\n"
    f"sys.modules.update(dict.fromkeys({TEST_ONLY_PACKAGES!r}))\n"
    "sys.argv[0] = 'opsbot'\n"
    "from opsbot.cli import main\n"
    "sys.exit(main())\n"
)
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


@dataclass(frozen=True)
class Options:
    pods: int
    nodes: int
    rounds: int
    live_rounds: int
    small_pods: int
    small_commands: int


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=10_000, help="pods in the big cluster (10000)")
    parser.add_argument("--nodes", type=int, default=500, help="nodes in the big cluster (500)")
    parser.add_argument("--rounds", type=int, default=5, help="bursts of 20 commands, from the cache (5)")
    parser.add_argument("--live-rounds", type=int, default=2, help="bursts of 20 commands, live (2)")
    parser.add_argument("--small-pods", type=int, default=1000, help="pods in the small cluster (1000)")
    parser.add_argument("--small-commands", type=int, default=100, help="sequential pods -A there (100)")
    parser.add_argument("--quick", action="store_true", help="2 rounds cached, 1 live, 30 sequential commands")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.live_rounds, args.small_commands = 2, 1, 30
    if args.pods < len(NAMESPACES) or args.nodes < 1 or args.rounds < 1 or args.small_commands < 1:
        parser.error(f"need --pods >= {len(NAMESPACES)}, --nodes >= 1, --rounds >= 1, --small-commands >= 1")
    return Options(args.pods, args.nodes, args.rounds, args.live_rounds, args.small_pods, args.small_commands)


# ---------------------------------------------------------------------- the cluster


def ready_deployment(namespace: str, name: str, replicas: int) -> dict[str, Any]:
    """A Deployment as the API server returns it once rolled out (status written by its controller)."""
    deployment = builders.deployment(name, namespace, replicas=replicas, image=f"registry.example.com/{namespace}/{name}:1.4.0")
    deployment["status"] = builders.deployment_status(deployment)
    return deployment


def populate(kube: FakeKubeServer, pods: int, nodes: int) -> float:
    """Namespaces, nodes, Deployments and pods; returns seconds taken."""
    started = time.perf_counter()
    for namespace in NAMESPACES:
        kube.add_namespace(namespace)
    kube.create_many(build_nodes(nodes))
    replicas = max(1, pods // (len(NAMESPACES) * APPS_PER_NAMESPACE))
    kube.create_many(
        ready_deployment(namespace, f"svc-{app:02d}", replicas)
        for namespace in NAMESPACES
        for app in range(APPS_PER_NAMESPACE)
    )
    kube.create_many(build_pods(pods, NAMESPACES, nodes=nodes))
    return time.perf_counter() - started


def object_sizes(kube: FakeKubeServer) -> str:
    """Mean JSON bytes per pod and node as the API server sends them, and managedFields' share."""

    def mean(kind: str) -> tuple[float, float]:
        objects = kube.list(kind)[:500]
        whole = sum(len(orjson.dumps(obj)) for obj in objects) / len(objects)
        managed = sum(len(orjson.dumps(obj["metadata"].get("managedFields", []))) for obj in objects) / len(objects)
        return whole, managed

    pod, pod_managed = mean("pods")
    node, node_managed = mean("nodes")
    return (
        f"objects: pod {pod / 1024:.1f} KiB of JSON ({pod_managed / 1024:.1f} KiB managedFields), "
        f"node {node / 1024:.1f} KiB ({node_managed / 1024:.1f} KiB managedFields)"
    )


# ---------------------------------------------------------------------- the bot process



def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024.0
    return values


def peak_and_rss(pid: int) -> tuple[float, float]:
    """A process's peak resident memory (VmHWM) and its resident memory now (VmRSS), MiB."""
    status = proc_status(pid)
    return status["VmHWM"], status["VmRSS"]


def bot_config(directory: Path, kubeconfig: Path, health: int, *, cache: bool, alerts: bool) -> Path:
    """The product's defaults, except what a benchmark must pin (ports, paths, rate limit)."""
    data: dict[str, Any] = {
        "clusters": {"bench": {"kubeconfig": str(kubeconfig), "context": "fake"}},
        "alerts": {"enabled": alerts, "default_channel": ALERTS},
        "watch": {"cache": cache},
        "store": {"path": str(directory / "opsbot.db")},
        "health": {"host": "127.0.0.1", "port": health},
        "logging": {"format": "json", "level": "warning"},
        # 20 people ask several times within a minute: the per-person limit is not what is measured.
        "policy": {"rate_limit": {"commands_per_minute": 10_000, "burst": 1_000}},
    }
    path = directory / f"config-{health}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@asynccontextmanager
async def bot_process(
    slack: SlackEmulator, kubeconfig: Path, directory: Path, *, cache: bool, alerts: bool
) -> AsyncIterator[Replica]:
    """`opsbot run` in a child process; yields once /readyz says ready (watches synced)."""
    health = free_port()
    config = bot_config(directory, kubeconfig, health, cache=cache, alerts=alerts)
    log = directory / f"opsbot-{health}.log"
    expected = slack.hello_count + 1
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", AS_IN_THE_IMAGE, "run", "--config", str(config),
            cwd=ROOT, env=slack_environment(slack), stdout=stderr, stderr=stderr,
        )  # fmt: skip
    bot = Replica("opsbot", process, health, log)
    try:
        await slack.wait_connected(expected, timeout=120)
        await bot.wait_ready(timeout=600)
        yield bot
    finally:
        await bot.terminate(timeout=60)
        await slack.settle(timeout=5.0)


# ---------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Answer:
    text: str
    seconds: float
    waited: bool  # a "you're in line" notice came first


async def ask(slack: SlackEmulator, user: str, channel: str, text: str, expect: str) -> Answer:
    """Mention the bot and await the command's answer in the thread (not a "busy" notice)."""
    posts = slack.posts
    before = len(posts)
    started = time.perf_counter()
    sent = await slack.mention(user, channel, text)
    post = await slack.wait_for_post(
        lambda p: BUSY not in block_text(p),
        channel=channel,
        thread_ts=sent.ts,
        method="chat.postMessage",
        after=before,
        timeout=600,
    )
    answered = posts.recorded_at(post)  # type: ignore[attr-defined]  # TimedPosts
    if expect not in block_text(post):
        raise RuntimeError(f"{text!r}: unexpected answer (wanted {expect!r}):\n{block_text(post)[:2000]}")
    waited = any(
        p.thread_ts == sent.ts and p.channel == channel and BUSY in block_text(p) for p in posts[before:]
    )
    return Answer(text, answered - started, waited)


@dataclass
class Burst:
    answers: list[Answer] = field(default_factory=list)
    peak: float = 0.0  # the bot process's peak RSS so far (its whole life: start, watches, bursts)
    rss: float = 0.0  # its RSS after the last round

    def summary(self, name: str, text: str | None = None) -> Summary:
        return Summary.of(name, [a.seconds for a in self.answers if text is None or a.text == text])

    @property
    def waited(self) -> int:
        return sum(a.waited for a in self.answers)


BURST = (("pods -A", "Pods"), ("status -A", "Cluster status"))


async def bursts(slack: SlackEmulator, bot: Replica, rounds: int, label: str) -> Burst:
    """`rounds` times: 10 `pods -A` + 10 `status -A` at once, from 20 users in 20 fresh channels."""
    result = Burst()
    for round_no in range(rounds):
        asks = [
            ask(slack, f"U0MEM{label}{i:02d}", f"C0MEM{label}{round_no:02d}{i:02d}", *BURST[i % 2])
            for i in range(20)
        ]
        result.answers.extend(await asyncio.gather(*asks))
        await asyncio.sleep(0.5)
    result.peak, result.rss = peak_and_rss(bot.pid)
    return result


async def sequential(slack: SlackEmulator, count: int, label: str, warmup: int = 5) -> Summary:
    """`pods -A` one at a time, each in its own channel."""
    channels = itertools.cycle([f"C0SEQ{label}{i:03d}" for i in range(250)])
    for _ in range(warmup):
        await ask(slack, "U0MEMSEQ01", next(channels), "pods -A", "Pods")
    seconds = [(await ask(slack, "U0MEMSEQ01", next(channels), "pods -A", "Pods")).seconds for _ in range(count)]
    return Summary.of(label, seconds)


# ---------------------------------------------------------------------- report


def manifest_memory() -> tuple[str, str]:
    """The Deployment's memory request and limit, as written in the base manifest."""
    deployment = yaml.safe_load(MANIFEST.read_text())
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    return str(resources["requests"]["memory"]), str(resources["limits"]["memory"])


def mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0}
    return float(quantity[:-2]) * units[quantity[-2:]]


@dataclass
class Results:
    sizes: str = ""
    populate_seconds: float = 0.0
    idle_peak: float = 0.0
    idle_rss: float = 0.0
    watch_peak: float = 0.0
    watch_rss: float = 0.0
    ready_seconds: float = 0.0
    cached: Burst = field(default_factory=Burst)
    live: Burst = field(default_factory=Burst)
    small_cached: Summary | None = None
    small_live: Summary | None = None


def report(options: Options, results: Results) -> str:
    request, limit = manifest_memory()
    limit_mib = mib(limit)
    lines = [
        "bench.memory: the bot as its own process (opsbot run), peak RSS = VmHWM",
        environment_line(),
        f"cluster: {options.pods} pods, {options.nodes} nodes, {len(NAMESPACES) * APPS_PER_NAMESPACE} "
        f"deployments in {len(NAMESPACES)} namespaces (built in {results.populate_seconds:.1f} s)",
        results.sizes,
        "",
    ]
    rss_rows = [
        ("idle (nothing watched)", f"{results.idle_peak:.0f}", f"{results.idle_rss:.0f}", "-"),
        (
            f"watching (ready after {results.ready_seconds:.1f} s)",
            f"{results.watch_peak:.0f}",
            f"{results.watch_rss:.0f}",
            f"< {WATCH_AIM_MIB:.0f}",
        ),
        (
            "then 10 pods -A + 10 status -A at once, cache",
            f"{results.cached.peak:.0f}",
            f"{results.cached.rss:.0f}",
            f"< {BURST_AIM_MIB:.0f}",
        ),
        (
            "same, live (watch.cache: false)",
            f"{results.live.peak:.0f}",
            f"{results.live.rss:.0f}",
            "baseline",
        ),
    ]
    lines.append(format_table(("bot process (fresh for each but the 3rd)", "peak RSS MiB", "RSS after MiB", "aim"), rss_rows))
    lines.append("")
    latency_rows = []
    for name, burst in (("cache", results.cached), ("live", results.live)):
        for text, _ in BURST:
            s = burst.summary(f"{text}, {name}", text)
            latency_rows.append((s.name, str(s.n), f"{s.p50:.0f}", f"{s.p99:.0f}", f"{s.max:.0f}"))
        s = burst.summary(f"all, {name} ({burst.waited} told to wait)")
        latency_rows.append((s.name, str(s.n), f"{s.p50:.0f}", f"{s.p99:.0f}", f"{s.max:.0f}"))
    for small in (results.small_cached, results.small_live):
        if small is not None:
            latency_rows.append((small.name, str(small.n), f"{small.p50:.0f}", f"{small.p99:.0f}", f"{small.max:.0f}"))
    lines.append(format_table(("latency, mention → answer", "n", "p50 ms", "p99 ms", "max ms"), latency_rows))
    lines.append("")
    cached_p99 = results.cached.summary("cache").p99
    small_p99 = results.small_cached.p99 if results.small_cached else float("nan")
    lines.append(
        f"manifest: memory request {request}, limit {limit}; burst peak {results.cached.peak:.0f} MiB cached / "
        f"{results.live.peak:.0f} MiB live = {results.cached.peak / limit_mib:.0%} / "
        f"{results.live.peak / limit_mib:.0%} of the limit"
    )
    checks = [
        ("watching peak", results.watch_peak, WATCH_AIM_MIB, "MiB"),
        ("burst peak (cache)", results.cached.peak, BURST_AIM_MIB, "MiB"),
        ("burst p99 (cache)", cached_p99, BURST_AIM_P99_MS, "ms"),
        ("1k pods -A p99 (cache)", small_p99, SMALL_AIM_P99_MS, "ms"),
    ]
    lines.append(
        "aims: "
        + "; ".join(
            f"{name} {value:.0f} {unit} {'<' if value < aim else '>='} {aim:.0f} {'met' if value < aim else 'MISSED'}"
            for name, value, aim, unit in checks
        )
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------- main


async def run(options: Options) -> Results:
    for name in _PROXY_VARIABLES:
        os.environ.pop(name, None)  # the test servers live on 127.0.0.1
    results = Results()
    slack = SlackEmulator()
    install_timed_posts(slack)
    await slack.start()
    big = FakeKubeServer(controllers=False, bookmark_interval=5.0).start()
    small = FakeKubeServer(controllers=False, bookmark_interval=5.0).start()
    try:
        with tempfile.TemporaryDirectory(prefix="opsbot-bench-memory-") as tmp:
            directory = Path(tmp)
            results.populate_seconds = populate(big, options.pods, options.nodes)
            results.sizes = object_sizes(big)
            print(results.sizes, flush=True)
            kubeconfig = big.write_kubeconfig(directory / "big.kubeconfig", context="fake")
            async with bot_process(slack, kubeconfig, directory, cache=False, alerts=False) as bot:
                await asyncio.sleep(2.0)
                results.idle_peak, results.idle_rss = peak_and_rss(bot.pid)
            print(f"idle: peak {results.idle_peak:.0f} MiB", flush=True)
            started = time.perf_counter()
            async with bot_process(slack, kubeconfig, directory, cache=True, alerts=True) as bot:
                results.ready_seconds = time.perf_counter() - started
                await asyncio.sleep(2.0)
                results.watch_peak, results.watch_rss = peak_and_rss(bot.pid)
                print(f"watching: peak {results.watch_peak:.0f} MiB", flush=True)
                results.cached = await bursts(slack, bot, options.rounds, "C")
            print(f"burst, cache: peak {results.cached.peak:.0f} MiB", flush=True)
            if options.live_rounds:
                async with bot_process(slack, kubeconfig, directory, cache=False, alerts=False) as bot:
                    results.live = await bursts(slack, bot, options.live_rounds, "L")
                print(f"burst, live: peak {results.live.peak:.0f} MiB", flush=True)
            populate(small, options.small_pods, 10)
            small_kubeconfig = small.write_kubeconfig(directory / "small.kubeconfig", context="fake")
            async with bot_process(slack, small_kubeconfig, directory, cache=True, alerts=False):
                results.small_cached = await sequential(
                    slack, options.small_commands, f"{options.small_pods} pods, pods -A one at a time, cache"
                )
            async with bot_process(slack, small_kubeconfig, directory, cache=False, alerts=False):
                results.small_live = await sequential(
                    slack, options.small_commands, f"{options.small_pods} pods, pods -A one at a time, live"
                )
    finally:
        big.stop()
        small.stop()
        await slack.stop()
    return results


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_options(argv)
    results = asyncio.run(run(options))
    print()
    print(report(options, results))


if __name__ == "__main__":
    main()
