"""Tracing and error reporting end to end: the real exporters against loopback receivers.

Spans go over OTLP/HTTP (protobuf) to tests/support/otlp_receiver.py; errors go
through the real sentry-sdk transport to tests/support/sentry_ingest.py. Each test
passes its own environment mapping; os.environ is never touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from opsbot import __version__
from opsbot.approvals.cards import CONFIRM_ACTION
from opsbot.commands.spec import CommandSpec
from opsbot.telemetry import from_environ
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.harness import (
    ALERTS,
    ALICE,
    BotHarness,
    block_text,
    make_settings,
    running_bot,
)
from tests.support.otlp_receiver import STATUS_ERROR, STATUS_UNSET, OtlpReceiver, ReceivedSpan
from tests.support.sentry_ingest import SentryIngest
from tests.support.slack_emulator import SlackEmulator


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    server = OtlpReceiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def ingest() -> AsyncIterator[SentryIngest]:
    server = SentryIngest()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def otel_env(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    # A short batch delay so spans arrive while the bot runs; shutdown flushes the rest.
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50", **extra}


def command_span(command: str) -> Any:
    return lambda span: span.name == "opsbot.command" and span.attributes.get("opsbot.command") == command


@pytest_asyncio.fixture
async def traced(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, receiver: OtlpReceiver
) -> AsyncIterator[BotHarness]:
    kube.add_namespace("web")
    env = otel_env(
        receiver, OTEL_SERVICE_NAME="opsbot-e2e", OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test"
    )
    async with running_bot(slack, kube, make_settings(kubeconfig), telemetry=from_environ(env)) as bot:
        yield BotHarness(slack, kube, bot)


async def test_a_command_becomes_one_span_with_its_scope_outcome_and_user(
    traced: BotHarness, receiver: OtlpReceiver
) -> None:
    traced.kube.add_deployment("web", "api", replicas=2)
    await traced.ask("pods -n web")
    span = await receiver.wait_for_span(command_span("pods"))
    assert span.attributes["opsbot.cluster"] == "test"
    assert span.attributes["opsbot.namespace"] == "web"
    assert span.attributes["opsbot.outcome"] == "ok"
    assert span.attributes["opsbot.source"] == "mention"
    assert span.attributes["enduser.id"] == ALICE
    assert span.attributes["opsbot.command_line"] == "pods -n web"
    assert span.attributes["opsbot.duration_ms"] > 0
    assert span.status_code == STATUS_UNSET and span.parent_span_id == ""
    assert span.scope == "opsbot"
    assert span.resource["service.name"] == "opsbot-e2e"
    assert span.resource["service.version"] == __version__
    assert span.resource["deployment.environment"] == "test"
    # The message as typed (the mention markup) never reaches a span.
    assert not any("<@" in str(value) for value in span.attributes.values())


async def test_a_kubernetes_refusal_marks_the_command_span_failed(
    traced: BotHarness, receiver: OtlpReceiver
) -> None:
    reply = await traced.ask("describe pod nope -n web")
    assert "Not found" in block_text(reply)
    span = await receiver.wait_for_span(command_span("describe"))
    assert span.attributes["opsbot.outcome"] == "notfound"
    assert span.status_code == STATUS_ERROR
    assert span.events == []  # a refusal, not an exception


async def test_unparsed_text_is_not_put_on_the_span(traced: BotHarness, receiver: OtlpReceiver) -> None:
    await traced.ask("what is the db password hunter2")
    span = await receiver.wait_for_span(lambda s: s.name == "opsbot.command")
    assert span.attributes["opsbot.outcome"] == "unknown_command"
    assert span.attributes["opsbot.command"] == "?"
    assert "opsbot.command_line" not in span.attributes
    assert not any("hunter2" in str(value) for value in span.attributes.values())


async def test_an_approved_action_has_its_own_span(traced: BotHarness, receiver: OtlpReceiver) -> None:
    traced.kube.add_deployment("web", "api", replicas=3)
    card = await traced.ask("scale deploy/api 1 -n web")
    await receiver.wait_for_span(
        lambda s: command_span("scale")(s) and s.attributes["opsbot.outcome"] == "planned"
    )
    await traced.click_button(card, CONFIRM_ACTION, user=ALICE)
    span = await receiver.wait_for_span(lambda s: s.name == "opsbot.action")
    assert span.attributes["opsbot.action"] == "scale"
    assert span.attributes["opsbot.target"] == "deployment/api"
    assert span.attributes["opsbot.cluster"] == "test"
    assert span.attributes["opsbot.namespace"] == "web"
    assert span.attributes["opsbot.outcome"] == "succeeded"
    assert span.attributes["enduser.id"] == ALICE


async def test_spans_still_buffered_are_exported_on_shutdown(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, receiver: OtlpReceiver
) -> None:
    """With the default 5 s batch delay nothing is sent while the bot answers; stop() flushes."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint + "/"}
    async with running_bot(slack, kube, make_settings(kubeconfig), telemetry=from_environ(env)) as bot:
        await BotHarness(slack, kube, bot).ask("help")
        assert receiver.spans == []
    # No waiting: stop() returned only after the exporter delivered.
    assert [s.attributes["opsbot.command"] for s in receiver.named("opsbot.command")] == ["help"]


