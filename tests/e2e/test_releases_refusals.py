"""Releases that must not happen, or not twice: one change per app and cluster, a remote that
moved meanwhile, a field that is not there, unknown names, and credentials kept out of
everything the bot says or logs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from opsbot.approvals.cards import CONFIRM_ACTION
from tests.support import gitops_fixtures as fleet_files
from tests.support.harness import BOB, block_text
from tests.support.release_harness import ReleaseHarness, release_bot
from tests.support.slack_emulator import Post, SlackEmulator


@pytest_asyncio.fixture
async def fleet(slack: SlackEmulator, tmp_path: Path) -> AsyncIterator[ReleaseHarness]:
    async with release_bot(slack, tmp_path) as harness:
        yield harness


def opsbot_commits(fleet: ReleaseHarness) -> list[str]:
    return [message for _sha, message in fleet.server.log() if "Opsbot-App:" in message]


async def test_a_second_request_for_the_same_app_and_cluster_is_told_who_holds_it(
    fleet: ReleaseHarness,
) -> None:
    assert fleet.flux is not None
    fleet.flux.mode["stage"] = "never"  # the first promotion stays in flight
    card = await fleet.ask("promote podinfo@6.6.0 to stage")
    busy = await fleet.ask("promote podinfo@6.5.3 to stage", user=BOB)
    text = block_text(busy)
    assert "waiting for confirmation or approval" in text and "<@U0ALICE01>" in text
    await fleet.click_button(card, CONFIRM_ACTION)
    await fleet.wait_text("committed", thread_ts=card.thread_ts)
    busy = await fleet.ask("promote podinfo@6.5.3 to stage", user=BOB)
    text = block_text(busy)
    assert "is being changed: promote to 6.6.0 by" in text and "<@U0ALICE01>" in text
    await fleet.settle()
    assert len(opsbot_commits(fleet)) == 1


async def test_concurrent_promotes_of_one_app_make_exactly_one_change(fleet: ReleaseHarness) -> None:
    """Two people ask at the same moment and both confirm: one commit, and whoever lost is
    told who holds the app (at planning, or when the change was to be made)."""
    assert fleet.flux is not None
    fleet.flux.mode["prod"] = "never"
    fleet.bot.settings.policy.approvals.clear()  # both confirm their own request here
    first, second = await asyncio.gather(
        fleet.ask("promote web@1.3.3 to prod"), fleet.ask("promote web@1.3.4 to prod", user=BOB)
    )
    cards = [
        (post, user) for post, user in ((first, "U0ALICE01"), (second, BOB)) if "Confirm" in block_text(post)
    ]
    await asyncio.gather(*(fleet.click_button(card, CONFIRM_ACTION, user=user) for card, user in cards))
    await fleet.settle()
    assert len(opsbot_commits(fleet)) == 1
    said = "\n".join(fleet.texts())
    # Both asked before either card existed (two cards): the second approved change found
    # the app claimed; otherwise the second request was refused while planning.
    assert ("is being changed" if len(cards) == 2 else "waiting for confirmation or approval") in said


async def test_a_commit_landing_on_the_remote_meanwhile_is_merged_by_reapplying_the_edit(
    fleet: ReleaseHarness,
) -> None:
    card = await fleet.ask("promote web@1.4.1 to stage")
    fleet.server.on_receive = lambda: fleet.server.commit({"README.md": "# fleet\nmaintenance\n"})
    await fleet.click_button(card, CONFIRM_ACTION)
    done = await fleet.wait_text("after 2 attempts", thread_ts=card.thread_ts)
    assert "the branch moved meanwhile" in done.text
    await fleet.wait_text("web 1.4.1 available on stage", thread_ts=card.thread_ts)
    assert fleet.server.read("README.md") == "# fleet\nmaintenance\n"
    assert 'newTag: 1.4.1 # {"$imagepolicy": "flux-system:web:tag"}' in fleet.server.read(
        "apps/stage/kustomization.yaml"
    )


async def test_a_missing_field_is_a_clear_error_and_nothing_is_committed(fleet: ReleaseHarness) -> None:
    assert fleet.flux is not None
    fleet.flux.mode["prod"] = "never"  # (the test Flux cannot apply the broken file either)
    fleet.server.commit(
        {
            "apps/prod/kustomization.yaml": fleet_files.kustomization("prod").replace(
                fleet_files.WEB_IMAGE, "ghcr.io/org/other"
            )
        }
    )
    head = fleet.server.head()
    reply = await fleet.ask("promote web@1.4.0 to prod")
    text = block_text(reply)
    assert "has no image `ghcr.io/org/web`" in text and "apps/prod/kustomization.yaml" in text
    await fleet.settle()
    assert fleet.server.head() == head


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("promote nosuchapp@1.0.0 to prod", "no app `nosuchapp` under releases.apps"),
        ("promote podinfo@6.6.0 to nowhere", "unknown cluster 'nowhere'"),
        ("promote podinfo@7.0.0 to prod", "version `7.0.0` is not allowed here (must be semver within"),
        ("promote worker@v2 to prod", "version `v2` is not allowed here"),
        ("rollback podinfo on prod to 1.0.0", "unknown version: podinfo never ran 1.0.0 on prod"),
        ("promote podinfo to prod now", "promote APP@VERSION to CLUSTER"),
        ("rollback podinfo in prod", "rollback APP on CLUSTER"),
    ],
)
async def test_unknown_apps_clusters_and_versions_are_refused_with_a_reason(
    fleet: ReleaseHarness, command: str, says: str
) -> None:
    head = fleet.server.head()
    reply = await fleet.ask(command)
    assert says in block_text(reply)
    assert reply.thread_ts is not None
    await fleet.settle()
    assert fleet.server.head() == head and "Confirm" not in block_text(reply)


async def test_credentials_never_reach_a_reply_or_a_log_line(
    slack: SlackEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with release_bot(slack, tmp_path) as fleet:
        token = (tmp_path / "git-token").read_text().strip()
        fleet.server.users["x-access-token"] = "rotated-" + token[::-1]  # the bot's token is now refused
        reply = await fleet.ask("promote podinfo@6.6.0 to stage")
        text = block_text(reply)
        assert "refused opsbot's credentials" in text
        fleet.server.users["x-access-token"] = token
        card = await fleet.ask("promote podinfo@6.6.0 to stage")
        fleet.server.reject_pushes = (
            f"hook declined: token {token} is not allowed to push"  # a server echoing it
        )
        await fleet.click_button(card, CONFIRM_ACTION)
        failed = await fleet.wait_text("refused the push", thread_ts=card.thread_ts)
        assert "********" in failed.text
        await fleet.settle()
        everything: list[Post] = list(fleet.slack.posts)
        assert everything and not any(token in block_text(post) for post in everything)
    out = capsys.readouterr()
    assert token not in out.out and token not in out.err


async def test_the_policy_is_checked_on_the_cluster_and_namespace_the_command_names(
    slack: SlackEmulator, tmp_path: Path
) -> None:
    """Bob may ship to stage, and only the web app there: `to prod`, or another app's
    namespace, is refused although the channel's default cluster is stage."""
    policy = {
        "roles": {"web-stage": {"verbs": ["promote", "read"], "clusters": ["stage"], "namespaces": ["web"]}},
        "bindings": [{"role": "web-stage", "users": [BOB]}],
        "rate_limit": {"commands_per_minute": 600, "burst": 50},
    }
    async with release_bot(slack, tmp_path, policy=policy) as fleet:
        refused = await fleet.ask("promote web@1.4.1 to prod", user=BOB)
        assert "Not allowed" in block_text(refused) and "prod" in block_text(refused)
        other_app = await fleet.ask("promote podinfo@6.6.0 to stage", user=BOB)
        assert "Not allowed" in block_text(other_app) and "podinfo" in block_text(other_app)
        card = await fleet.ask("promote web@1.4.1 to stage", user=BOB)
        assert "Confirm: promote app/web" in block_text(card)
        assert "namespace `web`" in block_text(card)
