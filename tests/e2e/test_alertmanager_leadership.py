"""Several replicas (`ha.enabled`) and two clusters: an Alertmanager group's incident belongs
to the replica running the Alertmanager loops (the lease cluster's leader), not to its own
cluster's leader, and moves with the loops. Two real bots in this process share one real
redis-server, the fake API server's Leases (both clusters are that one server) and the Slack
emulator."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from opsbot.alerts.findings import AlertKind
from opsbot.app import Bot
from tests.e2e.test_alertmanager_forwarding import GOOD, post, url
from tests.e2e.test_alerts import roots
from tests.e2e.test_ha import ha_settings
from tests.e2e.test_ha import shared_store as shared_store  # the replicas' one Redis (autouse)
from tests.support.alertmanager import notification
from tests.support.am_world import secrets
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALERTS, BotHarness, running_bot
from tests.support.polling import until
from tests.support.slack_emulator import SlackEmulator

LEASE_CLUSTER = "test"  # the default cluster: its leader runs the Alertmanager loops


def two_cluster_settings(kubeconfig: Path, identity: str) -> Any:
    settings = ha_settings(kubeconfig, identity)
    return settings.model_copy(
        update={
            "clusters": {**settings.clusters, "x": settings.clusters[LEASE_CLUSTER]},
            "alertmanager": settings.alertmanager.model_validate({"enabled": True}),
        }
    )


def leads(bot: Bot, cluster: str) -> bool:
    assert bot.leadership is not None
    return any(e.leading for e in bot.leadership.electors if e.cluster == cluster)


def hold_lease(kube: FakeKubeServer, cluster: str, holder: str) -> None:
    """`holder` holds `cluster`'s Lease (renewed just now, for 60 s): the others wait."""
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    kube.create({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": f"opsbot-leader-{cluster}", "namespace": "default"},
        "spec": {
            "holderIdentity": holder, "leaseDurationSeconds": 60, "acquireTime": now, "renewTime": now,
            "leaseTransitions": 0,
        },
    })  # fmt: skip


@contextlib.asynccontextmanager
async def split_leaders(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path) -> AsyncIterator[tuple[Bot, Bot]]:
    """(a, b): b leads the lease cluster and runs the Alertmanager loops, a leads cluster x."""
    hold_lease(kube, "x", "a")
    async with contextlib.AsyncExitStack() as stack:
        b = await stack.enter_async_context(
            running_bot(slack, kube, two_cluster_settings(kubeconfig, "b"), alert_flush_interval=0.2,
                        alertmanager_secrets=secrets())
        )  # fmt: skip
        await until(lambda: leads(b, LEASE_CLUSTER) and b.alertmanager is not None and b.alertmanager.ready)
        a = await stack.enter_async_context(
            running_bot(slack, kube, two_cluster_settings(kubeconfig, "a"), alert_flush_interval=0.2,
                        alertmanager_secrets=secrets())
        )  # fmt: skip
        await until(lambda: leads(a, "x"))
        assert not leads(a, LEASE_CLUSTER) and not leads(b, "x")
        yield a, b


def alertmanager_incidents(bot: Bot) -> list[str]:
    assert bot.alerts is not None
    return [i.key for i in bot.alerts.book.all() if i.kind is AlertKind.ALERTMANAGER]


def group_of(*fingerprints: str) -> bytes:
    """One notification of group HighLatency, its alerts on cluster x (label `cluster`)."""
    alerts = [
        notification("HighLatency", labels={"cluster": "x", "instance": fp}, fingerprint=fp)
        for fp in fingerprints
    ]
    body = alerts[0]
    body["alerts"] = [alert for made in alerts for alert in made["alerts"]]
    return json.dumps(body).encode()


async def test_a_group_of_another_cluster_keeps_its_thread_when_the_alertmanager_loops_move(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    async with split_leaders(slack, kube, kubeconfig) as (a, b):
        async with aiohttp.ClientSession(trust_env=False) as http:
            status, _ = await post(http, url(b), group_of("00000000000000b1"), GOOD)
            assert status == 200
            await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
            for bot in (a, b):
                await BotHarness(slack, kube, bot).settle()
            assert len(roots(slack, ALERTS)) == 1
            # Held by the replica running the loops only, not by cluster x's leader.
            (group,) = alertmanager_incidents(b)
            assert alertmanager_incidents(a) == []

            await b.stop(grace=5)  # its SIGTERM path: it releases its leases
            await until(lambda: a.alertmanager is not None and a.alertmanager.ready and leads(a, LEASE_CLUSTER))
            assert leads(a, "x")
            assert alertmanager_incidents(a) == [group]
            assert alertmanager_incidents(b) == []

            # The group grows: a second alert joins the thread, no second root.
            status, _ = await post(http, url(a), group_of("00000000000000b1", "00000000000000b2"), GOOD)
            assert status == 200
        await BotHarness(slack, kube, a).settle()
        assert a.alertmanager is not None
        assert a.alertmanager.intake.received == 1
        assert len(roots(slack, ALERTS)) == 1
        assert a.alertmanager.intake.opened == 0
        (incident,) = [i for i in a.alerts.book.all() if i.key == group]  # type: ignore[union-attr]
        assert {item.name for item in incident.affected} == {"00000000000000b1", "00000000000000b2"}
