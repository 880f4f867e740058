"""The store's hot calls, SQLite (the baseline, one file) against Redis on loopback, same run.

Each call is timed one at a time, as the bot makes them: awaited on an event loop
(`put_incident`, `first_notification`, an approval compare-and-set `replace_approval`: on
Redis, redis-py's asyncio client) or from a worker thread (`append_audit`: its synchronous
client). Redis is a real redis-server started here
(Debian's package; `make bench` installs it), with `appendonly yes` and
`appendfsync everysec`, the setting a deployment would use; SQLite runs as the bot runs
it (WAL, synchronous=NORMAL). Figures printed, never asserted.

    python -m bench.store [--calls 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._common import Summary, environment_line, format_table
from opsbot.store.protocol import StateStore
from opsbot.store.redis import Connection, RedisStore
from opsbot.store.sqlite import SqliteStore
from tests.support.redis_server import RedisServer

INCIDENT = {"id": "i", "kind": "crashloop", "cluster": "prod", "namespace": "web", "pod": "api-7c9d", "n": 0}


async def timed(call: Callable[[int], object], calls: int) -> list[float]:
    """Seconds per call; a call that returns an awaitable is awaited (and timed) too."""
    seconds = []
    for n in range(calls):
        started = time.perf_counter()
        result = call(n)
        if inspect.isawaitable(result):
            await result
        seconds.append(time.perf_counter() - started)
    return seconds


async def workloads(store: StateStore, calls: int) -> list[tuple[str, list[float]]]:
    for n in range(calls):
        await store.put_approval(f"a{n}", "pending", {"id": f"a{n}", "revision": 0})

    def cas(n: int) -> object:
        return store.replace_approval(f"a{n}", "executing", {"id": f"a{n}", "revision": 1}, revision=0)

    def audit(n: int) -> None:
        store.append_audit(float(n), "U1", "command", {"command": "pods", "n": n})

    return [
        ("put_incident", await timed(lambda n: store.put_incident(f"i{n % 200}", f"k{n}", "open", "C1", INCIDENT), calls)),
        ("first_notification", await timed(lambda n: store.first_notification(f"n{n}", float(n)), calls)),
        ("approval CAS", await timed(cas, calls)),
        ("append_audit", await timed(audit, calls)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("bench.store: redis-server is not installed (make bench installs it)")
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        sqlite = SqliteStore(Path(workdir) / "opsbot.db")
        for name, seconds in asyncio.run(workloads(sqlite, args.calls)):
            rows.append(("sqlite", Summary.of(name, seconds)))
        sqlite.close()
        server = RedisServer(Path(workdir) / "redis", appendonly=True)
        server.appendfsync = "everysec"
        server.start()
        try:
            redis = RedisStore(Connection.from_url(server.url, password=None, timeout=0.5, retry_after=2.0))

            async def measured() -> list[tuple[str, list[float]]]:
                try:
                    return await workloads(redis, args.calls)
                finally:
                    await redis.aclose()

            for name, seconds in asyncio.run(measured()):
                rows.append(("redis", Summary.of(name, seconds)))
        finally:
            server.stop()
    print(f"store hot calls, {args.calls} each, one at a time ({environment_line()})")
    print(
        format_table(
            ("backend", "call", "p50 ms", "p99 ms", "max ms"),
            [(backend, s.name, f"{s.p50:.3f}", f"{s.p99:.3f}", f"{s.max:.3f}") for backend, s in rows],
        )
    )


if __name__ == "__main__":
    main()
