"""kill -9 in the middle of an alert storm: no incident lost, no root posted twice."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import yaml

from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import ALERTS, crashloop_root_titles
from tests.support.process import start_opsbot
from tests.support.slack_emulator import SlackEmulator

DEPLOYMENTS = 10


async def test_kill_9_mid_storm_loses_no_incident_and_posts_no_duplicate_root(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
                "alerts": {"default_channel": ALERTS, "digest_threshold": 100, "enrichment_log_lines": 0},
                "outbox": {"per_channel_per_second": 2.0, "burst": 1},
                "store": {"path": str(tmp_path / "state" / "opsbot.db")},
                "health": {"host": "127.0.0.1", "port": 0},
                "logging": {"level": "warning"},
            }
        )
    )
    for index in range(DEPLOYMENTS):
        kube.add_deployment("web", f"svc-{index}", replicas=3)
    first = await start_opsbot(slack, config)
    try:
        await slack.wait_connected(1, timeout=30)
        for pod in kube.list("pods", "web"):
            kube.apply_status(
                "pods", "web", pod["metadata"]["name"], builders.crashloop_status(pod, restarts=2)
            )
        await slack.wait_for_post(lambda p: len(crashloop_root_titles(slack)) >= 3, timeout=30)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    posted_before_kill = len(crashloop_root_titles(slack))
    assert posted_before_kill < DEPLOYMENTS, "the kill came in the middle of the storm"
    second = await start_opsbot(slack, config)
    try:
        await slack.wait_connected(2, timeout=30)
        await slack.wait_for_post(lambda p: len(crashloop_root_titles(slack)) >= DEPLOYMENTS, timeout=40)
        await slack.settle(2.0)
    finally:
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), timeout=30) == 0
    titles = crashloop_root_titles(slack)
    for index in range(DEPLOYMENTS):
        assert sum(f"deployment/svc-{index} " in title for title in titles) == 1, titles
