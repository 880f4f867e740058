"""Several replicas (`ha.enabled`): real bots sharing one fake API server, one Slack emulator
and one store file; each cluster's alerts come from its Lease holder only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from opsbot.app import Bot
from tests.e2e.test_alerts import alert_settings, crash, pod_names, roots
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALERTS, BotHarness, running_bot
from tests.support.polling import until
from tests.support.slack_emulator import SlackEmulator

TIMING = {"lease_duration_seconds": 1.5, "renew_deadline_seconds": 1.0, "retry_period_seconds": 0.1}


def ha_settings(kubeconfig: Path, identity: str) -> Any:
    settings = alert_settings(kubeconfig)
    return settings.model_copy(
        update={
            "ha": settings.ha.model_validate(
                {"enabled": True, "namespace": "default", "identity": identity, **TIMING}
            )
        }
    )


@contextlib.asynccontextmanager
async def replicas(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, *names: str
) -> AsyncIterator[dict[str, Bot]]:
    async with contextlib.AsyncExitStack() as stack:
        bots = {
            name: await stack.enter_async_context(
                running_bot(slack, kube, ha_settings(kubeconfig, name), alert_flush_interval=0.2)
            )
            for name in names
        }
        yield bots


def leader(bots: dict[str, Bot]) -> list[str]:
    return [name for name, bot in bots.items() if bot.leadership is not None and bot.leadership.electors[0].leading]


def metric(bot: Bot, name: str, cluster: str = "test") -> float | None:
    value = bot.metrics.registry.get_sample_value(name, {"cluster": cluster})
    return value


async def test_only_the_leader_posts_and_a_stopped_leader_hands_over_at_once(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    kube.add_deployment("web", "worker", replicas=1)
    async with replicas(slack, kube, kubeconfig, "a", "b") as bots:
        await until(lambda: len(leader(bots)) == 1)
        first = leader(bots)[0]
        other = "b" if first == "a" else "a"
        await until(lambda: bots[first].watches is not None and all(h.synced for h in bots[first].watches.health()))
        crash(kube, "web", pod_names(kube, "web")[0])
        await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        await BotHarness(slack, kube, bots[first]).settle()
        await BotHarness(slack, kube, bots[other]).settle()
        assert len(roots(slack, ALERTS)) == 1
        assert sum(bots[first].alerts.incidents_opened.values()) == 1  # type: ignore[union-attr]
        assert sum(bots[other].alerts.incidents_opened.values()) == 0  # type: ignore[union-attr]
        assert metric(bots[first], "opsbot_leader") == 1.0
        assert metric(bots[other], "opsbot_leader") == 0.0
        assert metric(bots[first], "opsbot_leader_transitions_total") == 1.0

        loop = asyncio.get_running_loop()
        stopped_at = loop.time()
        await asyncio.wait_for(bots[first].stop(grace=5), timeout=15)
        survivor = bots[other]
        await until(lambda: survivor.leadership is not None and survivor.leadership.electors[0].leading)
        # The lease was released: taken at the next attempt, not a lease duration later.
        assert loop.time() - stopped_at < TIMING["lease_duration_seconds"]
        assert metric(survivor, "opsbot_leader") == 1.0
        assert metric(survivor, "opsbot_leader_transitions_total") == 1.0
        await until(lambda: survivor.watches is not None and all(h.synced for h in survivor.watches.health()))
        await BotHarness(slack, kube, survivor).settle()
        # The incident open in the store was reconciled, not posted again.
        assert len(roots(slack, ALERTS)) == 1
        crash(kube, "web", next(p for p in pod_names(kube, "web") if "worker" in p))
        await until(lambda: len(roots(slack, ALERTS)) == 2)
        await BotHarness(slack, kube, survivor).settle()
        assert len(roots(slack, ALERTS)) == 2
        assert sum(survivor.alerts.incidents_opened.values()) == 1  # type: ignore[union-attr]
