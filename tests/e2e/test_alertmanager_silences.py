"""Silences from Slack in the real Alertmanager, and the bot being down while alerts fire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from opsbot.alerts.actions import SILENCE_1H_ACTION
from tests.support.am_world import AmWorld, am_world
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALICE, BOB, CHANNEL, block_text
from tests.support.slack_emulator import Post, SlackEmulator

NOISY = {
    "alertname": "NoisyDisk",
    "severity": "warning",
    "namespace": "web",
    "instance": "node-7",
    "device": "sda",
}
CAROL = "U0CAROL01"


@pytest_asyncio.fixture
async def world(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> AsyncIterator[AmWorld]:
    slack.add_user(ALICE, "alice")
    slack.add_user(BOB, "bob")
    async with am_world(slack, kube, kubeconfig, tmp_path, silence_check_seconds=0.5) as made, made.running():
        yield made


async def notified(world: AmWorld, labels: dict[str, str]) -> Post:
    """The root, once Alertmanager's own notification reached the bot (its card links Alertmanager)."""
    await world.am.fire(labels)
    return await world.card(await world.root(labels["alertname"]), "Open in Alertmanager")


async def suppressed(world: AmWorld) -> list[dict[str, Any]]:
    return [a for a in await world.am.alerts() if a["status"]["state"] == "suppressed"]


async def test_silence_button_silences_the_alerts_full_label_set_in_alertmanager(world: AmWorld) -> None:
    root = await notified(world, NOISY)
    assert world.harness is not None
    await world.harness.click_button(root, SILENCE_1H_ACTION, user=ALICE)
    answer = await world.reply(root, "Silenced 1 alert(s) for 1h")
    (silence,) = await world.am.silences()
    assert sorted((m["name"], m["value"], m["isEqual"], m["isRegex"]) for m in silence["matchers"]) == sorted(
        (name, value, True, False) for name, value in NOISY.items()
    )
    assert silence["createdBy"] == "alice"
    assert f"/archives/{root.channel}/p{root.ts.replace('.', '')}" in silence["comment"]
    (alert,) = await world.am.wait_for(lambda: suppressed(world), what="suppressed alert")
    assert alert["status"]["silencedBy"] == [silence["id"]]
    card = await world.card(root, "Silenced by")
    assert silence["id"][:8] in block_text(card) and "until" in block_text(card)
    assert silence["id"][:8] in block_text(answer)
    await world.harness.settle()
    assert not any("in Alertmanager until" in line for line in world.thread(root))  # answered there already


async def test_unsilence_expires_it_and_the_card_says_so(world: AmWorld) -> None:
    root = await notified(world, NOISY)
    assert world.harness is not None
    await world.harness.ask(f"silence {NOISY['alertname']} for 2h -- disk swap tonight", user=BOB)
    (silence,) = await world.am.silences()
    assert silence["comment"].startswith("disk swap tonight") and silence["createdBy"] == "bob"
    await world.card(root, "Silenced by")
    await world.reply(root, "silenced 1 alert(s) in Alertmanager until")  # asked elsewhere: the thread hears
    listing = await world.harness.ask("silences", user=BOB)
    assert silence["id"][:8] in block_text(listing)
    ended = await world.harness.ask(f"unsilence {silence['id'][:8]}", user=BOB)
    assert "Silence ended" in block_text(ended)
    (after,) = await world.am.silences()
    assert after["status"]["state"] == "expired"
    await world.card(root, "was removed by")
    await world.am.wait_for(lambda: _none_suppressed(world), what="alert active again")


async def _none_suppressed(world: AmWorld) -> bool:
    return not await suppressed(world)


async def test_a_silence_that_runs_out_is_said_to_have_expired(world: AmWorld) -> None:
    root = await notified(world, NOISY)
    assert world.harness is not None
    await world.harness.ask(f"silence {NOISY['alertname']} for 2s", user=BOB)
    await world.card(root, "Silenced by")
    await world.reply(root, "expired: these alerts notify again")
    assert "expired at" in block_text(await world.card(root, "expired at"))


async def test_silencing_is_a_permission_like_any_other_verb(world: AmWorld) -> None:
    root = await notified(world, NOISY)
    assert world.harness is not None
    denied = await world.harness.ask(f"silence {NOISY['alertname']}", user=CAROL, channel=CHANNEL)
    assert "Not allowed" in block_text(denied)
    await world.harness.click_button(root, SILENCE_1H_ACTION, user=CAROL)
    await world.reply(root, "Not allowed")
    await world.harness.settle()
    assert await world.am.silences() == []


async def test_alerts_that_fired_and_resolved_while_the_bot_was_down_are_caught_up_once(
    world: AmWorld,
) -> None:
    before = await notified(world, NOISY)
    assert world.harness is not None
    await world.harness.bot.stop(grace=1)  # down: Alertmanager's notifications fail and are retried
    later = {"alertname": "LaterTrouble", "severity": "critical", "namespace": "web"}
    await world.am.fire(later)
    await world.am.resolve(NOISY)
    async with world.running():
        root = await world.root("LaterTrouble")
        await world.reply(before, "Resolved after")
        service = world.bot.alertmanager
        assert service is not None
        # Alertmanager's retried notifications arrive too; they change nothing.
        await world.am.wait_for(lambda: _received(world, 2), what="retried notifications")
        await world.harness.settle()
        assert [block_text(p).split("\n")[0] for p in world.roots()].count(
            block_text(root).split("\n")[0]
        ) == 1
        assert len(world.roots()) == 2
        assert sum("Resolved after" in line for line in world.thread(before)) == 1


async def _received(world: AmWorld, count: int) -> bool:
    service = world.bot.alertmanager
    return service is not None and service.intake.received >= count
