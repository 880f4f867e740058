"""Shared fixtures: the Slack emulator, the fake API server and the bot between them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import BotHarness, make_settings, running_bot
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_fixtures import slack

__all__ = ["slack"]

for _proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_proxy, None)


@pytest.fixture
def kube() -> Iterator[FakeKubeServer]:
    server = FakeKubeServer(bookmark_interval=0.5).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubeconfig(kube: FakeKubeServer, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig", context="fake")


@pytest_asyncio.fixture
async def harness(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path) -> AsyncIterator[BotHarness]:
    kube.add_namespace("web")
    async with running_bot(slack, kube, make_settings(kubeconfig)) as bot:
        yield BotHarness(slack, kube, bot)
