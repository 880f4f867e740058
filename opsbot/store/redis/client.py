"""The connection to Redis and the circuit breaker in front of it.

Synchronous on purpose: the store protocols are synchronous and called on the event
loop, and a call to Redis on the same network answers in well under a millisecond. What
must never happen is the loop stalling on every call while Redis is away: every socket
operation has a short timeout, and after a connection error the `Breaker` makes calls
fail at once (`StoreUnavailable`) for a short back-off before one call probes again.
Every call is timed and every failure counted for /metrics (`metrics.CallStats`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
import structlog
from redis.backoff import NoBackoff
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


class Connection:
    """A `redis.Redis` client whose every call goes through the breaker."""

    def __init__(
        self, client: redis.Redis, *, timeout: float, retry_after: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self._timeout = timeout
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
        client = redis.Redis.from_url(
            url,
            password=password or None,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
            # One immediate retry on a fresh connection when the connection failed (a pooled
            # one may predate a restart of Redis); never a back-off loop on the event loop.
            # Never after a timeout: the command may have run, and run again it would find
            # its own write (a SET NX "already seen", a compare-and-set "changed meanwhile"),
            # so an event would be dropped as a repeat. The exclusive changes also recognise
            # their own earlier write (scripts.py), for a connection lost after sending.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(client, timeout=timeout, retry_after=retry_after, clock=clock)

    def run(self, call: Callable[[redis.Redis], _T], operation: str | None = None, *, read: bool = False) -> _T:
        """`operation`: the name /metrics gives the call; by default the method it was made in.
        `read`: the call changes nothing, so a timeout may be tried once more (a busy moment
        of Redis or of this process); a change never is (it may have run)."""
        wait = self.breaker.wait()
        if wait > 0:
            self.stats.failed("unavailable")
            raise StoreUnavailable(
                f"the shared store is unavailable ({self.breaker.reason}); trying again in {wait:.0f} s"
            )
        started = time.perf_counter()
        try:
            try:
                result = call(self.client)
            except RedisTimeoutError:
                if not read:
                    raise
                self._observe(call, operation, started)
                self.stats.failed("timeout")
                started = time.perf_counter()
                result = call(self.client)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self._observe(call, operation, started)
            self.stats.failed("timeout" if isinstance(exc, RedisTimeoutError) else "unavailable")
            reason = _describe(exc, self._timeout)
            first = self.breaker.reason is None
            self.breaker.failed(reason)
            if first:
                log.warning("store_unavailable", backend="redis", reason=reason, error=type(exc).__name__)
            raise StoreUnavailable(f"the shared store is unavailable ({reason})") from None
        except RedisError:
            self._observe(call, operation, started)
            self.stats.failed("other")
            raise
        self._observe(call, operation, started)
        if self.breaker.reason is not None:
            log.info("store_available_again", backend="redis")
            self.breaker.succeeded()
        return result

    def _observe(self, call: Callable[[redis.Redis], object], operation: str | None, started: float) -> None:
        self.stats.observe(operation or operation_of(call), time.perf_counter() - started)

    def problem(self) -> str | None:
        """None when Redis answers a PING (tried only while the breaker lets calls through)."""
        try:
            self.run(lambda client: client.ping(), "ping", read=True)
        except StoreUnavailable:
            return f"the shared store (Redis) is unavailable: {self.breaker.reason}"
        return None

    def close(self) -> None:
        self.client.close()
