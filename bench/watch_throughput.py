"""Watch throughput: opsbot's raw decode + detect path against the naive model-object watch.

The same recorded stream of pod watch events goes through

  (a) opsbot: ``read_chunks`` + ``LineSplitter`` + ``WatchCache.apply_line`` (orjson.loads,
      the {uid: projected last version} cache that yields ``old``) + ``opsbot.alerts.detectors.observe``
      (decode-only when that module is not there yet);
  (b) naive: ``kubernetes.watch.Watch().stream(CoreV1Api().list_pod_for_all_namespaces, ...)``,
      i.e. every event deserialized into a pydantic ``V1Pod``, plus the usual tutorial check of
      ``container_statuses`` on the model.

Two measurements, both in one run:

  cpu   the recorded lines from memory (no network): what each path costs per event;
  http  the same lines served by the fake API server over real HTTP and read by the real
        client, timed from the first to the last event (the server shares the process and GIL).

The stream: pods shaped like Deployment pods (builders), ADDED once, then status changes as
the kubelet writes them (CrashLoopBackOff with climbing restarts, OOMKilled, recovery,
readiness flaps) and a few deletions with replacements. It is made once, in the fake API
server, and its exact bytes are reused for every measurement.

Memory: the cache's KiB per pod (tracemalloc), and the peak RSS of a fresh interpreter that
imports the bot (``opsbot.cli``) and fills WatchCaches with 10,000 pods + 500 nodes (an upper
bound: the figure includes building those objects; aim < 150 MB).

    .venv/bin/python -m bench.watch_throughput [--events N] [--pods P] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from bench._common import build_pods, environment_line, format_table
from opsbot.kube.watch import LineSplitter, WatchCache, WatchEvent, read_chunks
from tests.support.fake_kube import FakeKubeServer, builders

NAMESPACES = ("shop", "payments", "search", "ingest")
AIM = 10.0
RSS_AIM_MB = 150.0

Detect = Callable[[WatchEvent], object]


# ---------------------------------------------------------------------- the recorded stream


@dataclass
class Recording:
    server: FakeKubeServer
    start_rv: str  # watch from here to replay the whole stream
    lines: list[bytes]  # the exact event lines the server streams, newline excluded

    @property
    def mean_bytes(self) -> float:
        return sum(len(line) for line in self.lines) / len(self.lines)

    def mix(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for line in self.lines:
            kind = line[9 : line.index(b'"', 9)].decode()
            counts[kind] = counts.get(kind, 0) + 1
        return counts


def _status_change(pod: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The next kubelet-style status for ``pod``: crash, OOM, recovery or a readiness flap."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarts = int(statuses[0].get("restartCount", 0)) if statuses else 0
    crashing = any("waiting" in (s.get("state") or {}) for s in statuses)
    roll = rng.random()
    if crashing and roll < 0.5:
        return builders.recovered_status(pod)
    if roll < 0.55:
        return builders.crashloop_status(pod, restarts=restarts + 1)
    if roll < 0.75:
        return builders.oomkilled_status(pod, restarts=restarts + 1, crashloop=roll < 0.65)
    if roll < 0.9:
        return builders.crashloop_status(pod, restarts=restarts + 1, exit_code=2, reason="Error")
    return builders.recovered_status(pod)


def record(events: int, pods: int, *, seed: int = 7) -> Recording:
    """Make the stream in a fresh fake API server: ``pods`` ADDED, then changes up to ``events`` lines."""
    server = FakeKubeServer(controllers=False, bookmark_interval=0).start()
    for namespace in NAMESPACES:
        server.add_namespace(namespace)
    start_rv = server.resource_version
    population = build_pods(pods, NAMESPACES)
    server.create_many(population)
    live = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in server.list("pods")}
    keys = list(live)
    rng = random.Random(seed)
    serial = 0

    def made() -> int:  # every commit since start_rv is a pod event (no controllers)
        return int(server.resource_version) - int(start_rv)

    while made() < events:
        key = keys[rng.randrange(len(keys))]
        if rng.random() < 0.02 and made() + 3 <= events:  # deleted (graceful: 2 events), replaced
            namespace, name = key
            server.delete("pods", namespace, name)
            serial += 1
            replacement = dict(build_pods(1, (namespace,))[0])
            replacement["metadata"] = {**replacement["metadata"], "name": f"{name[:-6]}-r{serial:04d}"}
            created = server.create(replacement)
            new_key = (namespace, created["metadata"]["name"])
            del live[key]
            live[new_key] = created
            keys[keys.index(key)] = new_key
            continue
        namespace, name = key  # a change that ends up a no-op makes no event (as on a real server)
        live[key] = server.apply_status("pods", namespace, name, _status_change(live[key], rng))
    with server.world.lock:
        lines = [
            change.line.rstrip(b"\n")
            for change in server.world.store.history
            if change.rt.plural == "pods" and change.rv > int(start_rv)
        ]
    return Recording(server, start_rv, lines[:events])


# ---------------------------------------------------------------------- detectors (maybe absent)


def load_detector() -> tuple[Detect | None, str]:
    """``opsbot.alerts.detectors.observe`` adapted to a WatchEvent, or None and why not."""
    try:
        from opsbot.alerts import detectors
    except ImportError as exc:
        return None, f"decode only (opsbot.alerts.detectors not importable: {exc})"
    observe = getattr(detectors, "observe", None)
    if observe is None:
        return None, "decode only (opsbot.alerts.detectors has no observe())"
    now = datetime.now(UTC)

    def detect(event: WatchEvent) -> object:
        new = None if event.type == "DELETED" else event.obj
        return observe(event.resource, event.old, new, cluster=event.cluster, now=now)

    return detect, "decode + detectors.observe(resource, old, new, cluster=, now=)"


def check_detector(detect: Detect | None, how: str, sample: bytes) -> tuple[Detect | None, str]:
    """Fall back to decode-only if observe() does not accept what we pass (it is being written)."""
    if detect is None:
        return None, how
    event = WatchCache("bench", "pods").apply_line(sample)
    assert event is not None
    try:
        detect(event)
    except Exception as exc:
        return None, f"decode only (observe() failed on a sample: {type(exc).__name__}: {exc})"
    return detect, how


def naive_detect(pod: Any) -> bool:
    """What tutorial bots do with the model: look for a bad waiting/terminated reason."""
    for status in (pod.status.container_statuses if pod.status else None) or []:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"):
            return True
        terminated = status.last_state.terminated if status.last_state else None
        if terminated is not None and terminated.reason == "OOMKilled":
            return True
    return False


# ---------------------------------------------------------------------- measurements


def cpu_opsbot(lines: Sequence[bytes], detect: Detect | None) -> float:
    """Events/s through the exact per-line code ResourceWatch runs (chunks as the server sends them)."""
    cache = WatchCache("bench", "pods")
    splitter = LineSplitter()
    chunks = [line + b"\n" for line in lines]
    started = time.perf_counter()
    for chunk in chunks:
        for line in splitter.feed(chunk):
            event = cache.apply_line(line)
            if event is not None and detect is not None:
                detect(event)
    return len(lines) / (time.perf_counter() - started)


def cpu_loads(lines: Sequence[bytes], loads: Callable[[bytes], object]) -> float:
    """Events/s of a bare ``loads`` per line: the floor under a JSON decode path."""
    started = time.perf_counter()
    for line in lines:
        loads(line)
    return len(lines) / (time.perf_counter() - started)


_RSS_PROBE = """
import orjson
import opsbot.cli  # everything the bot imports
from opsbot.kube.watch import WatchCache
from bench._common import build_nodes, build_pods

