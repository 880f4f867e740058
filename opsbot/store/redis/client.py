"""The connection to Redis and the circuit breaker in front of it.

Two clients of redis-py over one breaker: the asyncio client (`arun`) for what runs on the
event loop (the loop never waits on a socket), and the synchronous one (`run`) for what runs
in worker threads (commands, release work, audit, housekeeping), which may block. Every
socket operation has a short timeout, and after a connection error the `Breaker` makes
calls of either kind fail at once (`StoreUnavailable`) for a short back-off before one call
probes again. Every call is timed and every failure counted for /metrics
(`metrics.CallStats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import redis
import redis.asyncio
import structlog
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from opsbot.errors import StoreUnavailable
from opsbot.store.redis.metrics import CallStats, operation_of

log = structlog.get_logger("opsbot.store")

_T = TypeVar("_T")


class Breaker:
    """Closed while calls succeed; open for `retry_after` seconds after a failure, then one
    call at a time may probe. Pure bookkeeping: the caller says what happened."""

    def __init__(self, retry_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self.reason: str | None = None

    def wait(self) -> float:
        """Seconds until calls may be tried again (0: now)."""
        with self._lock:
            return max(0.0, self._open_until - self._clock()) if self.reason is not None else 0.0

    def failed(self, reason: str) -> None:
        with self._lock:
            self.reason = reason
            self._open_until = self._clock() + self._retry_after

    def succeeded(self) -> None:
        with self._lock:
            self.reason = None
            self._open_until = 0.0


def _describe(exc: Exception, timeout: float) -> str:
    """Why, for people: never the URL (it may carry a password)."""
    if isinstance(exc, AuthenticationError):
        return "Redis refused the password"
    if isinstance(exc, RedisTimeoutError):
        return f"Redis did not answer within {timeout:g} s"
    return "Redis cannot be reached"


AsyncClientFactory = Callable[[], redis.asyncio.Redis]


class Connection:
    """A `redis.Redis` client and a `redis.asyncio.Redis` one, every call through the breaker."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        timeout: float,
        retry_after: float,
        async_client: AsyncClientFactory,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._timeout = timeout
        self._new_async_client = async_client
        self._async: tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis] | None = None
        self._encoder: redis.asyncio.Redis | None = None
        self.breaker = Breaker(retry_after, clock)
        self.stats = CallStats()
        """Seconds per call and errors, for /metrics (`metrics.StoreCollector`)."""

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        password: str | None,
        timeout: float,
        retry_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> Connection:
        options: dict[str, Any] = {
            "password": password or None,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "decode_responses": True,
        }
        # One immediate retry on a fresh connection when the connection failed (a pooled one
        # may predate a restart of Redis); never a back-off loop. Never after a timeout: the
        # command may have run, and run again it would find its own write (a SET NX "already
        # seen", a compare-and-set "changed meanwhile"), so an event would be dropped as a
        # repeat. The exclusive changes also recognise their own earlier write (scripts.py),
        # for a connection lost after sending.
        client = redis.Redis.from_url(
            url, retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)), **options
        )

        def async_client() -> redis.asyncio.Redis:
            retry = AsyncRetry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
            return redis.asyncio.Redis.from_url(url, retry=retry, **options)

        return cls(client, timeout=timeout, retry_after=retry_after, async_client=async_client, clock=clock)

    @property
    def async_client(self) -> redis.asyncio.Redis:
        """The asyncio client of the running loop. Its connections belong to one loop, so a
        new loop (tests run one per test; the bot has one) gets a client of its own."""
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            self._async = (loop, self._new_async_client())
        return self._async[1]

    def async_script(self, source: str) -> AsyncScript:
        """A Lua script for `arun` calls (each passes its client: `script(keys=…, client=r)`)."""
        if self._encoder is None:  # a client that never connects: it only encodes the sources
            self._encoder = self._new_async_client()
        return AsyncScript(self._encoder, source)

    def run(self, call: Callable[[redis.Redis], _T], operation: str | None = None, *, read: bool = False) -> _T:
        """From a worker thread. `operation`: the name /metrics gives the call; by default the
        method it was made in. `read`: the call changes nothing, so a timeout may be tried
        once more (a busy moment of Redis or of this process); a change never is (it may
        have run)."""
        self._refuse_while_open()
        with self._timed(call, operation) as timing:
            try:
                return call(self.client)
            except RedisTimeoutError:
                if not read:
                    raise
                timing.again()
                return call(self.client)

    async def arun(
        self, call: Callable[[redis.asyncio.Redis], Awaitable[_T]], operation: str | None = None, *, read: bool = False
    ) -> _T:
        """`run` on the event loop, with the asyncio client."""
        self._refuse_while_open()
        client = self.async_client
        with self._timed(call, operation) as timing:
            try:
                return await call(client)
            except RedisTimeoutError:
                if not read:
                    raise
                timing.again()
                return await call(client)

    @contextlib.contextmanager
    def _timed(self, call: Callable[..., object], operation: str | None) -> Iterator[_Timing]:
        """Times the call (each try), counts how it failed, opens or closes the breaker."""
        timing = _Timing(self.stats, operation or operation_of(call))
        try:
            yield timing
        except (RedisConnectionError, RedisTimeoutError) as exc:
            timing.observe()
            raise self._unreachable(exc) from None
        except RedisError:
            timing.observe()
            self.stats.failed("other")
            raise
        timing.observe()
        if self.breaker.reason is not None:
            log.info("store_available_again", backend="redis")
            self.breaker.succeeded()

    def _refuse_while_open(self) -> None:
        wait = self.breaker.wait()
        if wait > 0:
            self.stats.failed("unavailable")
            raise StoreUnavailable(
                f"the shared store is unavailable ({self.breaker.reason}); trying again in {wait:.0f} s"
            )

    def _unreachable(self, exc: RedisConnectionError | RedisTimeoutError) -> StoreUnavailable:
        """Counted, the breaker opened (said once per outage), and what to raise instead."""
        self.stats.failed("timeout" if isinstance(exc, RedisTimeoutError) else "unavailable")
        reason = _describe(exc, self._timeout)
        first = self.breaker.reason is None
        self.breaker.failed(reason)
        if first:
            log.warning("store_unavailable", backend="redis", reason=reason, error=type(exc).__name__)
        return StoreUnavailable(f"the shared store is unavailable ({reason})")

    def problem(self) -> str | None:
        """None when Redis answers a PING (tried only while the breaker lets calls through)."""
        try:
            self.run(lambda client: client.ping(), "ping", read=True)
        except StoreUnavailable:
            return f"the shared store (Redis) is unavailable: {self.breaker.reason}"
        return None

    async def aproblem(self) -> str | None:
        """`problem`, on the event loop."""
        try:
            await self.arun(lambda client: client.ping(), "ping", read=True)
        except StoreUnavailable:
            return f"the shared store (Redis) is unavailable: {self.breaker.reason}"
        return None

    def close(self) -> None:
        """The synchronous client; the asyncio one is closed by `aclose`, on its loop."""
        self.client.close()

    async def aclose(self) -> None:
        """Both clients (the asyncio one only if made on this loop)."""
        if self._async is not None and self._async[0] is asyncio.get_running_loop():
            await self._async[1].aclose()
        self._async = None
        self.close()


class _Timing:
    """One call's seconds (per try) for /metrics."""

    def __init__(self, stats: CallStats, operation: str) -> None:
        self._stats = stats
        self._operation = operation
        self._started = time.perf_counter()

    def observe(self) -> None:
        self._stats.observe(self._operation, time.perf_counter() - self._started)

    def again(self) -> None:
        """A read that timed out is tried once more: this try counted, the next one timed."""
        self.observe()
        self._stats.failed("timeout")
        self._started = time.perf_counter()
