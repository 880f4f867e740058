"""Resumable raw watches of pods, nodes, deployments and events, run in background threads.

    cache.py ..... the pure part: decode lines, keep {uid: last version (projected)}, emit WatchEvent
    resource.py .. ResourceWatch: list, watch, resume, relist, back off; one resource in one scope
    stream.py .... reading, closing and interrupting a streaming HTTP response
    health.py .... WatchHealth, the snapshot /healthz and the metrics read
    runner.py .... WatchRunner (threads), Handoff (to asyncio, bounded), build_watches

Which resources exist, where the API serves them and whether the cache keeps
a projection come from one table, ``opsbot.core.resources.RESOURCES``.
"""

from opsbot.kube.watch.cache import (
    LineSplitter,
    WatchCache,
    WatchEvent,
    WatchExpired,
    WatchStreamError,
    project,
    slim,
)
from opsbot.kube.watch.health import WatchHealth, WatchState
from opsbot.kube.watch.resource import ResourceWatch
from opsbot.kube.watch.runner import Handoff, WatchRunner, bridge, build_watches
from opsbot.kube.watch.stream import read_chunks

__all__ = [
    "Handoff",
    "LineSplitter",
    "ResourceWatch",
    "WatchCache",
    "WatchEvent",
    "WatchExpired",
    "WatchHealth",
    "WatchRunner",
    "WatchState",
    "WatchStreamError",
    "bridge",
    "build_watches",
    "project",
    "read_chunks",
    "slim",
]
