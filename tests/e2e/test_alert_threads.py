"""Every root gets its context once, also after a restart; a storm's digest names every incident.

The real bot against the Slack emulator and the fake API server. A crash between posting a
root and posting its context is made by running the first bot without context (as if it
died right after the root), then telling the store what such a crash leaves behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsbot.store.sqlite import SqliteStore
from tests.e2e.test_alerts import alert_settings, crash, pod_names, roots
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALERTS, BotHarness, block_text, make_settings, message_text, running_bot
from tests.support.polling import until
from tests.support.slack_emulator import SlackEmulator


async def edit_record(settings: Any, **changes: Any) -> None:
    store = SqliteStore(settings.store.path)
    (record,) = await store.incidents()
    record.update(changes)
    await store.put_incident(record["id"], record["key"], record["state"], record["channel"], record)
    store.close()


def thread(slack: SlackEmulator, root_ts: str) -> list[str]:
    return [m["text"] for m in slack.messages(ALERTS) if m["thread_ts"] == root_ts and m["ts"] != root_ts]


async def test_a_root_found_again_after_a_crash_gets_its_thread(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    kube.set_log("web", pod, ["boot", "panic: no such table: orders"], previous=True)
    without_context = alert_settings(kubeconfig, enrichment_log_lines=0)
    async with running_bot(slack, kube, without_context, alert_flush_interval=0.2) as bot:
        crash(kube, "web", pod)
        root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        await BotHarness(slack, kube, bot).settle()
    assert thread(slack, root.ts) == []
    # What a crash right after posting the root leaves: the root in Slack, no ts on record,
    # the thread's context still to come.
    await edit_record(without_context, root=None, enrichment="pending")
    settings = alert_settings(kubeconfig)
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2) as bot:
        context = await slack.wait_for_post(thread_ts=root.ts)
        assert "panic: no such table: orders" in block_text(context)
        await BotHarness(slack, kube, bot).settle()
    assert len(roots(slack, ALERTS)) == 1, "found again, not posted again"
    assert len(thread(slack, root.ts)) == 1


async def test_a_thread_that_has_its_context_does_not_get_it_twice_after_a_restart(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_deployment("web", "shop", replicas=1)
    (pod,) = pod_names(kube, "web")
    settings = alert_settings(kubeconfig)
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2):
        crash(kube, "web", pod)
        root = await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        await slack.wait_for_post(thread_ts=root.ts)
    await edit_record(settings, enrichment="pending")  # died before recording that the context went out
    kube.add_deployment("web", "zz", replicas=1)  # sentinel: its root follows anything shop's restart causes
    crash(kube, "web", next(n for n in pod_names(kube, "web") if n.startswith("zz-")))
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2) as bot:
        sentinel = await slack.wait_for_post(
            lambda p: "deployment/zz" in p.text, channel=ALERTS, method="chat.postMessage"
        )
        await slack.wait_for_post(thread_ts=sentinel.ts)
        await BotHarness(slack, kube, bot).settle()
    assert len(thread(slack, root.ts)) == 1


async def test_a_storms_digest_names_every_incident_posted_while_it_was_open(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    slack.enforce_rate_limit("chat.postMessage", per_second=1.0, burst=2)
    names = [f"svc-{index}" for index in range(8)]
    for name in names:
        kube.add_deployment("web", name, replicas=2)
    settings = make_settings(
        kubeconfig,
        outbox={"per_channel_per_second": 1.0, "burst": 2},
        alerts={"enabled": True, "default_channel": ALERTS, "digest_threshold": 2},
    )
    async with running_bot(slack, kube, settings, alert_flush_interval=0.2) as bot:
        for pod in pod_names(kube, "web"):
            crash(kube, "web", pod, restarts=2)
        alerts = bot.alerts
        assert alerts is not None

        def accounted() -> bool:
            return len(alerts.open_incidents_here()) >= len(names) and all(
                (i.root or (i.digest and i.digest != "pending")) and len(i.affected) >= 2
                for i in alerts.open_incidents_here()
            )

        await until(accounted, timeout=30, interval=0.1)
        await BotHarness(slack, kube, bot).settle(timeout=30)
        incidents = {i.workload.name: i for i in alerts.open_incidents_here()}
    top = [m for m in slack.messages(ALERTS) if m["thread_ts"] in (None, m["ts"])]
    digests = [m for m in top if " new incident" in m["text"]]
    assert len(digests) == 1, "\n".join(m["ts"] + " " + block_text_of(m) for m in top)
    digest = digests[0]
    shown = block_text_of(digest)
    listed = [incident for incident in incidents.values() if incident.ref in shown]
    for name, incident in incidents.items():
        if incident.digest:
            assert incident in listed and f"deployment/{name}" in shown
            continue
        (own,) = [m for m in top if f"deployment/{name} " in m["text"]]
        if own["ts"] > digest["ts"]:
            assert incident in listed, f"{name} got a root of its own while the digest was open, unlisted"
    assert any(incident.digest for incident in incidents.values())
    count = len(listed)
    assert digest["text"].startswith(f":warning: {count} new incident{'' if count == 1 else 's'} in web")
    assert "Too many" not in shown


def block_text_of(message: dict[str, Any]) -> str:
    return message_text(message["text"], message["blocks"])