pods, nodes = WatchCache("bench", "pods"), WatchCache("bench", "nodes")
for batch in range(40):  # 250 at a time: the builders' dicts are not all alive at once
    for pod in build_pods(250, (f"ns-{batch:02d}",)):
        pod["metadata"].update(uid=f"{batch}-{pod['metadata']['name']}", resourceVersion="1")
        pods.apply_line(orjson.dumps({"type": "ADDED", "object": pod}))
for node in build_nodes(500):
    node["metadata"].update(uid=node["metadata"]["name"], resourceVersion="1")
    nodes.apply_line(orjson.dumps({"type": "ADDED", "object": node}))
assert (len(pods), len(nodes)) == (10_000, 500)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked (big) parent.
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024.0)
"""


def peak_rss_watching() -> float:
    """Peak RSS (MiB) of a fresh interpreter with the bot's imports and 10,000 pods + 500 nodes cached."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE], capture_output=True, text=True, check=True, env=env, cwd=root
    )
    return float(out.stdout.strip().splitlines()[-1])


def cpu_naive(lines: Sequence[bytes]) -> float:
    """Events/s through Watch.unmarshal_event (json.loads + ApiClient.deserialize into V1Pod)."""
    w = k8s_watch.Watch()
    texts = [line.decode() for line in lines]
    started = time.perf_counter()
    for text in texts:
        event = w.unmarshal_event(text, "V1Pod")
        if event["type"] != "DELETED":
            naive_detect(event["object"])
    return len(lines) / (time.perf_counter() - started)


