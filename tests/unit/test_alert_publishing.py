"""A failed publisher call never stops the alert pipeline, and is never swallowed: Slack's
refusals are one warning line, anything else is a bug logged with its traceback and
reported (opsbot.alerts.publishing.Publishing._guard)."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from opsbot.alerts.enrichment import Enrichment
from opsbot.alerts.incidents import Incident, IncidentBook, IncidentPolicy
from opsbot.alerts.mutes import MuteList
from opsbot.alerts.routing import enabled_kinds
from opsbot.alerts.service import AlertService
from opsbot.alerts.settings import AlertsSettings
from opsbot.core.reply import Text
from opsbot.errors import ChatError
from opsbot.kube.watch import WatchEvent
from opsbot.slack.alerts import SlackAlertPublisher
from opsbot.slack.outbox import OutboxClosedError
from tests.support.fake_kube.builders import crashloop_status, pod

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHANNEL = "C0ALERTS01"
RUNNING = pod("web-1", "shop", owner={"kind": "ReplicaSet", "name": "web-7d9f8b6c5d"})
CRASHING = {**RUNNING, "status": {**RUNNING["status"], **crashloop_status(RUNNING, restarts=4)}}


class Reporter:
    def __init__(self) -> None:
        self.reports: list[tuple[BaseException, dict[str, Any]]] = []

    def capture(self, exc: BaseException, **context: Any) -> None:
        self.reports.append((exc, context))


class Store:
    async def put_incident(self, *args: Any) -> None:
        pass


class Clock:
    def now(self) -> datetime:
        return NOW


class FailingPublisher:
    """Posting a root fails with ``error``; everything else works."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def backlog(self, channel: str) -> int:
        return 0

    async def post_root(self, incident: Incident) -> str | None:
        raise self.error

    async def find_root(self, incident: Incident) -> str | None:
        return None

    async def update_root(self, incident: Incident) -> None:
        pass

    async def reply(self, incident: Incident, text: Text) -> None:
        pass

    async def post_enrichment(self, incident: Incident, enrichment: Enrichment) -> str | None:
        return None

    async def find_enrichment(self, incident: Incident) -> str | None:
        return None

    async def post_digest(self, channel: str, folded: list[Incident], separate: list[Incident]) -> str | None:
        return None

    async def update_digest(self, channel: str, ts: str, folded: list[Incident], separate: list[Incident]) -> None:
        pass


async def open_one_incident(error: Exception) -> tuple[Reporter, list[MutableMapping[str, Any]]]:
    """A crash-looping pod seen once, with a publisher whose root post raises ``error``."""
    reporter = Reporter()
    settings = AlertsSettings(default_channel=CHANNEL)
    unused = cast(Any, None)
    service = AlertService(
        IncidentBook(IncidentPolicy(), lambda finding: CHANNEL),
        cast(Any, Store()),
        FailingPublisher(error),
        unused,
        Clock(),
        mutes=MuteList([]),
        enabled=enabled_kinds(settings),
        run_blocking=unused,
        enrichment_lines=0,
        errors=reporter,
    )
    with capture_logs() as logs:
        await service.pipeline.handle(WatchEvent("prod", "pods", "ADDED", CRASHING, None))
        await service.drain()
    return reporter, [entry for entry in logs if entry["event"] == "alert_publish_failed"]


async def test_an_unexpected_exception_in_a_publisher_call_is_logged_with_its_traceback_and_reported() -> (
    None
):
    reporter, failures = await open_one_incident(KeyError("blocks"))
    (failure,) = failures
    assert failure["log_level"] == "error" and failure["exc_info"] is True
    assert failure["what"] == "post_root"
    ((error, context),) = reporter.reports
    assert isinstance(error, KeyError)
    assert context["where"] == "alert_publish" and context["what"] == "post_root"
    assert context["incident"] == failure["incident"]


async def test_an_operational_publisher_failure_is_one_warning_line_and_not_reported() -> None:
    reporter, failures = await open_one_incident(ChatError("Slack call failed: channel_not_found"))
    (failure,) = failures
    assert failure["log_level"] == "warning" and "exc_info" not in failure
    assert "channel_not_found" in failure["error"]
    assert reporter.reports == []


class ClosedOutbox:
    async def post(self, channel: str, **kwargs: Any) -> dict[str, Any]:
        raise OutboxClosedError("outbox is closed")


class BrokenOutbox:
    async def post(self, channel: str, **kwargs: Any) -> dict[str, Any]:
        raise TypeError("a bug")


async def test_the_slack_publisher_turns_operational_failures_into_chat_errors_and_lets_bugs_through() -> (
    None
):
    incident = cast(Incident, SimpleNamespace(channel=CHANNEL, root="1700000000.000100"))
    with pytest.raises(ChatError) as raised:
        await SlackAlertPublisher(cast(Any, ClosedOutbox()), cast(Any, None)).reply(incident, "hello")
    assert isinstance(raised.value.__cause__, OutboxClosedError)
    with pytest.raises(TypeError):
        await SlackAlertPublisher(cast(Any, BrokenOutbox()), cast(Any, None)).reply(incident, "hello")
