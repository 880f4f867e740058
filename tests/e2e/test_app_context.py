"""Talking about an app: `use` sets a context per person and channel, commands without names
follow it, every header says where the scope came from, and it survives a restart."""

from __future__ import annotations

import re
from pathlib import Path

from opsbot.approvals.cards import CONFIRM_ACTION
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import (
    ALICE,
    BOB,
    CHANNEL,
    BotHarness,
    ShiftedClock,
    block_text,
    make_settings,
    running_bot,
)
from tests.support.polling import until, watches_synced
from tests.support.slack_emulator import SlackEmulator

OTHER = "C0OTHER001"
CAROL = "U0CAROL01"  # a viewer, through the ops channel's binding
DEPLOYMENT_LISTS = re.compile(r"^/apis/apps/v1(/namespaces/[^/]+)?/deployments$")


def prepared(kube: FakeKubeServer) -> None:
    if kube.get("namespaces", None, "web") is None:
        kube.add_namespace("web")
    kube.add_deployment("web", "podinfo", replicas=3)
    kube.add_deployment("web", "podinfo-api", replicas=1)


def pod_names(kube: FakeKubeServer, app: str) -> list[str]:
    return sorted(
        p["metadata"]["name"] for p in kube.list("pods", "web") if p["metadata"]["labels"].get("app") == app
    )


async def test_use_sets_a_context_that_commands_follow_and_headers_name(harness: BotHarness) -> None:
    prepared(harness.kube)
    saved = block_text(await harness.ask("use podinfo -n web"))
    assert "Saved as your context" in saved and "podinfo` (Deployment, 3/3 ready)" in saved
    assert "cluster `test` · namespace `web` · app `podinfo` (your context)" in saved
    pods = block_text(await harness.ask("pods"))
    assert "Pods of podinfo" in pods and "3 pods* of `deployment/podinfo`" in pods
    assert all(name in pods for name in pod_names(harness.kube, "podinfo"))
    assert pod_names(harness.kube, "podinfo-api")[0] not in pods
    assert "cluster `test` · namespace `web` · app `podinfo` (your context)" in pods
    shown = block_text(await harness.ask("context"))
    assert "Your context here:" in shown and "app `podinfo`, namespace `web`, cluster `test`" in shown
    everything = block_text(await harness.ask("pods -n web"))  # -n picks the namespace, not the app
    assert pod_names(harness.kube, "podinfo-api")[0] in everything and "(as asked)" in everything


async def test_a_context_belongs_to_one_person_in_one_channel(harness: BotHarness) -> None:
    prepared(harness.kube)
    await harness.ask("use podinfo -n web")
    elsewhere = block_text(await harness.ask("pods", channel=OTHER))
    assert "app `podinfo`" not in elsewhere and "namespace `default` (default)" in elsewhere
    bobs = block_text(await harness.ask("pods", user=BOB))
    assert "app `podinfo`" not in bobs


async def test_clear_forgets_the_context(harness: BotHarness) -> None:
    prepared(harness.kube)
    await harness.ask("use podinfo -n web")
    cleared = block_text(await harness.ask("use --clear"))
    assert "Forgot your context" in cleared and "app `podinfo`" in cleared
    assert "Your context here:* none" in block_text(await harness.ask("context"))
    header = block_text(await harness.ask("pods"))
    assert "cluster `test` · namespace `default` (default)" in header
    assert "Nothing to forget" in block_text(await harness.ask("use --clear"))


async def test_use_ns_and_cluster_change_only_those_parts_and_keep_the_app_where_it_exists(
    harness: BotHarness,
) -> None:
    prepared(harness.kube)
    harness.kube.add_namespace("pay")
    harness.kube.add_deployment("pay", "ledger")
    await harness.ask("use podinfo -n web")
    moved = block_text(await harness.ask("use ns pay"))
    assert "App `podinfo` is not in test/pay: dropped." in moved
    assert "namespace `pay` (your context)" in block_text(await harness.ask("pods"))
    typo = block_text(await harness.ask("use ns pya"))
    assert "no deployments in test/pya (a typo?)" in typo


