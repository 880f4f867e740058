"""The newer alert kinds end to end: the real bot, the fake API server, the Slack emulator.

Thresholds never make a test wait: a problem found at start carries its own age (a
condition's lastTransitionTime), and one that just began is skipped ahead by moving the
bot's clock (``ShiftedClock``), which its ticker reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.test_alerts import alert_settings, crash, pod_names, roots
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import ALERTS, BotHarness, ShiftedClock, block_text, running_bot
from tests.support.slack_emulator import Post, SlackEmulator

Obj = dict[str, Any]
HASH = "7d9f8b6c5d"


@pytest_asyncio.fixture
async def alerting(slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path) -> AsyncIterator[BotHarness]:
    async with running_bot(slack, kube, alert_settings(kubeconfig), alert_flush_interval=0.2) as bot:
        yield BotHarness(slack, kube, bot)


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def _no_nones(status: Obj) -> Obj:
    return {key: value for key, value in status.items() if value is not None}


def stuck_pod(namespace: str, workload: str, status: Callable[[Obj], Obj], *, node: str | None = None) -> Obj:
    """A pod of deployment ``workload`` (its ReplicaSet is not in the fake API server, so no
    controller touches it) with the status ``status`` gives."""
    pod = builders.pod(
        f"{workload}-{HASH}-x2x4q",
        namespace,
        owner={"kind": "ReplicaSet", "name": f"{workload}-{HASH}"},
        labels={"app": workload, "pod-template-hash": HASH},
        node=node,
        phase="Pending",
        created=ago(hours=1),
    )
    pod["status"] = _no_nones(status(pod))
    return pod


def unschedulable(since: datetime) -> Callable[[Obj], Obj]:
    return lambda pod: builders.unschedulable_status(pod, since=since)


async def root_of(slack: SlackEmulator, kind: str, channel: str = ALERTS) -> Post:
    return await slack.wait_for_post(
        lambda p: p.text.count(kind) > 0, channel=channel, thread_ts=None, method="chat.postMessage"
    )


async def sentinel(harness: BotHarness, name: str = "zz") -> None:
    """A crash whose root comes after anything the events before it caused (one consumer, one
    paced queue per channel); then everything settles. What did not happen by then will not."""
    kube = harness.kube
    kube.add_deployment("web", name, replicas=1)
    crash(kube, "web", next(n for n in pod_names(kube, "web") if n.startswith(f"{name}-")))
    await harness.slack.wait_for_post(
        lambda p: f"deployment/{name}" in p.text, channel=ALERTS, method="chat.postMessage"
    )
    await harness.settle()


def kinds_posted(slack: SlackEmulator, kind: str) -> list[Post]:
    return [p for p in roots(slack, ALERTS) if kind in p.text]


# -- pods that never get going ----------------------------------------------------------------


async def test_a_pod_unschedulable_for_ten_minutes_when_the_bot_starts_is_alerted_at_once(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.create(stuck_pod("web", "api", unschedulable(ago(minutes=10))))
    async with running_bot(slack, kube, alert_settings(kubeconfig), alert_flush_interval=0.2):
        root = await root_of(slack, "PodUnschedulable")
        text = block_text(root)
        assert "deployment/api in web" in text and "Insufficient cpu" in text
        assert "Describe" in text and "Events" in text and "Logs" not in text


async def test_a_pod_that_just_became_unschedulable_is_alerted_only_after_its_threshold(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    clock = ShiftedClock()
    async with running_bot(
        slack, kube, alert_settings(kubeconfig), alert_flush_interval=0.2, clock=clock
    ) as bot:
        harness = BotHarness(slack, kube, bot)
        kube.create(stuck_pod("web", "api", unschedulable(ago(seconds=1))))
        await sentinel(harness)
        assert kinds_posted(slack, "PodUnschedulable") == []
        clock.advance(minutes=5, seconds=5)  # the default threshold is 5 minutes
        root = await root_of(slack, "PodUnschedulable")
        assert "deployment/api in web" in block_text(root)


async def test_a_pod_stuck_creating_is_explained_by_its_mount_failure(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    pod = stuck_pod(
        "web", "api", lambda p: builders.container_creating_status(p, since=ago(minutes=20)), node="node-1"
    )
    kube.create(pod)
    failure = 'MountVolume.SetUp failed for volume "data" : secret "db-credentials" not found'
    kube.create(
        builders.event(
            "web", kube.get("pods", "web", pod["metadata"]["name"]) or pod, "FailedMount", failure, count=9
        )
    )
    async with running_bot(slack, kube, alert_settings(kubeconfig), alert_flush_interval=0.2):
        root = await root_of(slack, "StuckContainerCreating")
        context = await slack.wait_for_post(thread_ts=root.ts)
        assert "FailedMount" in block_text(context)
        # What the thread found becomes the card's quote.
        await slack.wait_for_post(
            lambda p: p.ts == root.ts and 'secret "db-credentials" not found' in block_text(p),
            method="chat.update",
        )


# -- a Deployment below its replicas -------------------------------------------------------------------


async def test_failing_readiness_probes_keep_a_deployment_unavailable_and_the_card_says_so(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    settings = alert_settings(kubeconfig, thresholds_minutes={"DeploymentUnavailable": 0})
    kube.add_deployment("web", "api", replicas=1)
    (name,) = pod_names(kube, "web")
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2):
        pod = kube.get("pods", "web", name)
        assert pod is not None
        probe = "Readiness probe failed: HTTP probe failed with statuscode: 503"
        kube.create(builders.event("web", pod, "Unhealthy", probe, count=12))
        kube.apply_status("pods", "web", name, builders.readiness_failing_status(pod))
        root = await root_of(slack, "DeploymentUnavailable")
        assert "deployment/api in web" in root.text and "0/1" in block_text(root)
        await slack.wait_for_post(lambda p: p.ts == root.ts and probe in block_text(p), method="chat.update")
        again = kube.get("pods", "web", name)
        assert again is not None
        kube.apply_status("pods", "web", name, builders.recovered_status(again))
        resolved = await slack.wait_for_post(lambda p: "Resolved after" in p.text, thread_ts=root.ts)
        assert "every replica is available again" in resolved.text


# -- jobs and cronjobs --------------------------------------------------------------------------------


async def test_a_failed_job_is_alerted_with_its_reason(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    job = kube.create(builders.job("migrate", "web"))
    kube.apply_status("jobs", "web", "migrate", builders.job_failed_status(job))
    root = await root_of(slack, "JobFailed")
    text = block_text(root)
    assert "job/migrate in web" in text and "BackoffLimitExceeded" in text and "backoff limit" in text


def _hour(offset: int) -> datetime:
    top = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return top + timedelta(hours=offset)


async def test_a_cronjob_whose_last_run_failed_is_alerted_and_resolves_when_a_run_succeeds(
    alerting: BotHarness,
) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.create(builders.cronjob("report", "web", schedule="0 * * * *", created=ago(days=2)))
    kube.apply_status(
        "cronjobs", "web", "report", builders.cronjob_status(last_schedule=_hour(0), active=["report-1"])
    )
    kube.apply_status(
        "cronjobs", "web", "report", builders.cronjob_status(last_schedule=_hour(0), last_success=_hour(-1))
    )
    root = await root_of(slack, "CronJobFailed")
    assert "cronjob/report in web" in root.text
    assert f"report-{int(_hour(0).timestamp()) // 60}" in block_text(root)
    kube.apply_status(
        "cronjobs",
        "web",
        "report",
        builders.cronjob_status(last_schedule=_hour(0), last_success=datetime.now(UTC)),
    )
    resolved = await slack.wait_for_post(lambda p: "Resolved after" in p.text, thread_ts=root.ts)
    assert "a later run succeeded" in resolved.text


async def test_a_cronjob_that_did_not_run_when_due_is_alerted(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.create(builders.cronjob("backup", "web", schedule="0 * * * *", created=ago(days=2)))
    kube.apply_status(
        "cronjobs", "web", "backup", builders.cronjob_status(last_schedule=_hour(-2), last_success=_hour(-2))
    )
    root = await root_of(slack, "CronJobMissed")
    assert "cronjob/backup in web" in root.text and "0 * * * *" in block_text(root)


# -- nodes -------------------------------------------------------------------------------------------


async def test_a_node_under_pressure_gets_a_node_card_with_its_pods_and_workloads(
    alerting: BotHarness,
) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_node("node-7")
    for index in range(3):
        pod = builders.pod(
            f"api-{HASH}-p{index}",
            "web",
            node="node-7",
            owner={"kind": "ReplicaSet", "name": f"api-{HASH}"},
            labels={"pod-template-hash": HASH},
            ready=index > 0,
        )
        kube.create(pod)
    kube.apply_status("nodes", None, "node-7", builders.node_pressure_status("MemoryPressure"))
    root = await root_of(slack, "NodePressure")
    assert "node/node-7" in root.text
    card = block_text(
        await slack.wait_for_post(
            lambda p: p.ts == root.ts and "Pods on the node" in block_text(p), method="chat.update"
        )
    )
    assert "3 (1 not ready)" in card and "deployment/api (web)" in card
    assert "namespace" not in card and "Restarts" not in card and "Pods (" not in card
    assert "Describe node" in card and "Pods on node" in card
    kube.apply_status("nodes", None, "node-7", builders.node_ready_status())
    resolved = await slack.wait_for_post(lambda p: "Resolved after" in p.text, thread_ts=root.ts)
    assert "node node-7 is no longer under pressure" in resolved.text and "pod" not in resolved.text


async def test_a_node_cordoned_for_hours_is_alerted(alerting: BotHarness) -> None:
    kube, slack = alerting.kube, alerting.slack
    kube.add_node("node-8")
    kube.patch("nodes", None, "node-8", builders.cordoned_spec(since=ago(hours=2)))
    root = await root_of(slack, "NodeUnschedulable")
    assert "node/node-8" in root.text and "cordoned" in block_text(root)


# -- Warning events, opt-in ------------------------------------------------------------------------------


async def test_warning_events_fold_into_one_incident_per_object_and_respect_the_filters(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("payments")
    settings = alert_settings(
        kubeconfig,
        kinds={"WarningEvent": True},
        events={"exclude_reasons": ["Noisy*"], "namespaces": ["web"]},
    )
    kube.add_deployment("web", "api", replicas=1)
    kube.add_deployment("payments", "pay", replicas=1)
    (name,) = pod_names(kube, "web")
    (other,) = pod_names(kube, "payments")
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2) as bot:
        pod = kube.get("pods", "web", name)
        assert pod is not None
        first = kube.create(
            builders.event("web", pod, "FailedToUpdateEndpoint", "Failed to update endpoint web/api")
        )
        root = await root_of(slack, "WarningEvent")
        assert f"pod/{name} in web" in root.text
        kube.patch(
            "events", "web", first["metadata"]["name"], {"count": 5, "lastTimestamp": builders.rfc3339()}
        )
        kube.create(builders.event("web", pod, "DNSConfigForming", "Nameserver limits were exceeded"))
        kube.create(builders.event("web", pod, "NoisyProbe", "ignored by exclude_reasons"))
        payments_pod = kube.get("pods", "payments", other)
        assert payments_pod is not None
        kube.create(
            builders.event("payments", payments_pod, "FailedToUpdateEndpoint", "outside the namespaces")
        )
        await slack.wait_for_post(
            lambda p: p.ts == root.ts and "DNSConfigForming" in block_text(p), method="chat.update"
        )
        await sentinel(BotHarness(slack, kube, bot))
    assert len(kinds_posted(slack, "WarningEvent")) == 1, "one message per object, never one per event"
    final = next(m for m in slack.messages(ALERTS) if m["ts"] == root.ts)
    assert "NoisyProbe" not in str(final["blocks"])


# -- each kind can be switched off ---------------------------------------------------------------------------


def _unschedulable(kube: FakeKubeServer) -> None:
    kube.create(stuck_pod("web", "api", unschedulable(ago(minutes=10))))


def _failed_job(kube: FakeKubeServer) -> None:
    job = kube.create(builders.job("migrate", "web"))
    kube.apply_status("jobs", "web", "migrate", builders.job_failed_status(job))


def _pressure(kube: FakeKubeServer) -> None:
    kube.add_node("node-7")
    kube.apply_status("nodes", None, "node-7", builders.node_pressure_status("DiskPressure"))


def _cordon(kube: FakeKubeServer) -> None:
    kube.add_node("node-8")
    kube.patch("nodes", None, "node-8", builders.cordoned_spec(since=ago(hours=2)))


def _missed(kube: FakeKubeServer) -> None:
    kube.create(builders.cronjob("backup", "web", schedule="0 * * * *", created=ago(days=2)))
    kube.apply_status(
        "cronjobs", "web", "backup", builders.cronjob_status(last_schedule=_hour(-2), last_success=_hour(-2))
    )


@pytest.mark.parametrize(
    ("kind", "scenario"),
    [
        ("PodUnschedulable", _unschedulable),
        ("JobFailed", _failed_job),
        ("NodePressure", _pressure),
        ("NodeUnschedulable", _cordon),
        ("CronJobMissed", _missed),
    ],
)
async def test_a_kind_switched_off_in_the_config_alerts_nothing(
    slack: SlackEmulator,
    kube: FakeKubeServer,
    kubeconfig: Path,
    kind: str,
    scenario: Callable[[FakeKubeServer], None],
) -> None:
    async with running_bot(
        slack, kube, alert_settings(kubeconfig, kinds={kind: False}), alert_flush_interval=0.2
    ) as bot:
        scenario(kube)
        await sentinel(BotHarness(slack, kube, bot))
    assert kinds_posted(slack, kind) == []
