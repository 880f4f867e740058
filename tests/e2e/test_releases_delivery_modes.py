"""The other ways a cluster receives versions: directly (set image / rollout undo, no GitOps
repository) and through a repository reached over file://."""

from __future__ import annotations

from pathlib import Path

from opsbot.approvals.cards import APPROVE_ACTION, CONFIRM_ACTION
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import BOB, block_text
from tests.support.release_harness import release_bot, release_world
from tests.support.slack_emulator import SlackEmulator

API_IMAGE = "ghcr.io/org/api"


def add_api(kube: FakeKubeServer) -> None:
    """A Deployment nobody applies from git, carrying the version label."""
    kube.add_namespace("shop")
    deployment = builders.deployment("api", "shop", replicas=2, image=f"{API_IMAGE}:1.0.0")
    deployment["metadata"]["labels"]["app.kubernetes.io/version"] = "1.0.0"
    kube.create(deployment)


def running(kube: FakeKubeServer) -> tuple[str, str]:
    deployment = kube.get("deployments", "shop", "api")
    assert deployment is not None
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image, deployment["metadata"]["labels"]["app.kubernetes.io/version"]


async def test_direct_promote_sets_the_image_and_rollback_undoes_it(
    slack: SlackEmulator, tmp_path: Path
) -> None:
    async with release_bot(slack, tmp_path, modes={"prod": "direct"}) as fleet:
        prod = fleet.clusters["prod"]
        add_api(prod)
        card = await fleet.ask("promote api@1.1.0 to prod -n shop")
        text = block_text(card)
        assert "api on prod: 1.0.0 → 1.1.0" in text
        assert f"{API_IMAGE}:1.0.0" in text and f"{API_IMAGE}:1.1.0" in text
        assert "server-side dry run" in text
        await fleet.click_button(card, APPROVE_ACTION, user=BOB)
        await fleet.wait_text("api 1.1.0 available on prod (2/2)", thread_ts=card.thread_ts)
        # The version label moved with the image (a stale one would win when reading the version).
        assert running(prod) == (f"{API_IMAGE}:1.1.0", "1.1.0")
        apps = await fleet.ask("apps -n shop")
        assert "1.1.0 2/2 ok" in block_text(apps)

        back = await fleet.ask("rollback api on prod -n shop")
        text = block_text(back)
        assert "api on prod: 1.1.0 → 1.0.0" in text and "rollout undo --to-revision 1" in text
        await fleet.click_button(back, APPROVE_ACTION, user=BOB)
        await fleet.wait_text("api 1.0.0 available on prod", thread_ts=back.thread_ts)
        assert running(prod) == (f"{API_IMAGE}:1.0.0", "1.0.0")


async def test_a_direct_change_to_a_deployment_flux_applies_is_refused(
    slack: SlackEmulator, tmp_path: Path
) -> None:
    async with release_bot(slack, tmp_path, modes={"stage": "direct"}) as fleet:
        reply = await fleet.ask("promote podinfo@6.6.0 to stage")
        assert "is applied by Kustomization flux-system/apps" in block_text(reply)
        await fleet.settle()
        assert not [r for r in fleet.clusters["stage"].writes() if "/deployments/" in r.path]


async def test_a_repository_reached_over_file_url_delivers_too(slack: SlackEmulator, tmp_path: Path) -> None:
    async with release_world(tmp_path) as world:
        _clusters, git, flux, _token = world
        flux.start_polling()  # a file:// push does not go through the server: poll its head
        async with release_bot(slack, tmp_path, world=world, file_url=True) as fleet:
            card = await fleet.ask("promote worker@2.1.0 to stage")
            await fleet.click_button(card, CONFIRM_ACTION)
            await fleet.wait_text("worker 2.1.0 available on stage (2/2)", thread_ts=card.thread_ts)
            assert "registry:5000/org/worker:2.1.0" in git.read("apps/stage/worker.yaml")
