"""Several replicas (`ha.enabled`): real bots sharing one fake API server, one Slack emulator
and one real redis-server as their store; each cluster's alerts come from its Lease holder
only, and every replica serves commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsbot.alerts.actions import MUTE_1H_ACTION, MUTE_24H_ACTION
from opsbot.app import Bot
from tests.e2e.test_alerts import alert_settings, crash, pod_names, roots
from tests.e2e.test_cli import checks, doctor, write_config
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALERTS, ALICE, CHANNEL, BotHarness, block_text, click_card, running_bot
from tests.support.polling import until, watches_synced
from tests.support.redis_server import RedisServer, running_redis
from tests.support.slack_emulator import SlackEmulator

REDIS_URL = "OPSBOT_TEST_REDIS_URL"
TIMING = {"lease_duration_seconds": 1.5, "renew_deadline_seconds": 1.0, "retry_period_seconds": 0.1}


@pytest.fixture(autouse=True)
def shared_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """The replicas' one store: a real redis-server, its URL in the environment as in production."""
    servers = running_redis(tmp_path / "redis")
    server = next(servers)
    monkeypatch.setenv(REDIS_URL, server.url)
    yield server
    servers.close()


def ha_settings(kubeconfig: Path, identity: str) -> Any:
    settings = alert_settings(kubeconfig)
    ha = settings.ha.model_validate({"enabled": True, "namespace": "default", "identity": identity, **TIMING})
    store = settings.store.model_validate({"backend": "redis", "redis": {"url_env": REDIS_URL}})
    return settings.model_copy(update={"ha": ha, "store": store})


@contextlib.asynccontextmanager
async def replicas(slack: SlackEmulator, kube: FakeKubeServer, **kubeconfigs: Path) -> AsyncIterator[dict[str, Bot]]:
    """One bot per identity (each with its kubeconfig), all on the one Redis."""
    async with contextlib.AsyncExitStack() as stack:
        bots = {
            name: await stack.enter_async_context(
                running_bot(slack, kube, ha_settings(path, name), alert_flush_interval=0.2)
            )
            for name, path in kubeconfigs.items()
        }
        yield bots


def leading(bot: Bot) -> bool:
    return bot.leadership is not None and bot.leadership.electors[0].leading


def leaders(bots: dict[str, Bot]) -> list[str]:
    return [name for name, bot in bots.items() if leading(bot)]


def metric(bot: Bot, name: str, **labels: str) -> float | None:
    return bot.metrics.registry.get_sample_value(name, {"cluster": "test", **labels})


def opened(bot: Bot) -> int:
    assert bot.alerts is not None
    return sum(bot.alerts.incidents_opened.values())


def commands_handled(bot: Bot) -> float:
    return sum(
        sample.value
        for family in bot.metrics.registry.collect()
        if family.name == "opsbot_commands"
        for sample in family.samples
        if sample.name == "opsbot_commands_total"
    )


