"""Stopping a leader's election loop (opsbot.ha.elector.LeaderElector.stop) ends it whenever
the stop lands, the lease in memory and the blocking calls released by the test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from opsbot.ha.elector import LeaderElector
from tests.support.polling import until


class Leases:
    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.lease

    def create_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]:
        return self.replace_lease(namespace, lease["metadata"]["name"], lease)

    def replace_lease(self, namespace: str, name: str, lease: dict[str, Any]) -> dict[str, Any]:
        self.lease = {**lease, "metadata": {**lease["metadata"], "resourceVersion": "1"}}
        return self.lease


class HeldRenewals:
    """Runs the port's calls at once, except renewals while `holding`: those wait for `renewal`."""

    def __init__(self) -> None:
        self.holding = False
        self.renewal: asyncio.Future[None] | None = None

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        if self.holding and function.__name__ == "replace_lease":
            self.renewal = asyncio.get_running_loop().create_future()
            await self.renewal
        return function(*args)


async def nothing() -> None:
    pass


async def test_a_stop_landing_as_a_renewal_completes_still_ends_the_loop() -> None:
    """Python 3.11's wait_for returns the renewal's result instead of the cancel that landed
    with it: the loop went on, and the replica's shutdown hung."""
    run = HeldRenewals()
    elector = LeaderElector(
        cast(Any, Leases()), cast(Any, run), cluster="test", namespace="default", name="opsbot-leader-test", identity="a",
        lease_duration=15, renew_deadline=10, retry_period=0.01, on_started=nothing, on_stopped=nothing,
    )  # fmt: skip
    elector.start()
    await until(lambda: elector.leading)
    run.holding = True
    await until(lambda: run.renewal is not None)  # the next renewal, under wait_for's deadline
    run.holding = False
    assert run.renewal is not None
    run.renewal.set_result(None)  # it completes ...
    stopping = asyncio.create_task(elector.stop())  # ... as the stop cancels it
    await asyncio.wait_for(stopping, timeout=5)
    assert not elector.leading
