"""Every configured cluster read at once (`FleetView` for `apps` and `diff`).

Each cluster is read in its own thread with a deadline, so a slow or unreachable cluster
costs its own column and never the others'. A cluster whose watch is backing off (it
cannot reach the API server) is not asked at all: its column says since when.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

from opsbot.core.fleet import Unanswered
from opsbot.errors import ForbiddenError, KubeError, TemporaryKubeError
from opsbot.kube.rows import WatchedRows
from opsbot.ports import KubeDirectory, KubePort

T = TypeVar("T")


def since_text(moment: float, now: float) -> str:
    """`12:03 UTC`, or with the date when it was not today."""
    layout = "%H:%M UTC" if now - moment < 20 * 3600 else "%Y-%m-%d %H:%M UTC"
    return time.strftime(layout, time.gmtime(moment))


class Fleet:
    def __init__(
        self,
        clusters: KubeDirectory,
        rows: WatchedRows | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clusters = clusters
        self._rows = rows
        self._clock = clock
        count = max(1, len(clusters.names()))
        self._pool = ThreadPoolExecutor(max_workers=2 * count, thread_name_prefix="opsbot-fleet")
        self._failing: dict[str, float] = {}
        self._lock = threading.Lock()

    def clusters(self) -> list[str]:
        return self._clusters.names()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _down(self, cluster: str) -> float | None:
        return self._rows.down_since(cluster) if self._rows is not None else None

    def _read(self, cluster: str, read: Callable[[KubePort], T]) -> T:
        try:
            value = read(self._clusters.get(cluster))
        except TemporaryKubeError:
            with self._lock:
                self._failing.setdefault(cluster, self._clock())
            raise
        with self._lock:
            self._failing.pop(cluster, None)
        return value

    def _unanswered(self, cluster: str, error: BaseException | None, timeout: float) -> Unanswered:
        now = self._clock()
        with self._lock:
            since = (
                self._failing.setdefault(cluster, now)
                if error is None or isinstance(error, TemporaryKubeError)
                else None
            )
        if error is None:
            return Unanswered(
                cluster, f"no answer within {timeout:g}s (since {since_text(since or now, now)})"
            )
        if isinstance(error, TemporaryKubeError):
            return Unanswered(cluster, f"unreachable since {since_text(since or now, now)}")
        if isinstance(error, ForbiddenError):
            return Unanswered(cluster, f"forbidden: {str(error)[:200]}")
        if isinstance(error, KubeError):
            return Unanswered(cluster, str(error)[:200])
        return Unanswered(cluster, f"failed ({type(error).__name__})")

    def each(
        self, read: Callable[[KubePort], T], clusters: Sequence[str], *, timeout: float
    ) -> dict[str, T | Unanswered]:
        now = self._clock()
        results: dict[str, T | Unanswered] = {}
        futures: dict[str, Future[T]] = {}
        for cluster in clusters:
            down = self._down(cluster)
            if down is not None:
                with self._lock:
                    since = min(down, self._failing.get(cluster, down))
                results[cluster] = Unanswered(cluster, f"unreachable since {since_text(since, now)}")
            else:
                futures[cluster] = self._pool.submit(self._read, cluster, read)
        if futures:
            wait(futures.values(), timeout=timeout)
        for cluster, future in futures.items():
            if not future.done():
                future.cancel()
                results[cluster] = self._unanswered(cluster, None, timeout)
            elif future.exception() is not None:
                results[cluster] = self._unanswered(cluster, future.exception(), timeout)
            else:
                results[cluster] = future.result()
        return {cluster: results[cluster] for cluster in clusters}