async def test_a_context_expires_when_idle_and_says_so_once(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    prepared(kube)
    settings = make_settings(kubeconfig, context={"idle_hours": 0.0003})  # about a second
    clock = ShiftedClock()
    async with running_bot(slack, kube, settings, clock=clock) as bot:
        harness = BotHarness(slack, kube, bot)
        await harness.ask("use podinfo -n web")
        assert "app `podinfo` (your context)" in block_text(await harness.ask("pods"))
        clock.advance(seconds=1.5)
        expired = block_text(await harness.ask("pods"))
        assert "Your context (app `podinfo`, namespace `web`, cluster `test`) expired" in expired
        assert (
            "namespace `default` (default)" in expired and "app `podinfo`" not in expired.split("expired")[1]
        )
        assert "expired" not in block_text(await harness.ask("pods"))


async def test_an_unknown_app_gets_a_suggestion_from_the_cache_and_nothing_is_stored(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "podinfo-api")
    settings = make_settings(kubeconfig, watch={"cache": True})
    async with running_bot(slack, kube, settings) as bot:
        await until(lambda: watches_synced(bot))
        harness = BotHarness(slack, kube, bot)
        kube.clear_requests()
        reply = block_text(await harness.ask("use podinfo -n web"))
        assert "no app podinfo in test/web; did you mean podinfo-api?" in reply
        await harness.settle()
        assert not [r for r in kube.requests if DEPLOYMENT_LISTS.match(r.path) and "watch" not in r.query]
        assert "Your context here:* none" in block_text(await harness.ask("context"))


async def test_setting_someone_elses_context_or_a_channels_is_admin_only(harness: BotHarness) -> None:
    prepared(harness.kube)
    denied = block_text(await harness.ask(f"use podinfo -n web for <@{ALICE}>", user=BOB))
    assert "Not allowed" in denied and "use-for" in denied
    denied_pin = block_text(await harness.ask(f"use podinfo -n web for <#{CHANNEL}|ops>", user=BOB))
    assert "Not allowed" in denied_pin
    await harness.settle()
    assert "app `podinfo`" not in block_text(await harness.ask("pods", user=CAROL))

    for_bob = block_text(await harness.ask(f"use podinfo -n web for <@{BOB}>"))
    assert f"Saved as <@{BOB}>'s context" in for_bob and f"<@{BOB}>: <@{ALICE}> set your context" in for_bob
    assert "app `podinfo` (your context)" in block_text(await harness.ask("pods", user=BOB))

    pinned = block_text(await harness.ask(f"use podinfo-api -n web for <#{CHANNEL}|ops>"))
    assert f"Saved as <#{CHANNEL}>'s pinned context" in pinned
    carol = block_text(await harness.ask("pods", user=CAROL))
    assert "Pods of podinfo-api" in carol and "app `podinfo-api` (this channel)" in carol
    assert "app `podinfo` (your context)" in block_text(await harness.ask("pods", user=BOB))  # his own wins


async def test_restart_via_the_context_goes_through_confirm_and_says_where_the_target_came_from(
    harness: BotHarness,
) -> None:
    prepared(harness.kube)
    await harness.ask("use podinfo -n web")
    harness.kube.clear_requests()
    card = await harness.ask("restart")
    text = block_text(card)
    assert "Confirm: restart deployment/podinfo" in text
    assert "Target from" in text and "podinfo, namespace web, cluster test from your context" in text
    await harness.settle()
    assert harness.kube.writes() == []
    await harness.click_button(card, CONFIRM_ACTION)
    await harness.slack.wait_for_post(
        lambda p: "Restarted deployment/podinfo" in p.text, thread_ts=card.thread_ts
    )
    restarted = harness.kube.get("deployments", "web", "podinfo")
    assert restarted is not None
    assert "kubectl.kubernetes.io/restartedAt" in restarted["spec"]["template"]["metadata"]["annotations"]


async def test_scale_via_the_context_plans_on_the_app(harness: BotHarness) -> None:
    prepared(harness.kube)
    await harness.ask("use podinfo -n web")
    text = block_text(await harness.ask("scale 1"))
    assert "Confirm: scale deployment/podinfo" in text and "replicas 3 → 1" in text


async def test_a_context_survives_a_restart_of_the_bot(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    prepared(kube)
    settings = make_settings(kubeconfig)
    async with running_bot(slack, kube, settings) as bot:
        await BotHarness(slack, kube, bot).ask("use podinfo -n web")
    async with running_bot(slack, kube, settings) as bot:
        pods = block_text(await BotHarness(slack, kube, bot).ask("pods"))
        assert "Pods of podinfo" in pods and "app `podinfo` (your context)" in pods


async def test_app_logs_merge_the_pods_by_timestamp_with_prefixes(harness: BotHarness) -> None:
    prepared(harness.kube)
    first, second, third = pod_names(harness.kube, "podinfo")
    base = builders.parse_time("2026-11-22T12:00:00Z")
    at = [base.replace(second=s) for s in range(6)]
    harness.kube.set_log("web", first, [(at[0], "one"), (at[3], "four")])
    harness.kube.set_log("web", second, [(at[1], "two"), (at[4], "five")])
    harness.kube.set_log("web", third, [(at[2], "three"), (at[5], "six")])
    text = block_text(await harness.ask("logs app/podinfo -n web"))
    expected = [
        f"[pod/{first}] one",
        f"[pod/{second}] two",
        f"[pod/{third}] three",
        f"[pod/{first}] four",
        f"[pod/{second}] five",
        f"[pod/{third}] six",
    ]
    positions = [text.index(line) for line in expected]
    assert positions == sorted(positions)
    assert "6* lines from 3 of 3 pods" in text and "app `podinfo` (as asked)" in text
    asked = [r for r in harness.kube.requests if r.path.endswith("/log")]
    assert len(asked) == 3 and all(r.query.get("timestamps") == ["true"] for r in asked)


async def test_app_logs_read_the_most_restarted_pods_first_within_the_caps(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    prepared(kube)
    names = pod_names(kube, "podinfo")
    crashing = kube.get("pods", "web", names[2])
    assert crashing is not None
    kube.apply_status("pods", "web", names[2], builders.crashloop_status(crashing, restarts=4))
    for name in names:
        kube.set_log("web", name, [f"line {n} of {name}" for n in range(40)])
        kube.set_log("web", name, ["crashed"], previous=True)
    settings = make_settings(kubeconfig, commands={"logs": {"max_pods": 2, "max_bytes": 2048}})
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        await harness.ask("use podinfo -n web")
        reply = await harness.ask("logs")
        text = block_text(reply)
        assert "1 more pod not read (at most 2, most restarted first)" in text
        assert "older lines cut to stay within 2048 bytes" in text
        read = {r.path.split("/")[-2] for r in kube.requests if r.path.endswith("/log")}
        assert names[2] in read and len(read) == 2
        upload = await slack.wait_for_file()
        assert upload.thread_ts == reply.thread_ts and upload.filename == "test_web_podinfo.log"
        content = upload.content.decode()
        assert (
            len(upload.content) <= 2048
            and content.splitlines()[-1] == f"[pod/{names[2]}] line 39 of {names[2]}"
        )
        assert names[1] not in content  # the pod left out
        previous = block_text(await harness.ask("logs --previous"))
        assert f"[pod/{names[2]}] crashed" in previous and "1 of 1 pod" in previous


async def test_describe_shows_the_app_its_rollout_pods_and_history(harness: BotHarness) -> None:
    prepared(harness.kube)
    await harness.ask("use podinfo -n web")
    name = pod_names(harness.kube, "podinfo")[0]
    harness.kube.create(
        builders.event("web", ("Pod", name, "uid-1"), "BackOff", "Back-off restarting failed")
    )
    harness.kube.create(builders.event("web", ("Pod", "unrelated-1", "uid-2"), "BackOff", "not this app"))
    text = block_text(await harness.ask("describe"))
    assert "Deployment podinfo" in text and "3/3 ready" in text and "complete" in text
    assert name in text and "Back-off restarting failed" in text and "not this app" not in text
    assert "Rollout history" in text and "nginx:1.27" in text
    assert "app `podinfo` (your context)" in text


async def test_events_of_the_app_leave_out_other_apps(harness: BotHarness) -> None:
    prepared(harness.kube)
    await harness.ask("use podinfo -n web")
    mine = pod_names(harness.kube, "podinfo")[0]
    theirs = pod_names(harness.kube, "podinfo-api")[0]
    harness.kube.create(builders.event("web", ("Pod", mine, "u1"), "Unhealthy", "probe failed here"))
    harness.kube.create(builders.event("web", ("Pod", theirs, "u2"), "Unhealthy", "probe failed there"))
    text = block_text(await harness.ask("events"))
    assert "Events of podinfo" in text and "probe failed here" in text and "probe failed there" not in text


async def test_a_statefulset_is_an_app_too_but_restart_says_it_works_on_deployments(
    harness: BotHarness,
) -> None:
    harness.kube.create(builders.statefulset("redis", "web", replicas=2))
    saved = block_text(await harness.ask("use redis -n web"))
    assert "redis` (StatefulSet, 2/2 ready)" in saved
    described = block_text(await harness.ask("describe"))
    assert "StatefulSet redis" in described and "redis-0" in described and "redis-1" in described
    refused = block_text(await harness.ask("restart"))
    assert "`restart` works on deployments; redis is a StatefulSet" in refused


async def test_commands_without_a_name_and_without_an_app_say_how_to_set_one(harness: BotHarness) -> None:
    assert "or set your app once with `use APP`" in block_text(await harness.ask("restart"))
    assert "say which pod (or app/NAME)" in block_text(await harness.ask("logs"))


async def test_an_app_in_another_namespace_is_pointed_to_only_where_the_policy_allows(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    prepared(kube)
    kube.add_namespace("secret")
    kube.add_deployment("secret", "vault")
    settings = make_settings(
        kubeconfig,
        watch={"cache": True},
        policy={
            "roles": {"web-reader": {"verbs": ["read"], "namespaces": ["web", "default"]}},
            "bindings": [{"role": "admin", "users": [ALICE]}, {"role": "web-reader", "users": [BOB]}],
            "rate_limit": {"commands_per_minute": 600, "burst": 50},
        },
    )
    async with running_bot(slack, kube, settings) as bot:
        await until(lambda: watches_synced(bot))
        harness = BotHarness(slack, kube, bot)
        hint = block_text(await harness.ask("use podinfo", user=BOB))
        assert "no app podinfo in test/default; it is in namespace web (add -n web)" in hint
        assert "namespace secret" in block_text(await harness.ask("use vault"))
        hidden = block_text(await harness.ask("use vault", user=BOB))
        assert "no app vault in test/default" in hidden and "secret" not in hidden
