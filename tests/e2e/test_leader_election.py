"""Leader election over a real Lease on the fake API server (real client, resourceVersion
conflicts): one leader at a time, stepping down before anyone else may take over, and an
immediate handover when the leader shuts down."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opsbot.app.parts import PoolRunner
from opsbot.config import ClusterSettings
from opsbot.ha.elector import LeaderElector
from opsbot.kube.directory import ClusterDirectory
from tests.support.fake_kube import FakeKubeServer
from tests.support.polling import until

TIMING = {"lease_duration": 1.5, "renew_deadline": 0.8, "retry_period": 0.1}


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def callbacks(self, who: str) -> dict[str, object]:
        async def started() -> None:
            self.events.append((who, "started"))
            self.changed.set()

        async def stopped() -> None:
            self.events.append((who, "stopped"))
            self.changed.set()

        return {"on_started": started, "on_stopped": stopped}

    async def wait_for(self, event: tuple[str, str], timeout: float = 10.0) -> None:
        async def seen() -> None:
            while event not in self.events:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(seen(), timeout)


def elector(directory: ClusterDirectory, pool: ThreadPoolExecutor, log: Log, who: str) -> LeaderElector:
    return LeaderElector(
        directory.get("test"),
        PoolRunner(pool),
        cluster="test",
        namespace="default",
        name="opsbot-leader-test",
        identity=who,
        **TIMING,  # type: ignore[arg-type]
        **log.callbacks(who),  # type: ignore[arg-type]
    )


async def test_one_leader_and_an_immediate_handover_when_it_stops(kube: FakeKubeServer, kubeconfig: Path) -> None:
    directory = ClusterDirectory({"test": ClusterSettings(kubeconfig=str(kubeconfig), context="fake")})
    log = Log()
    with ThreadPoolExecutor(4) as pool:
        a, b = elector(directory, pool, log, "a"), elector(directory, pool, log, "b")
        a.start()
        await log.wait_for(("a", "started"))
        b.start()
        for _ in range(10):  # b campaigns for a while and never leads
            await asyncio.sleep(TIMING["retry_period"])
        assert not b.leading and b.holder == "a"
        loop = asyncio.get_running_loop()
        stopped_at = loop.time()
        await a.stop()
        await log.wait_for(("b", "started"))
        # Released: b takes over at its next attempt, not a lease duration later.
        assert loop.time() - stopped_at < TIMING["lease_duration"]
        assert log.events == [("a", "started"), ("a", "stopped"), ("b", "started")]
        lease = kube.get("leases", "default", "opsbot-leader-test")
        assert lease is not None and lease["spec"]["holderIdentity"] == "b"
        assert lease["spec"]["leaseTransitions"] == 1  # created by a (0), taken over by b
        await b.stop()
    directory.close()


async def test_a_leader_cut_off_from_the_api_server_steps_down_before_its_lease_expires(
    kube: FakeKubeServer, kubeconfig: Path
) -> None:
    directory = ClusterDirectory({"test": ClusterSettings(kubeconfig=str(kubeconfig), context="fake")})
    log = Log()
    with ThreadPoolExecutor(4) as pool:
        a = elector(directory, pool, log, "a")
        a.start()
        await log.wait_for(("a", "started"))
        lost_at_latest = asyncio.get_running_loop().time() + TIMING["lease_duration"]
        kube.delay(r"/leases/opsbot-leader-test$", 5)  # every lease request now hangs
        await log.wait_for(("a", "stopped"))
        assert asyncio.get_running_loop().time() < lost_at_latest
        assert not a.leading
        kube.delay(r"/leases/opsbot-leader-test$", 0)
        await a.stop()
    directory.close()


async def test_a_leader_whose_start_failed_undoes_it_and_starts_again_at_the_next_attempt(
    kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """E.g. the shared store did not answer while the incidents were loaded: holding the lease
    without acting on it would leave the cluster without alerts until a restart."""
    directory = ClusterDirectory({"test": ClusterSettings(kubeconfig=str(kubeconfig), context="fake")})
    log = Log()
    failures = [RuntimeError("the shared store is unavailable")]

    async def started() -> None:
        log.events.append(("a", "started"))
        log.changed.set()
        if failures:
            raise failures.pop()

    with ThreadPoolExecutor(4) as pool:
        a = elector(directory, pool, log, "a")
        a._on_started = started
        a.start()
        await until(lambda: len(log.events) == 3, timeout=10)
        assert log.events == [("a", "started"), ("a", "stopped"), ("a", "started")]
        assert a.leading and a.holder == "a"
        await a.stop()
    directory.close()
