"""What /metrics says about the Redis store: call latency by operation, errors by kind, and
whether the breaker lets calls through.

Why plain counters here and prometheus families at scrape time: the connection exists
before the bot (and its registry) does, and every Bot has a registry of its own. Recording
a call costs two clock reads and a few additions under an uncontended lock (about a
microsecond, against tens of microseconds for the round trip to Redis).
"""

from __future__ import annotations

import functools
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from opsbot.store.redis.client import Connection

# Redis on the same network answers in well under a millisecond; the socket timeout is 0.5 s.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ErrorKind = Literal["unavailable", "timeout", "other"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("unavailable", "timeout", "other")


def operation_of(call: Callable[..., Any]) -> str:
    """The store method a call was made from: `RedisStore.put_incident.<locals>.<lambda>` →
    `put_incident` (so the call sites need not name themselves)."""
    return _operation(getattr(call, "__qualname__", ""))


@functools.cache
def _operation(qualname: str) -> str:
    head = qualname.rsplit(".<locals>", 1)[0] if ".<locals>" in qualname else ""
    return head.rsplit(".", 1)[-1] or "other"


class CallStats:
    """Seconds per call by operation (a histogram), and failed calls by kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}  # operation → calls per bucket (the last: over them all)
        self._sums: dict[str, float] = {}
        self.errors: dict[ErrorKind, int] = dict.fromkeys(ERROR_KINDS, 0)

    def observe(self, operation: str, seconds: float) -> None:
        index = bisect_left(BUCKETS, seconds)
        with self._lock:
            counts = self._counts.get(operation)
            if counts is None:
                counts = self._counts[operation] = [0] * (len(BUCKETS) + 1)
                self._sums[operation] = 0.0
            counts[index] += 1
            self._sums[operation] += seconds

    def failed(self, kind: ErrorKind) -> None:
        with self._lock:
            self.errors[kind] += 1

    def histograms(self) -> dict[str, tuple[list[tuple[str, float]], float]]:
        """operation → (cumulative buckets as Prometheus wants them, sum of seconds)."""
        with self._lock:
            snapshot = {op: (list(counts), self._sums[op]) for op, counts in self._counts.items()}
        result: dict[str, tuple[list[tuple[str, float]], float]] = {}
        for op, (counts, total) in sorted(snapshot.items()):
            running, buckets = 0, []
            for bound, count in zip([*map(repr, BUCKETS), "+Inf"], counts, strict=True):
                running += count
                buckets.append((bound, float(running)))
            result[op] = (buckets, total)
        return result


class StoreCollector(Collector):
    """/metrics: opsbot_store_call_seconds, opsbot_store_errors_total, opsbot_store_up (Redis)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        stats = self._connection.stats
        calls = HistogramMetricFamily(
            "opsbot_store_call_seconds", "Calls to the shared store (Redis) that reached it, by operation.",
            labels=["operation"],
        )  # fmt: skip
        for operation, (buckets, total) in stats.histograms().items():
            calls.add_metric([operation], buckets, total)
        yield calls
        errors = CounterMetricFamily(
            "opsbot_store_errors",
            "Store calls that failed: unavailable (unreachable, or refused at once by the open breaker), "
            "timeout (no answer in time), other (Redis answered with an error).",
            labels=["kind"],
        )
        for kind in ERROR_KINDS:
            errors.add_metric([kind], stats.errors[kind])
        yield errors
        yield GaugeMetricFamily(
            "opsbot_store_up", "1 while the breaker lets calls to the store through (0: Redis is unavailable).",
            1.0 if self._connection.breaker.reason is None else 0.0,
        )  # fmt: skip
