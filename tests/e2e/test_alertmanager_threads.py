"""Alertmanager → incident threads, with the real Alertmanager grouping, repeating and resolving."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from opsbot.doctor.alertmanager import check_alertmanager
from tests.support.alertmanager import WEBHOOK_TOKEN, notification
from tests.support.am_world import AmWorld, am_world
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALERTS, block_text
from tests.support.slack_emulator import SlackEmulator

LATENCY = {"alertname": "HighLatency", "severity": "critical", "namespace": "web", "instance": "api-1"}


@pytest_asyncio.fixture
async def world(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> AsyncIterator[AmWorld]:
    async with am_world(slack, kube, kubeconfig, tmp_path) as made, made.running():
        yield made


async def test_a_firing_alert_opens_one_thread_with_severity_and_links(world: AmWorld) -> None:
    await world.am.fire(LATENCY, {"summary": "p99 latency above 2s"})
    root = await world.root("HighLatency")
    # Alertmanager's UI: the externalURL its notifications carry (the reconcile may post first).
    text = block_text(await world.card(root, world.am.url + "/#/alerts?receiver=opsbot"))
    assert "1 firing" in text and "p99 latency above 2s" in text
    assert "critical" in text and "`web`" in text
    assert "prometheus.test/graph" in text  # the generator URL
    assert root.args["metadata"]  # restarts find it again
    await world.harness.settle()  # type: ignore[union-attr]
    assert len(world.roots()) == 1


async def test_more_alerts_in_the_group_update_the_root_instead_of_posting(world: AmWorld) -> None:
    await world.am.fire(LATENCY)
    root = await world.root("HighLatency")
    await world.am.fire({**LATENCY, "instance": "api-2"})
    card = await world.card(root, "2 firing")
    assert "instance=api-2" in block_text(card) and "instance=api-1" in block_text(card)
    assert len(world.roots()) == 1


async def test_resolve_in_alertmanager_resolves_the_incident_at_once(world: AmWorld) -> None:
    await world.am.fire(LATENCY)
    root = await world.root("HighLatency")
    await world.am.resolve(LATENCY)
    said = await world.reply(root, "Resolved after")
    assert "Alertmanager says" in block_text(said)
    final = await world.card(root, "Resolved after")
    assert "Silence 1h" not in block_text(final)
    assert len(world.roots()) == 1


async def test_a_resolved_group_firing_again_reopens_its_thread(world: AmWorld) -> None:
    await world.am.fire(LATENCY)
    root = await world.root("HighLatency")
    await world.am.resolve(LATENCY)
    await world.reply(root, "Resolved after")
    await world.am.fire(LATENCY)
    await world.reply(root, "Relapsed: HighLatency again")
    await world.card(root, "1 firing")
    assert len(world.roots()) == 1


async def test_the_same_notification_twice_changes_nothing(world: AmWorld) -> None:
    payload = notification(
        "Replayed",
        starts_at="2030-01-01T10:00:00.123456789Z",
        fingerprint="00000000000000aa",
        external_url=world.am.url,
        notification_reason="a field of a newer version",
    )
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    async with aiohttp.ClientSession(trust_env=False) as http:
        for expected in ("ok", "repeat"):
            async with http.post(
                world.receiver + "/alertmanager/webhook", json=payload, headers=headers
            ) as response:
                assert response.status == 200
                assert (await response.json())["status"] == expected
    root = await world.root("Replayed")
    await world.harness.settle()  # type: ignore[union-attr]
    assert len(world.roots()) == 1
    assert [p for p in world.slack.posts if p.ts == root.ts and p.method == "chat.update"] == []
    assert world.thread(root) == []


async def test_bad_token_and_malformed_payloads_are_refused_with_a_reason(world: AmWorld) -> None:
    url = world.receiver + "/alertmanager/webhook"
    good = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    async with aiohttp.ClientSession(trust_env=False) as http:
        async with http.post(
            url, json={"version": "4"}, headers={"Authorization": "Bearer wrong"}
        ) as response:
            assert response.status == 401
        async with http.post(url, json={"version": "4"}) as response:
            assert response.status == 401
        async with http.post(url, data=b"{not json", headers=good) as response:
            assert response.status == 400
            assert "not JSON" in (await response.json())["error"]
        async with http.post(
            url, json={"version": "4", "status": "firing", "alerts": "x"}, headers=good
        ) as response:
            assert response.status == 400
            assert "alerts" in (await response.json())["error"]
        async with http.post(url, json={"version": "3"}, headers=good) as response:
            assert response.status == 400
    await world.harness.settle()  # type: ignore[union-attr]
    assert world.roots() == []
    assert world.bot.alertmanager is not None
    assert world.bot.alertmanager.refusals.counts == {"401": 2, "400": 3}
    async with aiohttp.ClientSession(trust_env=False) as http, http.get(world.receiver + "/metrics") as response:
        metrics = await response.text()
    assert 'opsbot_alertmanager_requests_refused_total{status="401"} 2.0' in metrics
    assert "opsbot_alertmanager_notifications_total 0.0" in metrics


async def test_routing_rules_match_alert_labels(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    payments = "C0PAYMENTS"
    rules = [{"match": {"labels": {"team": "payments"}, "kinds": ["Alertmanager"]}, "channel": payments}]
    async with am_world(slack, kube, kubeconfig, tmp_path, alerts={"rules": rules}) as world, world.running():
        await world.am.fire({"alertname": "CardDeclines", "team": "payments", "severity": "warning"})
        await world.am.fire({"alertname": "DiskFull", "severity": "info"})
        await world.root("CardDeclines", channel=payments)
        other = await world.root("DiskFull", channel=ALERTS)
        assert "info" in block_text(other)


async def test_the_doctor_checks_rules_secrets_and_alertmanagers_receiver(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    async with am_world(slack, kube, kubeconfig, tmp_path) as world:
        environ = {"ALERTMANAGER_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "OPSBOT_SIGNAL_SECRET": "whsec_c2VjcmV0"}
        section = await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(check_alertmanager, world.settings, environ, offline=False)
        )
        assert section is not None
        lines = [(check.status, check.text) for check in section.checks]
        assert [status for status, _ in lines] == ["ok", "ok", "ok"], lines
        assert "receiver 'opsbot' sends to /alertmanager/webhook" in lines[2][1]
        missing = check_alertmanager(world.settings, {}, offline=True)
        assert missing is not None
        assert any(c.status == "fail" and "ALERTMANAGER_WEBHOOK_TOKEN" in c.text for c in missing.checks)
        assert WEBHOOK_TOKEN not in str(section.checks)
