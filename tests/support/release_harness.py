"""The real bot with releases: two fake clusters (stage, prod), the fleet repository on a git
server (smart HTTP with a token, or file://), the test Flux applying each push, Slack.

    async with release_bot(slack, tmp_path) as fleet:
        card = await fleet.ask("promote podinfo@6.6.0 to prod")
        await fleet.click_button(card, APPROVE_ACTION, user=BOB)
        await fleet.wait_text("available on prod", thread_ts=card.thread_ts)

Prod needs a second person's approval (policy.approvals); stage is self-confirmed.
The token is read from a mounted file, as in a cluster.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsbot.app import Bot
from opsbot.config import Settings
from tests.support import gitops_fixtures as fleet_files
from tests.support.fake_flux import FakeFlux
from tests.support.fake_kube import FakeKubeServer
from tests.support.git_server import GitServer
from tests.support.harness import ALICE, BOB, CHANNEL, BotHarness, block_text, make_settings, running_bot
from tests.support.slack_emulator import Post, SlackEmulator

TOKEN_USER = "x-access-token"


def release_config(
    tmp_path: Path,
    clusters: dict[str, FakeKubeServer],
    repository_url: str,
    token_file: Path | None,
    *,
    follow_minutes: float = 2,
    modes: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings for the bot: both clusters, the fleet's `releases:` (as gitops_fixtures
    describes it), prod behind a second person's approval, the command caches on."""
    kubeconfigs = {
        name: kube.write_kubeconfig(tmp_path / f"{name}.kubeconfig") for name, kube in clusters.items()
    }
    releases = fleet_files.settings(repository_url).model_dump(exclude_none=True, mode="json")
    releases["repositories"]["fleet"]["auth"] = {"token_file": str(token_file)} if token_file else {}
    releases["source"] = "stage"
    releases["follow"] = {"timeout_minutes": follow_minutes}
    for cluster, mode in (modes or {}).items():
        releases["clusters"][cluster] = {"mode": mode}
    data: dict[str, Any] = {
        "clusters": {
            name: {"kubeconfig": str(path), "context": "fake", "request_timeout_seconds": 3}
            for name, path in kubeconfigs.items()
        },
        "default_cluster": next(iter(clusters)),
        "watch": {"cache": True},
        "releases": releases,
        "policy": {
            "bindings": [
                {"role": "admin", "users": [ALICE]},
                {"role": "operator", "users": [BOB]},
                {"role": "viewer", "channels": [CHANNEL]},
            ],
            "approvals": [{"clusters": ["prod"], "self_confirm": False}],
            "rate_limit": {"commands_per_minute": 600, "burst": 50},
        },
        "store": {"path": str(tmp_path / "state" / "opsbot.db")},
    }
    data.update(overrides)
    return make_settings(tmp_path / "unused", **data)


@dataclass
class ReleaseHarness(BotHarness):
    clusters: dict[str, FakeKubeServer] = field(default_factory=dict)
    git: GitServer | None = None
    flux: FakeFlux | None = None

    @property
    def server(self) -> GitServer:
        assert self.git is not None
        return self.git

    async def wait_text(
        self,
        needle: str | re.Pattern[str],
        *,
        thread_ts: str | None = None,
        method: str = "chat.postMessage",
        timeout: float = 15.0,
    ) -> Post:
        """The first message (or update) whose text says `needle`."""

        def says(post: Post) -> bool:
            text = block_text(post)
            return needle.search(text) is not None if isinstance(needle, re.Pattern) else needle in text

        return await self.slack.wait_for_post(says, thread_ts=thread_ts, method=method, timeout=timeout)

    def texts(
        self, *, thread_ts: str | None = None, where: Callable[[Post], bool] | None = None
    ) -> list[str]:
        return [
            block_text(post)
            for post in self.slack.posts
            if (thread_ts is None or post.thread_ts == thread_ts or post.ts == thread_ts)
            and (where is None or where(post))
        ]


@asynccontextmanager
async def release_world(
    tmp_path: Path,
) -> AsyncIterator[tuple[dict[str, FakeKubeServer], GitServer, FakeFlux, Path]]:
    """Two fake clusters, the fleet repository on a git server and the test Flux applying it."""
    async with AsyncExitStack() as stack:
        clusters = {name: FakeKubeServer(bookmark_interval=0.5).start() for name in fleet_files.CLUSTERS}
        for kube in clusters.values():
            stack.callback(kube.stop)
        git = stack.enter_context(GitServer(tmp_path / "remote", fleet_files.files()))
        token = git.add_user(TOKEN_USER)
        token_file = tmp_path / "git-token"
        token_file.write_text(token + "\n")
        flux = FakeFlux(git, clusters)
        flux.install()
        flux.watch()
        stack.callback(flux.stop)
        yield clusters, git, flux, token_file
        assert flux.errors == []


@asynccontextmanager
async def release_bot(
    slack: SlackEmulator,
    tmp_path: Path,
    *,
    world: tuple[dict[str, FakeKubeServer], GitServer, FakeFlux, Path] | None = None,
    file_url: bool = False,
    **config: Any,
) -> AsyncIterator[ReleaseHarness]:
    async with AsyncExitStack() as stack:
        if world is None:
            world = await stack.enter_async_context(release_world(tmp_path))
        clusters, git, flux, token_file = world
        url = git.file_url if file_url else git.http_url
        settings = release_config(tmp_path, clusters, url, None if file_url else token_file, **config)
        bot: Bot = await stack.enter_async_context(running_bot(slack, clusters["prod"], settings))
        modes = config.get("modes") or {}
        for name, kube in clusters.items():
            # pods, deployments, nodes, and on a GitOps cluster its Flux Kustomization
            kube.wait_for_watches(4 if modes.get(name, "gitops") == "gitops" else 3)
        yield ReleaseHarness(slack, clusters["prod"], bot, clusters=clusters, git=git, flux=flux)


__all__ = ["ALICE", "BOB", "CHANNEL", "ReleaseHarness", "release_bot", "release_config", "release_world"]
