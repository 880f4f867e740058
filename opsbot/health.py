"""The internal HTTP port: /healthz (liveness), /readyz (readiness) and /metrics (Prometheus).

Each Bot has its own `CollectorRegistry` (never the process-global one), so tests can run
many bots in one process. Command counters are real prometheus-client metrics fed by the
router; everything else is read from the bot's own counters when Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from opsbot.alerts.findings import AlertKind
from opsbot.alerts.incidents import Incident
from opsbot.config import HealthSettings
from opsbot.errors import ConfigError
from opsbot.kube.watch import WatchHealth

log = structlog.get_logger("opsbot.health")

HEARTBEAT_SECONDS = 1.0
STALE_AFTER_SECONDS = 10.0
# Routes other features add to this port (e.g. Alertmanager's receiver), and how large a body
# they may receive (a notification about many alerts is big).
Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]
MAX_BODY_BYTES = 16 * 1024 * 1024
# Commands answer from the cache in milliseconds and from the API in up to the request timeout.
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class OutboxStats(Protocol):
    @property
    def sent(self) -> int: ...

    @property
    def calls(self) -> Mapping[str, int]: ...

    @property
    def errors(self) -> Mapping[str, int]: ...

    @property
    def rate_limited(self) -> int: ...

    def depth(self) -> int: ...

    def oldest_age(self) -> float: ...


class AlertStats(Protocol):
    @property
    def events_processed(self) -> int: ...

    @property
    def findings_by_kind(self) -> Mapping[str, int]: ...

    @property
    def incidents_opened(self) -> Mapping[str, int]: ...

    def open_incidents_here(self) -> list[Incident]:
        """Those this replica holds (all, with one replica): the replicas' figures add up."""
        ...


class BotStatus(Protocol):
    """What the probes and the scraper read of a running bot: a read-only view, not the bot."""

    @property
    def accepting(self) -> bool:
        """False once shutdown began."""
        ...

    @property
    def socket_hellos(self) -> int:
        """Socket Mode ``hello`` messages seen: one per connection opened."""
        ...

    @property
    def outbox(self) -> OutboxStats: ...

    @property
    def alerts(self) -> AlertStats | None:
        """None when alerts are off."""
        ...

    def watch_health(self) -> Sequence[WatchHealth] | None:
        """None until the watches have started."""
        ...

    async def connected(self) -> bool:
        """Whether the Socket Mode link to Slack is up right now."""
        ...

    def link_problem(self) -> str | None:
        """Why the Slack link is not usable (connecting, retrying after what), or None."""
        ...

    def unusable_clusters(self) -> Mapping[str, str]:
        """Configured clusters opsbot cannot use → why (the others are served all the same)."""
        ...

    async def store_problem(self) -> str | None:
        """Why the store cannot be used right now (Redis unreachable), or None."""
        ...


