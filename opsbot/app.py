"""Composition root: builds every part from Settings and owns the lifecycle.

`run_bot` is what `opsbot run` calls; tests start the very same `Bot` against the
Slack emulator and the fake API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

import structlog
from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from opsbot import __version__
from opsbot.alerts.incidents import IncidentBook, IncidentPolicy
from opsbot.alerts.mutes import Mute, MuteList
from opsbot.alerts.routing import AlertRouter, detector_options, enabled_kinds
from opsbot.alerts.service import AlertService
from opsbot.approvals.service import ApprovalService
from opsbot.commands.actions import ActionRunner
from opsbot.config import Secrets, Settings
from opsbot.core.audit import Auditor, AuditRecord, mirror_line
from opsbot.core.clock import SystemClock
from opsbot.errors import ConfigError
from opsbot.health import HealthServer, Metrics
from opsbot.kube.client import KubeClient
from opsbot.kube.directory import ClusterDirectory
from opsbot.kube.watch import WatchHealth, WatchRunner, bridge, build_watches
from opsbot.ports import Clock, KubeDirectory
from opsbot.slack.alerts import SlackAlertPublisher
from opsbot.slack.frontend import CardSurface, SlackFrontend
from opsbot.slack.outbox import Outbox, Priority
from opsbot.slack.render import mrkdwn
from opsbot.slack.users import UserGroups, UserNames
from opsbot.store.approvals import SqliteApprovals
from opsbot.store.sqlite import open_store
from opsbot.telemetry import Telemetry
from opsbot.telemetry import from_environ as telemetry_from_environ
from opsbot.wiring import build_router

log = structlog.get_logger("opsbot")

_P = ParamSpec("_P")
_R = TypeVar("_R")

SWEEP_INTERVAL_SECONDS = 15.0
ALERT_FLUSH_SECONDS = 2.0


class Bot:
    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        *,
        clusters: KubeDirectory | None = None,
        environ_kubeconfig: str | None = None,
        ping_interval: float = 10.0,
        alert_flush_interval: float = ALERT_FLUSH_SECONDS,
        approval_sweep_interval: float = SWEEP_INTERVAL_SECONDS,
        telemetry: Telemetry | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        # Tracing and error reporting; the Bot flushes and stops it in stop().
        self.telemetry = telemetry or Telemetry()
        tracer, errors = self.telemetry.tracer, self.telemetry.errors
        self.alert_flush_interval = alert_flush_interval
        self.approval_sweep_interval = approval_sweep_interval
        self._secrets = secrets
        self._clock: Clock = clock or SystemClock()
        self._mirror_tasks: set[asyncio.Task[dict[str, Any]]] = set()
        self.clusters: KubeDirectory = clusters or ClusterDirectory(
            settings.clusters, environ_kubeconfig=environ_kubeconfig
        )
        self._pool = ThreadPoolExecutor(
            max_workers=settings.commands.workers, thread_name_prefix="opsbot-kube"
        )
        self.client = AsyncWebClient(token=secrets.bot_token, base_url=secrets.slack_api_url)
        self.router = build_router(
            settings, self.clusters, self._pool, self._clock.now, tracer=tracer, errors=errors
        )
        self.store = open_store(settings.store.path)
        # Unsent messages are journaled in the store at shutdown and replayed at start.
        self.outbox = Outbox(self.client, settings.outbox, journal=self.store)
        self.approvals = ApprovalService(
            SqliteApprovals(self.store),
            ActionRunner(self.router.registry, self.clusters, self._pool, self._clock.now),
            self._clock,
            timedelta(minutes=settings.approvals.expire_after_minutes),
            tracer=tracer,
            errors=errors,
        )
        self.auditor = Auditor(self.store, mirror=self._audit_mirror(settings.approvals.audit_channel))
        self.router.auditor = self.auditor
        self.approvals.auditor = self.auditor
        user_names = UserNames(self.client)
        self.approvals.names = user_names.name
        self.alerts = self._build_alerts() if settings.alerts.enabled else None
        self.router.alerts = self.alerts
        self.frontend = SlackFrontend(
            self.router,
            self.approvals,
            self.outbox,
            slash_command=settings.slack.command,
            max_concurrent=settings.commands.workers * 4,
            incidents=self.alerts,
            user_names=user_names,
            usergroups=UserGroups(
                self.client, frozenset(g for binding in settings.policy.bindings for g in binding.usergroups)
            ),
            errors=errors,
        )
        self.app = AsyncApp(client=self.client, request_verification_enabled=False, logger=None)
        self.frontend.register(self.app)
        self._socket = AsyncSocketModeHandler(self.app, secrets.app_token, ping_interval=ping_interval)
        # Socket Mode "hello" messages: one per connection, so reconnects = hellos - 1.
        self.socket_hellos = 0
        self._socket.client.message_listeners.append(self._on_socket_message)
        self.status = _Status(self)
        self.metrics = Metrics(self.status)
        self.router.metrics = self.metrics
        self.health: HealthServer | None = (
            HealthServer(self.status, settings.health, self.metrics) if settings.health.enabled else None
        )
        self._background: list[asyncio.Task[None]] = []
        self._watch_stop = threading.Event()
        self.watches: WatchRunner | None = None

    def _build_alerts(self) -> AlertService:
        alerts = self.settings.alerts
        mutes = MuteList([Mute.from_dict(data) for data in self.store.mutes(now=time.time())])
        policy = IncidentPolicy(
            resolve_after=timedelta(minutes=alerts.resolve_after_minutes),
            cooldown=timedelta(minutes=alerts.cooldown_minutes),
        )
        return AlertService(
            IncidentBook(policy, AlertRouter(alerts).route),
            self.store,
            SlackAlertPublisher(self.outbox, self.client),
            self.clusters,
            self._clock,
            mutes=mutes,
            enabled=enabled_kinds(alerts),
            options=detector_options(alerts),
            run_blocking=self._run_blocking,
            enrichment_lines=alerts.enrichment_log_lines,
            digest_threshold=alerts.digest_threshold,
            flush_interval=self.alert_flush_interval,
            tracer=self.telemetry.tracer,
            errors=self.telemetry.errors,
        )

    async def _run_blocking(self, function: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    async def _start_alerts(self, alerts: AlertService) -> None:
        restored = alerts.restore()
        alerts.resume_unposted()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        emit = bridge(asyncio.get_running_loop(), queue)
        watches = []
        for name in self.clusters.names():
            try:
                kube = self.clusters.get(name)
            except Exception as exc:
                log.error("watch_cluster_unavailable", cluster=name, error=str(exc)[:300])
                continue
            if not isinstance(kube, KubeClient):
                continue
            watches.extend(
                build_watches(
                    kube.api_client,
                    name,
                    self.settings.watch.namespaces,
                    emit,
                    stop=self._watch_stop,
                    resources=alerts.resources,
                    errors=self.telemetry.errors,
                )
            )
        for cluster, resource in {(watch.cluster, watch.resource) for watch in watches}:
            count = sum(1 for watch in watches if (watch.cluster, watch.resource) == (cluster, resource))
            alerts.expect_initial_lists(cluster, resource, count)
        self.watches = WatchRunner(watches, errors=self.telemetry.errors)
        self._background.append(asyncio.create_task(alerts.consume(queue), name="alert-consumer"))
        self._background.append(asyncio.create_task(alerts.run_ticker(), name="alert-ticker"))
        self.watches.start()
        log.info("alerts_started", restored_incidents=restored, watches=len(watches))

    def _audit_mirror(self, channel: str | None) -> Callable[[AuditRecord], None] | None:
        if not channel:
            return None

        def post(record: AuditRecord) -> None:
            task = asyncio.create_task(
                self.outbox.post(channel, text=mrkdwn(mirror_line(record)), priority=Priority.ALERT),
                name="audit-mirror",
            )
            self._mirror_tasks.add(task)
            task.add_done_callback(self._mirror_tasks.discard)

        return post

    async def start(self) -> None:
        log.info(
            "starting",
            version=__version__,
            clusters=list(self.settings.clusters),
            slack_api=self._secrets.slack_api_url,
            **self.telemetry.describe,
        )
        # Building an API client costs ~1 s of CPU (the generated API classes); do it
        # now, beside the Slack handshake, so the first command does not pay for it.
        warm_up = asyncio.get_running_loop().run_in_executor(self._pool, self._warm_up_clusters)
        await self._socket.connect_async()
        await warm_up
        if self.health is not None:
            await self.health.start()
        # Everything built so far lives as long as the process: keep it out of the
        # garbage collector's full passes, which otherwise walk it on every burst.
        gc.collect()
        gc.freeze()
        # What the last run could not send goes out before anything new.
        await self.outbox.replay()
        await self.approvals.fail_interrupted(CardSurface(self.outbox))
        self._background.append(asyncio.create_task(self._sweep_approvals(), name="approval-sweeper"))
        if self.alerts is not None:
            await self._start_alerts(self.alerts)
        log.info("connected")

    def _warm_up_clusters(self) -> None:
        for name in self.clusters.names():
            try:
                self.clusters.get(name)
            except Exception as exc:
                log.warning("cluster_client_unavailable", cluster=name, error=str(exc)[:300])

    async def idle(self) -> None:
        """Return once everything received from Slack is handled and every reply it caused
        (audit mirror lines included) is sent."""
        while True:
            await self.frontend.idle()
            if not self._mirror_tasks:
                return
            await asyncio.wait(set(self._mirror_tasks))

    async def connected(self) -> bool:
        return bool(await self._socket.client.is_connected())

    async def _on_socket_message(self, client: Any, message: dict[str, Any], raw: str | None) -> None:
        if message.get("type") == "hello":
            self.socket_hellos += 1

    async def _sweep_approvals(self) -> None:
        surface = CardSurface(self.outbox)
        while True:
            await asyncio.sleep(self.approval_sweep_interval)
            try:
                await self.approvals.expire_overdue(surface)
            except Exception as exc:
                log.exception("approval_sweep_failed")
                self.telemetry.errors.capture(exc, where="approval_sweep")

    async def stop(self, grace: float = 20.0) -> None:
        """Stop taking work, finish what is in flight, flush the outbox, then exit."""
        self.frontend.accepting = False
        await self._close_socket()
        finished = await self.frontend.drain(grace)
        if not finished:
            log.warning("shutdown_with_requests_in_flight", in_flight=self.frontend.in_flight)
        if self.watches is not None:
            self._watch_stop.set()
            await asyncio.get_running_loop().run_in_executor(None, self.watches.stop)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self.alerts is not None:
            await self.alerts.drain()
        await self.outbox.close(timeout=5.0)
        if self.health is not None:
            await self.health.stop()
        self.store.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.clusters, "close", None)
        if callable(close):
            close()
        # Last: spans of the shutdown itself (final flushes, replies) are exported too.
        # Blocking (it waits for the exporters), so off the loop.
        await asyncio.get_running_loop().run_in_executor(None, self.telemetry.shutdown)
        log.info("stopped")

    async def _close_socket(self) -> None:
        # Stop the receiver before closing, or it reports the close it causes as an error.
        client = self._socket.client
        readers = [task for task in (client.message_receiver, client.current_session_monitor) if task]
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._socket.close_async()
        processor = client.message_processor
        if processor is not None:
            processor.cancel()
            await asyncio.gather(processor, return_exceptions=True)

    async def __aenter__(self) -> Bot:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class _Status:
    """The read-only view of a Bot that the health port (probes, /metrics) gets."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    @property
    def accepting(self) -> bool:
        return self._bot.frontend.accepting

    @property
    def socket_hellos(self) -> int:
        return self._bot.socket_hellos

    @property
    def outbox(self) -> Outbox:
        return self._bot.outbox

    @property
    def alerts(self) -> AlertService | None:
        return self._bot.alerts

    def watch_health(self) -> list[WatchHealth] | None:
        watches = self._bot.watches
        return watches.health() if watches is not None else None

    async def connected(self) -> bool:
        return await self._bot.connected()


async def run_bot(
    settings: Settings,
    secrets: Secrets,
    *,
    environ_kubeconfig: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code.

    `environ` (default: os.environ) is read once, here, for tracing and error
    reporting; a variable set without its extra raises ConfigError before anything starts.
    """
    telemetry = telemetry_from_environ(os.environ if environ is None else environ)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        bot = Bot(settings, secrets, environ_kubeconfig=environ_kubeconfig, telemetry=telemetry)
        await bot.start()
        await stop.wait()
        log.info("shutdown_requested")
        await bot.stop()
    except ConfigError:
        raise
    except Exception as exc:
        telemetry.errors.capture(exc, where="run")
        raise
    finally:
        # A failed start still flushes what was reported (Bot.stop already did otherwise).
        await loop.run_in_executor(None, telemetry.shutdown)
    return 0
