"""Commands answered from the watch caches: no list per command, changes seen as they happen,
and a live list wherever a cache cannot answer truthfully."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import BotHarness, block_text, make_settings, running_bot
from tests.support.polling import until, watches_synced
from tests.support.slack_emulator import SlackEmulator

LISTS = re.compile(r"^/(api/v1|apis/apps/v1)(/namespaces/[^/]+)?/(pods|deployments|nodes)$")


def cached_settings(kubeconfig: Path, **overrides: Any) -> Any:
    return make_settings(kubeconfig, watch={"cache": True, **overrides.pop("watch", {})}, **overrides)


def list_requests(kube: FakeKubeServer) -> list[str]:
    """Lists of pods, deployments and nodes (not watch streams)."""
    return [
        r.path
        for r in kube.requests
        if r.method == "GET" and LISTS.match(r.path) and "watch" not in r.query
    ]


def prepared(kube: FakeKubeServer) -> None:
    kube.add_namespace("web")
    kube.add_namespace("pay")
    kube.add_node("node-1")
    kube.add_node("node-10")
    kube.add_node("node-2", ready=False)
    kube.add_deployment("web", "api", replicas=2)
    kube.add_deployment("pay", "ledger", replicas=1)


async def test_list_commands_are_answered_from_the_caches_without_listing(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    prepared(kube)
    async with running_bot(slack, kube, cached_settings(kubeconfig)) as bot:
        await until(lambda: watches_synced(bot))
        harness = BotHarness(slack, kube, bot)
        kube.clear_requests()
        pods = block_text(await harness.ask("pods -A"))
        assert "api-" in pods and "ledger-" in pods
        status = block_text(await harness.ask("status -A"))
        assert "Nodes ready" in status and "2/3" in status
        nodes = block_text(await harness.ask("nodes"))
        assert nodes.index("node-2") < nodes.index("node-10")  # natural order
        assert "ledger" in block_text(await harness.ask("deployments -n pay"))
        await harness.settle()
        assert list_requests(kube) == []
        assert bot.parts.rows.served >= 5


async def test_a_new_pod_shows_up_as_soon_as_the_watch_sees_it(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    prepared(kube)
    async with running_bot(slack, kube, cached_settings(kubeconfig)) as bot:
        await until(lambda: watches_synced(bot))
        kube.create(builders.pod("batch-7", "web", labels={"app": "batch"}))
        await until(lambda: any(row.name == "batch-7" for row in bot.parts.rows.pod_rows("test", "web", None) or ()))
        text = block_text(await BotHarness(slack, kube, bot).ask("pods -n web -l app=batch"))
        assert "batch-7" in text and "api-" not in text


async def test_a_namespace_no_watch_covers_is_listed_live(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    prepared(kube)
    settings = cached_settings(kubeconfig, watch={"namespaces": ["web"]})
    async with running_bot(slack, kube, settings) as bot:
        await until(lambda: watches_synced(bot))
        harness = BotHarness(slack, kube, bot)
        kube.clear_requests()
        assert "api-" in block_text(await harness.ask("pods -n web"))
        await harness.settle()
        assert list_requests(kube) == []
        assert "ledger-" in block_text(await harness.ask("pods -n pay"))
        await harness.settle()
        assert list_requests(kube) == ["/api/v1/namespaces/pay/pods"]


async def test_impersonated_reads_always_ask_the_cluster(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """The cache holds what opsbot may see; a person's own RBAC is only known to the API server."""
    prepared(kube)
    async with running_bot(slack, kube, cached_settings(kubeconfig, impersonation={"enabled": True})) as bot:
        await until(lambda: watches_synced(bot))
        harness = BotHarness(slack, kube, bot)
        kube.clear_requests()
        await harness.ask("pods -n web")
        await harness.settle()
        asked = [r for r in kube.requests if r.path == "/api/v1/namespaces/web/pods" and "watch" not in r.query]
        assert len(asked) == 1 and asked[0].user == "slack:U0ALICE01"


async def test_reads_the_caches_answer_take_no_turn_and_live_ones_do(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """`commands.max_heavy_reads` bounds big lists held in memory: a read from the cache holds none."""
    prepared(kube)
    settings = cached_settings(kubeconfig, watch={"namespaces": ["web", "pay"]}, commands={"max_heavy_reads": 1})
    async with running_bot(slack, kube, settings) as bot:
        await until(lambda: watches_synced(bot))
        harness = BotHarness(slack, kube, bot)
        kube.clear_requests()
        kube.delay(r"^/api/v1/pods$", 1.5)  # no watch covers all namespaces: listed live, slowly
        slow = asyncio.create_task(harness.ask("pods -A", channel="C0LIVE001"))
        await until(lambda: "/api/v1/pods" in list_requests(kube))  # it holds the only turn now
        for channel in ("C0CACHE01", "C0CACHE02"):
            assert "Cluster status" in block_text(await harness.ask("status -n web", channel=channel))
        assert "in line" in block_text(await harness.ask("pods -A", channel="C0LIVE002"))
        assert "Pods" in block_text(await slow)
        await harness.settle()