class Metrics:
    """The metrics of one Bot, in a registry of its own."""

    def __init__(self, bot: BotStatus) -> None:
        self.link_up = False  # refreshed by the HealthServer (heartbeat, and before each scrape)
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "opsbot_commands",
            "Commands handled, by command name and outcome.",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.command_duration = Histogram(
            "opsbot_command_duration_seconds",
            "Time from receiving a command to having its answer (or plan), by command name.",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(BotCollector(bot, self))

    def observe_command(self, command: str, outcome: str, seconds: float) -> None:
        self.commands.labels(command=command, outcome=outcome).inc()
        self.command_duration.labels(command=command).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class BotCollector(Collector):
    """Reads the bot's own counters at scrape time."""

    def __init__(self, bot: BotStatus, metrics: Metrics) -> None:
        self._bot = bot
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []  # dynamic: nothing to check at registration

    def collect(self) -> Iterator[Any]:
        bot = self._bot
        yield from self._slack(bot, self._metrics.link_up)
        yield from self._alerts(bot)
        yield from self._watches(bot)

    @staticmethod
    def _slack(bot: BotStatus, link_up: bool) -> Iterator[Any]:
        outbox = bot.outbox
        yield GaugeMetricFamily(
            "opsbot_outbox_depth", "Messages waiting in the outbox queues.", outbox.depth()
        )
        yield GaugeMetricFamily(
            "opsbot_outbox_oldest_age_seconds",
            "How long the oldest message waiting in the outbox has waited (0 when empty).",
            outbox.oldest_age(),
        )
        yield CounterMetricFamily(
            "opsbot_outbox_messages_sent", "Slack API calls the outbox completed.", outbox.sent
        )
        calls = CounterMetricFamily(
            "opsbot_slack_api_calls", "Slack API calls made by the outbox (each attempt).", labels=["method"]
        )
        for method, count in sorted(outbox.calls.items()):
            calls.add_metric([method], count)
        yield calls
        errors = CounterMetricFamily(
            "opsbot_slack_api_errors",
            "Slack API calls made by the outbox that failed (including 429s).",
            labels=["method"],
        )
        for method, count in sorted(outbox.errors.items()):
            errors.add_metric([method], count)
        yield errors
        yield CounterMetricFamily(
            "opsbot_slack_api_rate_limited",
            "Slack API answers of 429 Too Many Requests (each one pauses a channel).",
            outbox.rate_limited,
        )
        yield GaugeMetricFamily(
            "opsbot_socket_mode_connected",
            "1 while the Socket Mode websocket to Slack is open.",
            1.0 if link_up else 0.0,
        )
        yield CounterMetricFamily(
            "opsbot_socket_mode_reconnects",
            "Socket Mode connections opened after the first one.",
            max(0, bot.socket_hellos - 1),
        )

    @staticmethod
    def _alerts(bot: BotStatus) -> Iterator[Any]:
        alerts = bot.alerts
        if alerts is None:
            return
        yield CounterMetricFamily(
            "opsbot_alert_events_processed",
            "Watch events the alert pipeline processed.",
            alerts.events_processed,
        )
        findings = CounterMetricFamily(
            "opsbot_alert_findings", "Problems the detectors found, by kind.", labels=["kind"]
        )
        opened = CounterMetricFamily("opsbot_incidents_opened", "Incidents opened, by kind.", labels=["kind"])
        open_now = GaugeMetricFamily("opsbot_open_incidents", "Incidents open now, by kind.", labels=["kind"])
        by_kind: dict[str, int] = {}
        for incident in alerts.open_incidents_here():
            by_kind[incident.kind.value] = by_kind.get(incident.kind.value, 0) + 1
        for kind in AlertKind:
            findings.add_metric([kind.value], alerts.findings_by_kind.get(kind.value, 0))
            opened.add_metric([kind.value], alerts.incidents_opened.get(kind.value, 0))
            open_now.add_metric([kind.value], by_kind.get(kind.value, 0))
        yield findings
        yield opened
        yield open_now

    @staticmethod
    def _watches(bot: BotStatus) -> Iterator[Any]:
        watches = bot.watch_health()
        if watches is None:
            return
        labels = ["cluster", "resource", "namespace"]
        synced = GaugeMetricFamily(
            "opsbot_watch_synced", "1 once the watch's first list completed.", labels=labels
        )
        restarts = CounterMetricFamily(
            "opsbot_watch_restarts", "Watch loops restarted after returning or crashing.", labels=labels
        )
        gone = CounterMetricFamily("opsbot_watch_gone", "410 Gone answers seen by the watch.", labels=labels)
        relists = CounterMetricFamily("opsbot_watch_relists", "Lists after the first one.", labels=labels)
        age = GaugeMetricFamily(
            "opsbot_watch_last_event_age_seconds",
            "Seconds since the watch last received an event or bookmark.",
            labels=labels,
        )
        now = time.time()
        for health in watches:
            key = [health.cluster, health.resource, health.namespace or ""]
            synced.add_metric(key, 1.0 if health.synced else 0.0)
            restarts.add_metric(key, health.restarts)
            gone.add_metric(key, health.gone)
            relists.add_metric(key, health.relists)
            if health.last_event_at is not None:
                age.add_metric(key, max(0.0, now - health.last_event_at))
        yield from (synced, restarts, gone, relists, age)


class HealthServer:
    """aiohttp server for the probes and the scraper; `port` is the bound port once started."""

    def __init__(
        self,
        bot: BotStatus,
        settings: HealthSettings,
        metrics: Metrics,
        *,
        heartbeat_interval: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
    ) -> None:
        self._bot = bot
        self._settings = settings
        self._metrics = metrics
        self._heartbeat_interval = heartbeat_interval
        self._stale_after = stale_after
        self._runner: web.AppRunner | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.last_beat = time.monotonic()
        self.port: int | None = None
        self.routes: list[Route] = []
        """(method, path, handler) added by features before `start`; never exposed publicly."""
        self.details: list[Callable[[], Mapping[str, object]]] = []
        """More for /readyz to show (e.g. who leads each cluster), never a reason to be unready."""

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        for method, path, handler in self.routes:
            app.router.add_route(method, path, handler)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._settings.host, self._settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                [f"health: cannot listen on {self._settings.host}:{self._settings.port} ({exc})"]
            ) from None
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        self.last_beat = time.monotonic()
        self._heartbeat = asyncio.create_task(self._beat(), name="health-heartbeat")
        log.info("health_listening", host=self._settings.host, port=self.port)

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _beat(self) -> None:
        while True:
            self.last_beat = time.monotonic()
            with contextlib.suppress(Exception):
                self._metrics.link_up = await self._bot.connected()
            await asyncio.sleep(self._heartbeat_interval)

    async def _healthz(self, request: web.Request) -> web.Response:
        # This handler running proves the event loop answers; the heartbeat proves that
        # its tasks get scheduled too.
        age = time.monotonic() - self.last_beat
        healthy = age < self._stale_after
        body = {"status": "ok" if healthy else "stale", "heartbeat_age_seconds": round(age, 3)}
        return web.json_response(body, status=200 if healthy else 503)

    async def _readyz(self, request: web.Request) -> web.Response:
        reasons = await readiness_problems(self._bot)
        # One broken cluster does not stop the bot from serving the others: reported, not unready.
        degraded = [f"cluster {name} is unusable: {why}" for name, why in self._bot.unusable_clusters().items()]
        body: dict[str, object] = {"status": "not ready" if reasons else "ready"}
        if reasons:
            body["reasons"] = reasons
        if degraded:
            body["degraded"] = degraded
        for detail in self.details:
            body.update(detail())
        return web.json_response(body, status=503 if reasons else 200)

    async def _metrics_handler(self, request: web.Request) -> web.Response:
        self._metrics.link_up = await self._bot.connected()
        response = web.Response(body=self._metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


async def readiness_problems(bot: BotStatus) -> list[str]:
    """Why the bot is not ready (empty: ready): the store is unreachable, the Slack link is down
    or a watch has not synced."""
    reasons: list[str] = []
    if not bot.accepting:
        reasons.append("shutting down")
    store = await bot.store_problem()
    if store is not None:
        reasons.append(store)
    if not await bot.connected():
        reasons.append(bot.link_problem() or "the Socket Mode link to Slack is down")
    watches = bot.watch_health()
    if watches is None and bot.alerts is not None:
        reasons.append("the watches have not started")
    for health in watches or ():
        if health.state != "forbidden" and not health.synced:
            scope = health.namespace or "all namespaces"
            reasons.append(f"watch of {health.resource} in {scope} on {health.cluster} has not synced")
    return reasons
