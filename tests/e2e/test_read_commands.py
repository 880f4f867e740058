"""Read-only commands answered from the fake API server, as a person would see them."""

from __future__ import annotations

from pathlib import Path

from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import BotHarness, block_text, make_settings, running_bot
from tests.support.slack_emulator import SlackEmulator


def crashing_pod(harness: BotHarness, name: str = "worker-0", namespace: str = "web") -> None:
    pod = harness.kube.create(builders.pod(name, namespace, labels={"app": "worker"}))
    harness.kube.apply_status("pods", namespace, name, builders.crashloop_status(pod, restarts=7))


async def test_pods_shows_status_restarts_and_names_the_cluster(harness: BotHarness) -> None:
    harness.kube.add_deployment("web", "api", replicas=2)
    crashing_pod(harness)
    text = block_text(await harness.ask("pods -n web"))
    assert "cluster `test`" in text and "namespace `web`" in text
    assert "*3 pods*, *1* not ready" in text
    assert "CrashLoopBackOff" in text and "worker-0" in text
    assert text.index("worker-0") < text.index("api-")  # problems first


async def test_pods_filters_by_label_selector(harness: BotHarness) -> None:
    harness.kube.add_deployment("web", "api", replicas=2, labels={"app": "api"})
    crashing_pod(harness)
    text = block_text(await harness.ask("pods -n web -l app=worker"))
    assert "worker-0" in text and "api-" not in text


async def test_pods_all_namespaces_truncates_with_a_count(harness: BotHarness) -> None:
    harness.kube.create_many(builders.pod(f"p-{i:03d}", "web") for i in range(120))
    text = block_text(await harness.ask("pods -A"))
    assert "*120 pods*" in text
    assert "… and 80 more." in text
    assert "NAMESPACE" in text


