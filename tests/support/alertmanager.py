"""The real Alertmanager (Debian's prometheus-alertmanager) on loopback, configured by the test.

Alerts go in through its own API (``POST /api/v2/alerts``, as Prometheus pushes them), so
grouping, repeats and resolve notifications are Alertmanager's own. `make test` installs the
binary when it is missing and it may (root + apt); otherwise these tests skip, saying how.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.support.loopback import free_port

BINARY = os.environ.get("ALERTMANAGER_BIN", "/usr/bin/prometheus-alertmanager")
INSTALL_HINT = (
    "install Alertmanager: sudo apt-get install -y prometheus-alertmanager (or set ALERTMANAGER_BIN)"
)
WEBHOOK_TOKEN = "test-webhook-token-0123456789abcdef"


def binary() -> str | None:
    return BINARY if os.access(BINARY, os.X_OK) else shutil.which("prometheus-alertmanager")


def require_alertmanager() -> str:
    found = binary()
    if found is None:
        pytest.skip(INSTALL_HINT)
    return found



def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def notification(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    starts_at: str = "2030-01-01T10:00:00Z",
    fingerprint: str = "00000000000000bb",
    external_url: str = "http://alertmanager.test",
    **alert_fields: Any,
) -> dict[str, Any]:
    """A webhook notification (version 4) of one firing alert `name`, as Alertmanager posts it
    (for tests that post to the receiver themselves rather than through a real Alertmanager)."""
    labels = {"alertname": name, "severity": "warning", **(labels or {})}
    annotations = dict(annotations or {})
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "status": "firing",
        "receiver": "opsbot",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,  # one alert: all its labels are common
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": starts_at,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": fingerprint,
                **alert_fields,
            }
        ],
    }


class Alertmanager:
    """One Alertmanager process; `webhook_url` is where its receiver `opsbot` sends."""

    def __init__(
        self,
        workdir: Path,
        webhook_url: str,
        *,
        token: str = WEBHOOK_TOKEN,
        group_by: Sequence[str] = ("alertname",),
        group_wait: str = "1s",
        group_interval: str = "1s",
        repeat_interval: str = "1h",
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = {
            "route": {
                "receiver": "opsbot",
                "group_by": list(group_by),
                "group_wait": group_wait,
                "group_interval": group_interval,
                "repeat_interval": repeat_interval,
            },
            "receivers": [
                {
                    "name": "opsbot",
                    "webhook_configs": [
                        {
                            "url": webhook_url,
                            "send_resolved": True,
                            "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                        }
                    ],
                }
            ],
        }
        self._process: asyncio.subprocess.Process | None = None
        self._log: Any = None
        self._session: aiohttp.ClientSession | None = None

    def _log_file(self) -> Any:
        self._log = (self.workdir / "alertmanager.log").open("wb")
        return self._log

    async def start(self) -> Alertmanager:
        executable = require_alertmanager()
        config = self.workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(self.config))
        self._process = await asyncio.create_subprocess_exec(
            executable,
            f"--config.file={config}",
            f"--storage.path={self.workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",
            "--log.level=warn",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self._log_file(),
        )
        self._session = aiohttp.ClientSession(trust_env=False)
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            try:
                async with self._session.get(self.url + "/-/ready") as response:
                    if response.status == 200:
                        return self
            except aiohttp.ClientError:
                pass
            if self._process.returncode is not None or asyncio.get_running_loop().time() > deadline:
                log = (self.workdir / "alertmanager.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Alertmanager did not start: {log}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._log is not None:
            self._log.close()

    async def __aenter__(self) -> Alertmanager:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # the API -------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        assert self._session is not None
        async with self._session.request(method, self.url + "/api/v2" + path, json=body) as response:
            text = await response.text()
            assert response.status < 300, f"{method} {path}: {response.status} {text}"
            return await response.json(content_type=None) if text else None

    async def fire(
        self,
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
        *,
        generator_url: str = "http://prometheus.test/graph?g0.expr=up",
    ) -> None:
        """Push a firing alert, as Prometheus does (no endsAt: it fires until resolved)."""
        await self.fire_many([labels], annotations, generator_url=generator_url)

    async def fire_many(
        self,
        labels: Sequence[Mapping[str, str]],
        annotations: Mapping[str, str] | None = None,
        *,
        generator_url: str = "http://prometheus.test/graph?g0.expr=up",
    ) -> None:
        now = datetime.now(UTC)
        await self._call(
            "POST",
            "/alerts",
            [
                {
                    "labels": dict(item),
                    "annotations": dict(annotations or {}),
                    "startsAt": iso(now),
                    "endsAt": iso(now + timedelta(hours=1)),
                    "generatorURL": generator_url,
                }
                for item in labels
            ],
        )

    async def resolve(self, labels: Mapping[str, str]) -> None:
        """Push the alert again with endsAt now: Alertmanager resolves it (and notifies)."""
        await self._call("POST", "/alerts", [{"labels": dict(labels), "endsAt": iso(datetime.now(UTC))}])

    async def alerts(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/alerts") or [])

    async def silences(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/silences") or [])

    async def wait_for(self, check: Any, timeout: float = 15.0, what: str = "condition") -> Any:
        """Poll the API until `check()` (a coroutine function) returns something truthy."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = await check()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"Alertmanager: no {what} within {timeout}s")
            await asyncio.sleep(0.1)
