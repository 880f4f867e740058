"""Several `opsbot run` processes as replicas (`ha.enabled`, `store.backend: redis`).

Each replica is a real child process with its own identity, health port and log file,
sharing one Slack emulator (which spreads envelopes over their Socket Mode connections),
one fake API server and one redis-server. Used by tests/e2e/test_replicas_processes.py
and bench/replicas.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.harness import base_config
from tests.support.loopback import free_port
from tests.support.polling import until
from tests.support.process import ROOT, slack_environment
from tests.support.slack_emulator import SlackEmulator

TIMING = {"lease_duration_seconds": 1.5, "renew_deadline_seconds": 1.0, "retry_period_seconds": 0.1}
LEASE = "opsbot-leader-test"
REDIS_URL_ENV = "OPSBOT_REDIS_URL"


def replica_config(directory: Path, kubeconfig: Path, name: str, health: int, **overrides: Any) -> Path:
    """A replica's config: ha on with short lease timings, the Redis store, a fixed health port."""
    data = base_config(kubeconfig, directory / f"{name}.db")
    data["store"]["backend"] = "redis"
    # `ha` in the overrides is merged (lease timings), so the identity stays the replica's.
    data["ha"] = {"enabled": True, "namespace": "default", **TIMING, **overrides.pop("ha", {}), "identity": name}
    data["health"] = {"host": "127.0.0.1", "port": health}
    data["logging"] = {"level": "info"}
    data.update(overrides)
    path = directory / f"config-{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Replica:
    name: str
    process: asyncio.subprocess.Process
    health: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def readyz(self) -> tuple[int, dict[str, Any]]:
        """/readyz's status and body; (0, {}) while nothing listens."""
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    f"http://127.0.0.1:{self.health}/readyz", timeout=aiohttp.ClientTimeout(total=3)
                ) as resp,
            ):
                return resp.status, await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return 0, {}

    async def counter(self, family: str) -> float:
        """The sum of a counter family's `_total` samples in /metrics (all labels)."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"http://127.0.0.1:{self.health}/metrics", timeout=aiohttp.ClientTimeout(total=3)
            ) as resp,
        ):
            text = await resp.text()
        return sum(
            sample.value
            for metric in text_string_to_metric_families(text)
            if metric.name == family
            for sample in metric.samples
            if sample.name == f"{family}_total"
        )

    async def wait_ready(self, timeout: float = 30.0) -> None:
        async def probe() -> None:
            while True:
                if self.process.returncode is not None:
                    raise AssertionError(f"{self.name} exited {self.process.returncode}:\n{self.tail()}")
                if (await self.readyz())[0] == 200:
                    return
                await asyncio.sleep(0.05)

        try:
            await asyncio.wait_for(probe(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} not ready within {timeout} s:\n{self.tail()}") from None

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    async def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the exit code (SIGKILL after `timeout`)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(
                f"{self.name} did not exit within {timeout} s of SIGTERM:\n{self.tail()}"
            ) from None

    async def kill(self) -> None:
        """kill -9: no step-down, no lease release, nothing flushed."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


class Replicas:
    """Starts and stops replica processes; stops whatever is still running on `close()`."""

    def __init__(
        self,
        slack: SlackEmulator,
        kubeconfig: Path,
        directory: Path,
        redis_url: str,
        *,
        program: Sequence[str] = ("-m", "opsbot"),
        **overrides: Any,
    ) -> None:
        """`program`: the interpreter's arguments before `run --config ...` (bench.replicas runs
        bench.memory's AS_IN_THE_IMAGE, which hides the test-only packages)."""
        self.slack = slack
        self.program = tuple(program)
        self.kubeconfig = kubeconfig
        self.directory = directory
        self.redis_url = redis_url
        self.overrides = overrides
        self.started: list[Replica] = []
        directory.mkdir(parents=True, exist_ok=True)

    async def start(self, name: str, environ: Mapping[str, str] | None = None) -> Replica:
        """Start one replica (not waiting for it)."""
        health = free_port()
        config = replica_config(self.directory, self.kubeconfig, name, health, **self.overrides)
        log = self.directory / f"{name}.log"
        environment = {**slack_environment(self.slack), REDIS_URL_ENV: self.redis_url, **(environ or {})}
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, *self.program, "run", "--config", str(config),
                cwd=ROOT, env=environment, stdout=out, stderr=out,
            )  # fmt: skip
        replica = Replica(name, process, health, log)
        self.started.append(replica)
        return replica

    async def start_ready(self, *names: str, timeout: float = 40.0) -> list[Replica]:
        """Start replicas at once and wait until each says ready on /readyz."""
        replicas = [await self.start(name) for name in names]
        await asyncio.gather(*(r.wait_ready(timeout) for r in replicas))
        return replicas

    def running(self) -> list[Replica]:
        return [r for r in self.started if r.process.returncode is None]

    async def close(self) -> None:
        await asyncio.gather(*(r.terminate() for r in self.running()), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.slack.settle(timeout=2.0)


def holder(kube: Any) -> str | None:
    """Who holds the cluster's alert lease at the fake API server."""
    lease = kube.get("leases", "default", LEASE)
    return None if lease is None else lease.get("spec", {}).get("holderIdentity")


async def wait_for_holder(kube: Any, among: set[str], timeout: float = 10.0) -> str:
    await until(lambda: holder(kube) in among, timeout=timeout)
    found = holder(kube)
    assert found is not None
    return found
