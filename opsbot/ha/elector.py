"""Leader election for one cluster's alert loops, over a Lease (see `opsbot.ha.lease`).

Every `retry_period` the candidate reads the lease and creates, takes over or renews it,
or waits. A leader that has not renewed for `renew_deadline` stops leading *before*
anyone else may take over (the settings require renew_deadline + retry_period <
lease_duration), so two replicas never run the same cluster's alert loops at once. At
shutdown the leader releases the lease, so the next candidate takes over at once
instead of after a whole lease duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from opsbot.errors import ConflictError, OpsbotError
from opsbot.ha import lease as rules
from opsbot.ports import LeasePort, RunBlocking

log = structlog.get_logger("opsbot.ha")

Callback = Callable[[], Awaitable[None]]


class LeaderElector:
    def __init__(
        self,
        port: LeasePort,
        run_blocking: RunBlocking,
        *,
        cluster: str,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float,
        renew_deadline: float,
        retry_period: float,
        on_started: Callback,
        on_stopped: Callback,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cluster = cluster
        self._port = port
        self._run = run_blocking
        self._namespace = namespace
        self._name = name
        self.identity = identity
        self._duration = lease_duration
        self._deadline = renew_deadline
        self._retry = retry_period
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._monotonic = monotonic
        self._wall = wall
        self._observed: rules.Observed | None = None
        self._renewed_at = 0.0
        self.leading = False
        self.holder = ""  # who leads, as last seen
        self.transitions = 0  # times this replica became leader
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"leader:{self.cluster}")

    async def stop(self) -> None:
        """Stop campaigning; a leader stops leading and releases the lease."""
        await self._end_campaign()
        if self.leading:
            await self._lose("shutting down")
            await self._release()

    async def abandon(self) -> None:
        """Stop campaigning as a crashed process would: no step-down, no release (the lease
        expires on its own). For benchmarks and tests of a replica that was killed."""
        await self._end_campaign()
        self.leading = False

    async def _end_campaign(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                budget = self._deadline - (self._monotonic() - self._renewed_at) if self.leading else None
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancel that
                # lands as the attempt completes (it returns the result), and stop() would wait
                # for a loop that goes on.
                async with asyncio.timeout(max(0.05, budget) if budget is not None else None):
                    await self._attempt()
            except asyncio.CancelledError:
                raise
            except ConflictError:
                log.info("lease_conflict", cluster=self.cluster, lease=self._name)
            except (TimeoutError, OpsbotError) as exc:
                self.errors += 1
                log.warning(
                    "lease_unavailable", cluster=self.cluster, error=str(exc)[:200] or type(exc).__name__
                )
            except Exception:
                self.errors += 1
                log.exception("lease_attempt_failed", cluster=self.cluster)
            if self.leading and self._monotonic() - self._renewed_at > self._deadline:
                await self._lose("could not renew the lease in time")
            await asyncio.sleep(self._retry)

    async def _attempt(self) -> None:
        found = await self._run(self._port.get_lease, self._namespace, self._name)
        now = self._monotonic()
        record = rules.read(found) if found is not None else None
        self._observed = rules.observe(self._observed, record, now) if record is not None else None
        decision = rules.decide(self._observed, self.identity, now)
        if isinstance(decision, rules.Wait):
            self.holder = decision.holder
            if self.leading:
                await self._lose(f"{decision.holder} holds the lease")
            return
        body = rules.lease_body(
            self._name,
            self._namespace,
            self.identity,
            decision,
            record,
            timedelta(seconds=self._duration),
            self._wall(),
        )
        if isinstance(decision, rules.Create):
            written = await self._run(self._port.create_lease, self._namespace, body)
        else:
            written = await self._run(self._port.replace_lease, self._namespace, self._name, body)
        self._renewed_at = self._monotonic()
        self._observed = rules.observe(None, rules.read(written), self._renewed_at)
        self.holder = self.identity
        if not self.leading:
            self.leading = True
            self.transitions += 1
            log.info(
                "leading", cluster=self.cluster, identity=self.identity, how=type(decision).__name__.lower()
            )
            try:
                await self._on_started()
            except Exception:
                # Holding the lease without acting on it would leave the cluster unwatched
                # until a restart: undo what started; the next attempt (still the holder)
                # starts again.
                await self._lose("could not start leading")
                raise

    async def _lose(self, why: str) -> None:
        self.leading = False
        log.warning("stopped_leading", cluster=self.cluster, identity=self.identity, why=why)
        await self._on_stopped()

    async def _release(self) -> None:
        try:
            found = await self._run(self._port.get_lease, self._namespace, self._name)
            if found is None:
                return
            record = rules.read(found)
            if record.holder != self.identity:
                return
            body = rules.released_body(self._name, self._namespace, record, self._wall())
            await self._run(self._port.replace_lease, self._namespace, self._name, body)
            log.info("lease_released", cluster=self.cluster, identity=self.identity)
        except Exception as exc:  # best effort: the lease expires on its own
            log.warning("lease_release_failed", cluster=self.cluster, error=str(exc)[:200])