def http_opsbot(rec: Recording, api: k8s.ApiClient, detect: Detect | None) -> float:
    core = k8s.CoreV1Api(api)
    resp: Any = core.list_pod_for_all_namespaces(
        watch=True,
        resource_version=rec.start_rv,
        allow_watch_bookmarks=True,
        timeout_seconds=300,
        _preload_content=False,
        _request_timeout=(10, 330),
    )
    cache = WatchCache("bench", "pods")
    splitter = LineSplitter()
    want = len(rec.lines)
    seen = 0
    first = last = 0.0
    try:
        for chunk in read_chunks(resp):
            for line in splitter.feed(chunk):
                if seen == 0:
                    first = time.perf_counter()
                seen += 1
                event = cache.apply_line(line)
                if event is not None and detect is not None:
                    detect(event)
            if seen >= want:
                last = time.perf_counter()
                break
    finally:
        resp.close()
        resp.release_conn()
    return (seen - 1) / (last - first)


def http_naive(rec: Recording, api: k8s.ApiClient) -> float:
    core = k8s.CoreV1Api(api)
    w = k8s_watch.Watch()
    want = len(rec.lines)
    seen = 0
    first = last = 0.0
    for event in w.stream(
        core.list_pod_for_all_namespaces, resource_version=rec.start_rv, timeout_seconds=300
    ):
        if seen == 0:
            first = time.perf_counter()
        seen += 1
        if event["type"] != "DELETED":
            naive_detect(event["object"])
        if seen >= want:
            last = time.perf_counter()
            w.stop()
            break
    return (seen - 1) / (last - first)


def measure_http(rec: Recording, detect: Detect | None, repeats: int) -> tuple[float, float]:
    """(opsbot, naive) events/s over HTTP; stops the recording's server."""
    api = rec.server.api_client()
    try:
        opsbot = best(lambda: http_opsbot(rec, api, detect), repeats)
        naive = http_naive(rec, api)
    finally:
        api.close()
        rec.server.stop()
    return opsbot, naive


def cache_memory(lines: Sequence[bytes]) -> tuple[float, float]:
    """KiB per object held: WatchCache (compact bytes) vs keeping each decoded dict."""
    added = [line + b"\n" for line in lines if line.startswith(b'{"type":"ADDED"')]
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cache = WatchCache("bench", "pods")
    splitter = LineSplitter()  # fresh line objects, as read from a socket
    for chunk in added:
        for line in splitter.feed(chunk):
            cache.apply_line(line)
    as_bytes = tracemalloc.get_traced_memory()[0] - base
    held = len(cache)
    del cache
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    dicts = {}
    for line in added:
        obj = json.loads(line)["object"]
        dicts[obj["metadata"]["uid"]] = obj
    as_dicts = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return as_bytes / held / 1024, as_dicts / len(dicts) / 1024


def best(run: Callable[[], float], repeats: int) -> float:
    return max(run() for _ in range(repeats))


