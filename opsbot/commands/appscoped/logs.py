"""An app's logs: every pod's lines merged by timestamp, each line prefixed with where it
came from, like `kubectl logs -l … --prefix` or stern.

Bounded: at most ``commands.logs.max_pods`` pods (the most restarted first: that is
where the trouble is), ``--tail`` lines per container, and ``commands.logs.max_bytes``
in all (each container's request gets its share; the merged text keeps the newest lines).
The kubelet's timestamps (``timestamps=true``) order the lines; `merge` is pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from opsbot.commands.appscoped.target import App
from opsbot.commands.spec import KubeUse
from opsbot.core.rows import PodRow
from opsbot.errors import KubeError
from opsbot.ports import KubePort

KUBE = (KubeUse("read_pod_log"),)

MAX_PARALLEL = 4
"""Log requests in flight at once for one command (a slow kubelet delays only its pods)."""
MIN_SHARE = 4096
"""Bytes every container may send at least, however many there are."""

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) ?")


@dataclass(frozen=True)
class Stream:
    """One container of one pod, and what its lines are prefixed with."""

    pod: str
    container: str | None
    prefix: str


@dataclass(frozen=True)
class Fetched:
    stream: Stream
    text: str = ""
    error: str = ""


@dataclass(frozen=True)
class Merged:
    lines: list[str]
    cut_lines: int = 0
    """Older lines dropped to stay within the byte budget."""


def pick_pods(pods: Sequence[PodRow], limit: int, *, previous: bool) -> tuple[list[PodRow], int]:
    """The pods to read (most restarts first, then by name) and how many were left out.
    ``previous``: only pods that have restarted have a previous container."""
    candidates = [pod for pod in pods if pod.restarts > 0] if previous else list(pods)
    ordered = sorted(candidates, key=lambda pod: (-pod.restarts, pod.name))
    return ordered[:limit], max(0, len(ordered) - limit)


def streams(pods: Sequence[PodRow], containers: Sequence[str], container: str | None) -> list[Stream]:
    """One stream per pod and container (``-c``: that one; else each of the template's)."""
    names: Sequence[str | None] = [container] if container else (list(containers) or [None])
    several = len(names) > 1
    return [
        Stream(pod.name, name, f"[pod/{pod.name}/{name}]" if several and name else f"[pod/{pod.name}]")
        for pod in pods
        for name in names
    ]


def fetch(
    kube: KubePort,
    app: App,
    wanted: Sequence[Stream],
    *,
    tail: int,
    since: int | None,
    previous: bool,
    max_bytes: int,
) -> list[Fetched]:
    """Every stream's log with timestamps, a few at a time; a failing pod is noted, not fatal."""
    share = max(MIN_SHARE, max_bytes // max(1, len(wanted)))

    def read(stream: Stream) -> Fetched:
        try:
            text = kube.read_pod_log(
                app.namespace,
                stream.pod,
                container=stream.container,
                tail_lines=tail,
                previous=previous,
                since_seconds=since,
                limit_bytes=share,
                timestamps=True,
            )
        except KubeError as exc:
            return Fetched(stream, error=str(exc))
        return Fetched(stream, text)

    if len(wanted) <= 1:
        return [read(stream) for stream in wanted]
    with ThreadPoolExecutor(
        max_workers=min(MAX_PARALLEL, len(wanted)), thread_name_prefix="opsbot-logs"
    ) as pool:
        return list(pool.map(read, wanted))


def stamp_key(line: str) -> tuple[float, int] | None:
    """A kubelet timestamp at the start of `line` → a sortable (epoch seconds, nanoseconds)."""
    match = _STAMP.match(line)
    if match is None:
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    try:
        seconds = datetime.fromisoformat(match[1] + zone).timestamp()
    except ValueError:
        return None
    return seconds, int((match[2] or "0").ljust(9, "0"))


def merge(fetched: Sequence[Fetched], *, max_bytes: int, keep_timestamps: bool = False) -> Merged:
    """Every stream's lines in timestamp order (ties: stream order, then line order), each
    prefixed; the newest lines that fit in `max_bytes`. A line without a timestamp (a
    truncated first line) sorts with the line before it."""
    keyed: list[tuple[tuple[float, int], int, int, str]] = []
    for order, item in enumerate(fetched):
        last: tuple[float, int] = (0.0, 0)
        for number, line in enumerate(item.text.splitlines()):
            key = stamp_key(line)
            if key is not None:
                last = key
                if not keep_timestamps:
                    line = _STAMP.sub("", line, count=1)
            keyed.append((last, order, number, f"{item.stream.prefix} {line}"))
    keyed.sort(key=lambda entry: entry[:3])
    lines = [entry[3] for entry in keyed]
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        size += len(line.encode()) + 1
        if size > max_bytes:
            break
        kept.append(line)
    kept.reverse()
    return Merged(kept, len(lines) - len(kept))
