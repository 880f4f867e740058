"""`apps` and `diff` over several clusters: 3 clusters × 300 Deployments from the watch caches,
and one unreachable cluster degrading only its own column."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.support.fleet_world import app_name, fleet_config, fleet_servers
from tests.support.harness import BotHarness, block_text, make_settings, running_bot
from tests.support.polling import until
from tests.support.slack_emulator import SlackEmulator

COUNT = 300


@pytest_asyncio.fixture
async def fleet(slack: SlackEmulator, tmp_path: Path) -> AsyncIterator[BotHarness]:
    with fleet_servers(COUNT) as servers:
        settings = make_settings(tmp_path / "unused", **fleet_config(tmp_path, servers))
        async with running_bot(slack, servers["stage"], settings) as bot:
            harness = BotHarness(slack, servers["stage"], bot)
            harness.clusters = servers  # type: ignore[attr-defined]
            for server in servers.values():
                server.wait_for_watches(3)
            await _caches_current(bot)
            yield harness


async def _caches_current(bot: object, timeout: float = 20.0) -> None:

    rows = bot.parts.rows  # type: ignore[attr-defined]
    await until(
        lambda: all(rows.deployment_rows(name, None, None) is not None for name in ("stage", "prod", "lab")),
        timeout=timeout,
    )


async def test_apps_shows_every_app_on_every_cluster_from_the_caches(fleet: BotHarness) -> None:
    before = {name: len(server.requests) for name, server in fleet.clusters.items()}  # type: ignore[attr-defined]
    reply = await fleet.ask("apps")
    text = block_text(reply)
    assert "*300* apps on *3* of 3 clusters" in text
    upload = await fleet.slack.wait_for_file()
    assert upload.thread_ts == reply.thread_ts
    table = upload.content.decode().splitlines()
    assert table[0].split() == ["APP", "NAMESPACE", "stage", "prod", "lab"]
    assert len(table) == 1 + COUNT
    row = next(line for line in table if line.startswith(app_name(5) + " "))
    assert re.search(r"1\.6\.0 2/2 ok \S+\s+1\.5\.0 2/2 ok \S+\s+1\.6\.0 2/2 ok", row), row
    assert "missing" in next(line for line in table if line.startswith(app_name(7) + " "))
    # Served from the watch caches: no cluster was listed for it.
    await fleet.settle()
    for name, server in fleet.clusters.items():  # type: ignore[attr-defined]
        assert not [
            r for r in server.requests[before[name] :] if r.method == "GET" and "watch" not in r.query
        ], name


async def test_diff_shows_only_what_differs_and_never_a_secret_value(fleet: BotHarness) -> None:
    reply = await fleet.ask("diff stage")
    upload = await fleet.slack.wait_for_file()
    content = upload.content.decode()
    lines = content.splitlines()
    assert lines[0].split() == ["APP", "WHAT", "stage", "prod", "lab"]
    shown = re.compile(r"secret-(shared|stage|prod|lab)-")
    assert not shown.search(content) and not shown.search(block_text(reply))

    def rows_of(app: str) -> list[list[str]]:
        return [line.split() for line in lines if line.split()[:1] and line.split()[0].endswith("/" + app)]

    app0 = rows_of(app_name(0))  # prod lags, 3 replicas, token differs; lab lacks it
    assert ["app", "present", "present", "missing"] in [r[1:] for r in app0]
    assert ["version", "1.1.0", "1.0.0", "-"] in [r[1:] for r in app0]
    assert ["replicas", "2", "3", "-"] in [r[1:] for r in app0]
    assert [f"{app_name(0)}:", "env", "API_TOKEN", "hidden", "differs", "-"] in [r[1:] for r in app0]
    app6 = rows_of(app_name(6))  # lab logs at debug
    assert [f"{app_name(6)}:", "env", "LOG_LEVEL", "info", "info", "debug"] in [r[1:] for r in app6]
    # An app identical everywhere is not listed; valueFrom is compared as a reference.
    assert rows_of(app_name(1)) == []
    assert "DB_PASSWORD" not in content
    assert "apps differ between stage and prod, lab" in block_text(reply)


async def test_one_unreachable_cluster_degrades_only_its_own_column(fleet: BotHarness) -> None:

    prod = fleet.clusters["prod"]  # type: ignore[attr-defined]
    rows = fleet.bot.parts.rows
    prod.pause()
    try:
        await until(lambda: rows.down_since("prod") is not None, timeout=15)
        started = time.monotonic()
        reply = await fleet.ask("apps -n team-01")
        took = time.monotonic() - started
        text = block_text(reply)
        assert re.search(r"prod:\*? unreachable since \d\d:\d\d UTC", text), text
        assert "on *2* of 3 clusters" in text
        assert "1.2.0 2/2 ok" in text  # stage's and lab's columns are there
        assert took < 2.0
    finally:
        prod.resume()