# ---------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--events", type=int, default=20_000, help="watch events in the stream (default 20000)"
    )
    parser.add_argument("--pods", type=int, default=2_000, help="distinct pods (default 2000)")
    parser.add_argument("--quick", action="store_true", help="2000 events over 400 pods, one repeat")
    args = parser.parse_args(argv)
    events, pods, repeats = args.events, args.pods, 3
    if args.quick:
        events, pods, repeats = 2_000, 400, 1
    pods = min(pods, events)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)  # the fake API server lives on 127.0.0.1

    print(f"watch throughput: {environment_line()}")
    started = time.perf_counter()
    rec = record(events, pods)
    mix = ", ".join(f"{kind} {count}" for kind, count in sorted(rec.mix().items()))
    print(
        f"stream: {len(rec.lines)} pod events over {pods} pods ({mix}), "
        f"mean {rec.mean_bytes:.0f} B/line; recorded in {time.perf_counter() - started:.1f} s"
    )
    detect, how = check_detector(*load_detector(), rec.lines[0])
    print(f"opsbot path: {how}")
    path = "decode + detect" if detect is not None else "decode only"
    lines = rec.lines
    naive_sample = lines[: max(len(lines) // 4, min(len(lines), 2_000))]
    warm = lines[: min(len(lines), 300)]
    cpu_naive(warm)  # the client builds its pydantic validators on first use: keep that out
    cpu_opsbot(warm, detect)

    # HTTP first, while the fake API server holds the stream; then free it so its heap
    # (every stored version) does not slow the in-memory runs through the cyclic GC.
    http_a, http_b = measure_http(rec, detect, max(repeats - 1, 1))
    del rec
    gc.collect()

    cpu_floor = best(lambda: cpu_loads(lines, orjson.loads), repeats)
    cpu_stdlib = best(lambda: cpu_loads(lines, json.loads), repeats)
    cpu_decode = best(lambda: cpu_opsbot(lines, None), repeats)
    cpu_a = best(lambda: cpu_opsbot(lines, detect), repeats) if detect is not None else cpu_decode
    cpu_b = best(lambda: cpu_naive(naive_sample), max(repeats - 1, 1))
    per_bytes, per_dict = cache_memory(lines)
    rss = peak_rss_watching()

    def row(label: str, events_per_s: float) -> tuple[str, str, str, str, str]:
        ratio = events_per_s / cpu_b if label.startswith("cpu") else events_per_s / http_b
        naive = cpu_b if label.startswith("cpu") else http_b
        aim = "met" if ratio >= AIM else "not met"
        return (label, f"{events_per_s:,.0f}", f"{naive:,.0f}", f"{ratio:.1f}x", aim)

    rows = [
        row("cpu: json.loads alone (stdlib, reference)", cpu_stdlib),
        row("cpu: orjson.loads alone (floor)", cpu_floor),
        row("cpu: decode (cache, old)", cpu_decode),
    ]
    if detect is not None:
        rows.append(row(f"cpu: {path}", cpu_a))
    rows.append(row(f"http: {path}", http_a))
    print()
    print(format_table(("events/s", "opsbot (a)", "naive (b)", "ratio", f"aim >= {AIM:.0f}x"), rows))
    print()
    print(
        f"best of {repeats} in memory (naive: {len(naive_sample)} events), after a warm-up; "
        "HTTP timed from the first to the last event"
    )
    print(
        f"cache memory per pod: {per_bytes:.2f} KiB as WatchCache bytes (projection) vs {per_dict:.2f} KiB "
        f"as dicts (10,000 pods: {per_bytes * 10_000 / 1024:.0f} MiB vs {per_dict * 10_000 / 1024:.0f} MiB)"
    )
    print(
        f"peak RSS, bot imports + 10,000 pods + 500 nodes cached (fresh process, incl. building them): "
        f"{rss:.0f} MiB; aim < {RSS_AIM_MB:.0f} MB: {'met' if rss * 1.048576 < RSS_AIM_MB else 'not met'}"
    )
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