async def test_channel_binding_sets_the_default_namespace(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    settings = make_settings(kubeconfig, channels={"C0WEB0001": {"namespace": "web"}})
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        text = block_text(await harness.ask("pods", channel="C0WEB0001"))
        assert "namespace `web`" in text and "api-" in text


async def test_short_logs_are_shown_inline(harness: BotHarness) -> None:
    harness.kube.create(builders.pod("api-1", "default"))
    harness.kube.set_log("default", "api-1", ["starting", "listening on :8080"])
    reply = await harness.ask("logs api-1")
    assert "listening on :8080" in block_text(reply)
    await harness.settle()
    assert harness.slack.files == []


async def test_long_logs_are_uploaded_as_a_file_in_the_thread_with_a_preview(harness: BotHarness) -> None:
    harness.kube.create(builders.pod("api-1", "default"))
    harness.kube.set_log("default", "api-1", [f"line {i}" for i in range(500)])
    sent = await harness.mention("logs api-1 --tail 300")
    reply = await harness.slack.wait_for_post(thread_ts=sent.ts)
    upload = await harness.slack.wait_for_file()
    assert upload.thread_ts == sent.ts
    lines = upload.content.decode().splitlines()
    assert len(lines) == 300 and lines[-1] == "line 499"
    assert "line 499" in block_text(reply) and "line 200" not in block_text(reply)
    assert upload.filename == "test_default_api-1.log"


async def test_previous_logs_of_a_crashed_container(harness: BotHarness) -> None:
    crashing_pod(harness, "api-2", "default")
    harness.kube.set_log("default", "api-2", ["panic: boom"], previous=True)
    reply = await harness.ask("logs api-2 --previous")
    assert "panic: boom" in block_text(reply)
    last = harness.kube.requests[-1]
    assert last.query.get("previous") == ["true"]


async def test_logs_of_missing_pod_say_what_and_where(harness: BotHarness) -> None:
    text = block_text(await harness.ask("logs ghost-1 -n web"))
    assert "logs of pod `ghost-1` not found in namespace `web` on cluster `test`" in text


async def test_logs_needing_a_container_name_explain_the_choice(harness: BotHarness) -> None:
    harness.kube.create(builders.pod("multi", "default", containers=("app", "sidecar")))
    text = block_text(await harness.ask("logs multi"))
    assert "a container name must be specified" in text and "sidecar" in text


async def test_describe_pod_summarises_containers_conditions_and_events(harness: BotHarness) -> None:
    crashing_pod(harness, "api-3", "default")
    pod = harness.kube.get("pods", "default", "api-3")
    assert pod is not None
    harness.kube.create(
        builders.event(
            "default",
            ("Pod", "api-3", pod["metadata"]["uid"]),
            "BackOff",
            "Back-off restarting failed container",
        )
    )
    text = block_text(await harness.ask("describe pod api-3"))
    assert "CrashLoopBackOff" in text and "Terminated: Error (exit 1)" in text
    assert "Back-off restarting failed container" in text
    assert "apiVersion" not in text  # a summary, not a YAML dump


async def test_describe_deployment_lists_replicas_and_replicasets(harness: BotHarness) -> None:
    harness.kube.add_deployment("web", "api", replicas=3)
    text = block_text(await harness.ask("describe deploy api -n web"))
    assert "3 desired · 3 updated · 3 ready · 3 available" in text
    assert "ReplicaSets" in text and "api-" in text


async def test_describe_node_shows_conditions(harness: BotHarness) -> None:
    harness.kube.add_node("node-1")
    text = block_text(await harness.ask("describe node node-1"))
    assert "MemoryPressure" in text and "Ready" in text


async def test_events_warnings_for_one_object(harness: BotHarness) -> None:
    harness.kube.create(builders.event("web", ("Pod", "api-1", "uid-1"), "BackOff", "Back-off restarting"))
    harness.kube.create(
        builders.event("web", ("Pod", "api-2", "uid-2"), "Pulled", "Pulled image", type="Normal")
    )
    text = block_text(await harness.ask("events -n web --warnings --for pod/api-1"))
    assert "Back-off restarting" in text and "Pulled image" not in text


async def test_deployments_and_nodes_and_status(harness: BotHarness) -> None:
    harness.kube.add_node("node-1")
    harness.kube.add_node("node-2", ready=False)
    harness.kube.add_deployment("web", "api", replicas=2, image="ghcr.io/acme/api:1.2")
    crashing_pod(harness, "api-x", "web")
    deployments = block_text(await harness.ask("deployments -n web"))
    assert "ghcr.io/acme/api:1.2" in deployments and "2/2" in deployments
    nodes = block_text(await harness.ask("nodes"))
    assert "*2 nodes*, *1* not ready" in nodes and "NotReady" in nodes
    status = block_text(await harness.ask("status -n web"))
    assert "1/2" in status and "api-x" in status


async def test_forbidden_names_the_missing_permission(harness: BotHarness) -> None:
    harness.kube.deny("list", "pods", namespace="web")
    text = block_text(await harness.ask("pods -n web"))
    assert "may not *list* `pods` in namespace `web` on cluster `test`" in text


async def test_unreachable_and_slow_clusters_are_explained(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(kubeconfig.read_text().replace(kube.url, "http://127.0.0.1:9"))
    settings = make_settings(
        kubeconfig,
        clusters={
            "test": {"kubeconfig": str(kubeconfig), "context": "fake"},
            "dead": {"kubeconfig": str(dead), "context": "fake"},
            "slow": {"kubeconfig": str(kubeconfig), "context": "fake", "request_timeout_seconds": 0.5},
        },
    )
    kube.delay(r"/api/v1/namespaces/default/pods$", 3)
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        assert "cluster `dead` is unreachable" in block_text(await harness.ask("pods --cluster dead"))
        assert "cluster `slow` did not answer in time" in block_text(await harness.ask("pods --cluster slow"))


async def test_a_slow_cluster_is_asked_once_and_given_up_on_at_its_timeout(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """No hidden urllib3 retry: one request, abandoned after request_timeout_seconds."""
    settings = make_settings(
        kubeconfig,
        clusters={"test": {"kubeconfig": str(kubeconfig), "context": "fake", "request_timeout_seconds": 0.5}},
    )
    kube.delay(r"/api/v1/namespaces/default/pods$", 3)
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        kube.clear_requests()
        assert "did not answer in time" in block_text(await harness.ask("pods"))
        asked = [r for r in kube.requests if r.path == "/api/v1/namespaces/default/pods"]
        assert len(asked) == 1


async def test_a_server_that_is_not_kubernetes_is_named_as_such(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    """A 404 without a Kubernetes Status (here: the Slack emulator's web server) is not 'pods not found'."""
    elsewhere = tmp_path / "elsewhere-kubeconfig"
    elsewhere.write_text(kubeconfig.read_text().replace(kube.url, slack.http_url))
    settings = make_settings(
        kubeconfig,
        clusters={
            "test": {"kubeconfig": str(kubeconfig), "context": "fake"},
            "web": {"kubeconfig": str(elsewhere), "context": "fake"},
        },
    )
    async with running_bot(slack, kube, settings) as bot:
        text = block_text(await BotHarness(slack, kube, bot).ask("pods --cluster web"))
        assert "without a Kubernetes Status" in text and "not found" not in text.lower().replace(
            "404 not found", ""
        )


async def test_big_reads_take_turns_and_the_one_waiting_is_told(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    settings = make_settings(kubeconfig, commands={"max_heavy_reads": 1})
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=2)
    kube.delay(r"/api/v1/pods$", 1.0)
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        first = await harness.mention("pods -A")
        second = await harness.mention("pods -A", user="U0BOB0001")
        notice = await slack.wait_for_post(lambda p: "you're in line" in p.text.lower(), thread_ts=second.ts)
        assert "you're next" in block_text(notice)
        answers = [await slack.wait_for_post(lambda p: "api-" in block_text(p), thread_ts=s.ts) for s in (first, second)]
        assert len(answers) == 2
        await harness.settle()
        assert not any("in line" in p.text.lower() for p in slack.posts if p.thread_ts == first.ts)


async def test_logs_of_a_pod_that_has_not_started_say_why_there_are_none(harness: BotHarness) -> None:
    harness.kube.create(builders.pod("starting-1", "web", phase="Pending"))
    text = block_text(await harness.ask("logs starting-1 -n web"))
    assert "No logs yet" in text and "has not started yet" in text and "ContainerCreating" in text
    assert "Kubernetes rejected the request" not in text


async def test_incidents_and_mutes_say_alerts_are_off(harness: BotHarness) -> None:
    for command in ("incidents", "mutes", "unmute abc123"):
        text = block_text(await harness.ask(command))
        assert "Alerts are off" in text and "alerts.enabled" in text, command