async def test_only_the_leader_posts_and_a_stopped_leader_hands_over_at_once(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    kube.add_deployment("web", "worker", replicas=1)
    async with replicas(slack, kube, a=kubeconfig, b=kubeconfig) as bots:
        await until(lambda: len(leaders(bots)) == 1)
        first = leaders(bots)[0]
        survivor = bots["b" if first == "a" else "a"]
        await until(lambda: watches_synced(bots[first]))
        crash(kube, "web", next(p for p in pod_names(kube, "web") if "api" in p))
        await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        for bot in bots.values():
            await BotHarness(slack, kube, bot).settle()
        assert len(roots(slack, ALERTS)) == 1
        assert (opened(bots[first]), opened(survivor)) == (1, 0)
        assert metric(bots[first], "opsbot_leader") == 1.0
        assert metric(survivor, "opsbot_leader") == 0.0
        assert metric(bots[first], "opsbot_leader_transitions_total") == 1.0
        assert metric(survivor, "opsbot_leader_transitions_total") == 0.0

        loop = asyncio.get_running_loop()
        stopped_at = loop.time()
        await asyncio.wait_for(bots[first].stop(grace=5), timeout=15)  # its SIGTERM path
        await until(lambda: leading(survivor))
        # The lease was released: taken at the next attempt, not a lease duration later.
        assert loop.time() - stopped_at < TIMING["lease_duration_seconds"]
        assert metric(survivor, "opsbot_leader") == 1.0
        assert metric(survivor, "opsbot_leader_transitions_total") == 1.0
        assert survivor.alerts is not None
        await until(lambda: any(i.cluster == "test" for i in survivor.alerts.open_incidents_here()))  # type: ignore[union-attr]
        await BotHarness(slack, kube, survivor).settle()
        # The incident open in the store was reconciled, not posted again.
        assert len(roots(slack, ALERTS)) == 1
        crash(kube, "web", next(p for p in pod_names(kube, "web") if "worker" in p))
        await until(lambda: len(roots(slack, ALERTS)) == 2)
        await BotHarness(slack, kube, survivor).settle()
        assert len(roots(slack, ALERTS)) == 2
        assert opened(survivor) == 1


async def test_a_card_clicked_on_a_replica_that_does_not_lead_mutes_the_incident_for_the_leader(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, shared_store: RedisServer
) -> None:
    """Each replica holds the incidents of what it leads; a click or an `incidents` on another
    replica reads the store, and a mute made there silences the leader's posts."""
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    async with replicas(slack, kube, a=kubeconfig, b=kubeconfig) as bots:
        await until(lambda: len(leaders(bots)) == 1)
        leader = bots[leaders(bots)[0]]
        (other,) = [bot for bot in bots.values() if bot is not leader]
        elsewhere = connection_of(slack, bots, other)  # what Slack hands the replica that does not lead
        await until(lambda: watches_synced(leader))
        crash(kube, "web", next(p for p in pod_names(kube, "web") if "api" in p))
        root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        assert leader.alerts is not None and other.alerts is not None
        (incident,) = leader.alerts.open_incidents_here()
        assert other.alerts.open_incidents_here() == []

        asked = await slack.mention(ALICE, CHANNEL, "incidents", avoid={connection_of(slack, bots, leader)})
        listed = await slack.wait_for_post(lambda p: incident.ref in block_text(p), thread_ts=asked.ts, timeout=10)
        assert "deployment/api" in block_text(listed)
        await click_card(slack, root, MUTE_1H_ACTION, only=elsewhere)
        await slack.wait_for_post(lambda p: "muted this incident for 1h" in p.text, thread_ts=root.ts, timeout=10)
        assert not any("no longer known" in p.text for p in slack.posts)
        await until(lambda: leader.alerts.mutes.muted(incident.key, datetime.now(UTC)) is not None)  # type: ignore[union-attr]

        shared_store.stop()  # the store cannot answer: the replica that does not lead says so
        await click_card(slack, root, MUTE_24H_ACTION, only=elsewhere)
        said = await slack.wait_for_post(lambda p: "Nothing was changed" in p.text, method="chat.postEphemeral")
        assert "unavailable" in said.text


def connection_of(slack: SlackEmulator, bots: dict[str, Bot], bot: Bot) -> int:
    """The Socket Mode connection of `bot`: replicas a and b each opened one, a first."""
    ids = sorted(slack.connection_ids)
    assert len(ids) == 2, ids
    return ids[0] if bot is bots["a"] else ids[1]


async def test_a_leader_that_cannot_renew_stops_its_alert_loops_before_another_starts_them(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_user("token-of-a", "replica-a")
    own = kube.write_kubeconfig(kubeconfig.parent / "kubeconfig-a", token="token-of-a")
    async with replicas(slack, kube, a=own) as first:
        await until(lambda: leading(first["a"]))
        async with replicas(slack, kube, b=kubeconfig) as second:
            a, b = first["a"], second["b"]
            assert a.leadership is not None and b.leadership is not None
            kube.deny("update", "leases", user="replica-a")  # a's renewals now get 403
            # Leading, then its loops started (loading the cluster's incidents from the store).
            await until(lambda: any(what == "started" for _at, _c, what in b.leadership.history), timeout=10)  # type: ignore[union-attr]
            (stopped,) = [at for at, _cluster, what in a.leadership.history if what == "stopped"]
            (started,) = [at for at, _cluster, what in b.leadership.history if what == "started"]
            # a's alert loops were stopped (step-down finished) before b started its own.
            assert stopped < started
            assert not leading(a)
            assert a.alerts is not None and a.alerts.pipeline.led == set()
            assert (metric(a, "opsbot_leader_lease_errors_total") or 0) >= 1
            assert metric(a, "opsbot_leader") == 0.0
            kube.allow_all()


async def test_every_replica_serves_commands_whoever_leads(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    async with replicas(slack, kube, a=kubeconfig, b=kubeconfig) as bots:
        await until(lambda: len(leaders(bots)) == 1)
        leader = leaders(bots)[0]
        # Slack hands each envelope (echoes of the bot's own posts too) to one connection,
        # round-robin: ask until both replicas have answered, every ask answered.
        answers: list[str] = []
        while min(commands_handled(bot) for bot in bots.values()) == 0:
            assert len(answers) < 8, "one replica never got a command"
            answers.append(block_text(await BotHarness(slack, kube, bots["a"]).ask("status -n web")))
            await slack.message(ALICE, CHANNEL, "thanks")  # no reply, no echo: the next goes elsewhere
            for bot in bots.values():
                await BotHarness(slack, kube, bot).settle()
        assert sum(commands_handled(bot) for bot in bots.values()) == len(answers)
        assert {"this replica" in text for text in answers} == {True, False}
        assert all("Alert leader" in text and leader in text for text in answers)


async def test_check_config_asks_for_the_lease_permissions_only_with_ha(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.deny("create", "leases", namespace="bots")
    without = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert without.returncode == 0 and "leases" not in without.stdout, without.stdout
    config = write_config(tmp_path, kubeconfig, ha={"enabled": True}, store={"backend": "redis"})
    result = await doctor(slack, config, POD_NAMESPACE="bots", OPSBOT_REDIS_URL=os.environ[REDIS_URL])
    assert result.returncode == 2, result.stdout + result.stderr
    failed = [line for line in checks(result.stdout, "Cluster test") if line.startswith("✗")]
    assert failed == [
        "✗ namespace bots: 1 permission missing: create leases (coordination.k8s.io) for leader election"
    ]
    reviews = [r for r in kube.requests if "selfsubjectaccessreviews" in r.path]
    assert reviews and kube.writes() == []  # asked, never tried