async def test_an_alert_span_covers_the_incident_and_the_root_post(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, receiver: OtlpReceiver
) -> None:
    settings = make_settings(kubeconfig, alerts={"enabled": True, "default_channel": ALERTS})
    async with running_bot(
        slack, kube, settings, alert_flush_interval=0.2, telemetry=from_environ(otel_env(receiver))
    ):
        kube.add_namespace("web")
        kube.add_deployment("web", "shop", replicas=1)
        (pod,) = [p["metadata"]["name"] for p in kube.list("pods", "web")]
        current = kube.get("pods", "web", pod)
        assert current is not None
        kube.apply_status("pods", "web", pod, builders.crashloop_status(current, restarts=3))
        await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")

        def opened(span: ReceivedSpan) -> bool:
            return span.name == "opsbot.alert" and span.attributes.get("opsbot.alert.effect") == "opened"

        alert = await receiver.wait_for_span(opened)
        post = await receiver.wait_for_span(lambda s: s.name == "opsbot.alert.post_root")
    assert alert.attributes["opsbot.alert.kind"] == "CrashLoopBackOff"
    assert alert.attributes["opsbot.cluster"] == "test"
    assert alert.attributes["opsbot.namespace"] == "web"
    assert alert.attributes["opsbot.workload"] == "deployment/shop"
    assert alert.attributes["opsbot.channel"] == ALERTS
    assert post.attributes["opsbot.outcome"] == "posted"
    assert post.attributes["opsbot.incident"] == alert.attributes["opsbot.incident"]
    # The post runs in its own task after the alert span ended, and is still its child.
    assert (post.trace_id, post.parent_span_id) == (alert.trace_id, alert.span_id)


# -- Sentry ------------------------------------------------------------------------


def exploding(spec: CommandSpec, message: str) -> CommandSpec:
    def handler(*args: Any) -> Any:
        raise RuntimeError(message)

    return dataclasses.replace(spec, handler=handler)


async def test_an_unexpected_error_gets_the_friendly_reply_and_one_scrubbed_sentry_event(
    slack: SlackEmulator,
    kube: FakeKubeServer,
    kubeconfig: Path,
    ingest: SentryIngest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"SENTRY_DSN": ingest.dsn, "SENTRY_ENVIRONMENT": "e2e"}
    kube.add_namespace("web")
    async with running_bot(slack, kube, make_settings(kubeconfig), telemetry=from_environ(env)) as bot:
        harness = BotHarness(slack, kube, bot)
        registry = bot.router.registry
        spec = registry.find("pods")
        assert spec is not None
        # A bug that puts a token in its message: it must not reach Sentry as is.
        broken = exploding(spec, f"pods handler exploded near {slack.bot_token} and {slack.app_token}")
        monkeypatch.setitem(registry._specs, "pods", broken)
        monkeypatch.setitem(registry._lookup, "pods", broken)

        # Expected failures are not reported: a refusal from the cluster, a typo.
        assert "Not found" in block_text(await harness.ask("describe pod nope -n web"))
        await harness.ask("podz")

        reply = await harness.ask("pods -n web")
        assert "Something went wrong on my side" in block_text(reply)
        event = await ingest.wait_for_event()
    # stop() flushed the transport: everything that was going to be sent has been.
    assert len(ingest.events) == 1
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError"
    assert "xoxb-[redacted]" in exception["value"] and "xapp-[redacted]" in exception["value"]
    assert event["tags"]["where"] == "command" and event["tags"]["command"] == "pods"
    assert event["release"] == f"opsbot@{__version__}"
    assert event["environment"] == "e2e"
    assert event.get("user", {}).get("ip_address") is None  # send_default_pii=False
    everything = b"".join(ingest.raw)
    assert slack.bot_token.encode() not in everything
    assert slack.app_token.encode() not in everything
