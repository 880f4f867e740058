"""The follow-up of a release outlives the bot: a restart mid-rollout still reports the end;
Flux that never applies ends in a timeout, not in silence."""

from __future__ import annotations

from pathlib import Path

from opsbot.approvals.cards import APPROVE_ACTION, CONFIRM_ACTION
from opsbot.core.reply import run_button
from tests.support.harness import BOB, block_text, button_value
from tests.support.release_harness import release_bot, release_world
from tests.support.slack_emulator import SlackEmulator

ROLL_BACK = run_button("Roll back", "").action_id  # the one button on a failed release's notice


async def test_a_bot_restarted_mid_rollout_still_reports_the_end(
    slack: SlackEmulator, tmp_path: Path
) -> None:
    async with release_world(tmp_path) as world:
        _clusters, _git, flux, _token = world
        flux.mode["prod"] = "never"  # committed, not applied yet
        async with release_bot(slack, tmp_path, world=world, follow_minutes=5) as fleet:
            card = await fleet.ask("promote podinfo@6.6.0 to prod")
            await fleet.click_button(card, APPROVE_ACTION, user=BOB)
            await fleet.wait_text("committed", thread_ts=card.thread_ts)
            await fleet.settle()
            assert "available on prod" not in "\n".join(fleet.texts(thread_ts=card.thread_ts))
        # While the bot is down, Flux applies and the rollout completes.
        flux.mode["prod"] = "apply"
        flux.reconcile()
        async with release_bot(slack, tmp_path, world=world, follow_minutes=5) as fleet:
            done = await fleet.wait_text("podinfo 6.6.0 available on prod (2/2)", thread_ts=card.thread_ts)
            assert "<@U0ALICE01>" in block_text(done)
            reply = await fleet.ask("history podinfo --cluster prod")
            assert "promote by" in block_text(reply)


async def test_when_flux_never_applies_the_release_times_out_and_frees_the_app(
    slack: SlackEmulator, tmp_path: Path
) -> None:
    async with release_bot(slack, tmp_path, follow_minutes=0.05) as fleet:
        assert fleet.flux is not None
        fleet.flux.mode["stage"] = "never"
        card = await fleet.ask("promote web@1.4.1 to stage")
        await fleet.click_button(card, CONFIRM_ACTION)
        ended = await fleet.wait_text("imed out after 3s", thread_ts=card.thread_ts)
        assert "Flux had not applied the commit" in block_text(ended)
        assert button_value(ended, ROLL_BACK) == "rollback web on stage"
        # The app is free again: a new request gets a card.
        again = await fleet.ask("promote web@1.4.2 to stage")
        assert "Confirm" in block_text(again)
