"""The running Slack bot: starts its parts in order, keeps them running, stops them cleanly.

Start: the health port first (so /healthz answers and /readyz says why it is not ready
while Slack is unreachable), then the Slack link (tokens checked, transient failures
retried), then what the last run left (unsent replies, interrupted actions), then the
watches. Stop: the reverse, finishing work in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType

import structlog

from opsbot import __version__
from opsbot.alertmanager.service import AlertmanagerCollector
from opsbot.alerts.blocking import BlockingAlerts
from opsbot.app.forwarding import Forwarding, ForwardingCollector
from opsbot.app.leading import LeaderCollector, Leadership
from opsbot.app.parts import BotParts, pending_release_requests
from opsbot.app.status import BotStatusView
from opsbot.app.watching import Watching
from opsbot.approvals.machine import LONGEST_EXECUTION
from opsbot.config import Secrets, Settings
from opsbot.errors import StoreUnavailable
from opsbot.health import HealthServer, Metrics
from opsbot.kube.watch import WatchRunner
from opsbot.releases.records import Release
from opsbot.slack.surfaces import CardSurface
from opsbot.store.backend import peer_directory, store_collector
from opsbot.store.housekeeping import tidy_forever

log = structlog.get_logger("opsbot")


@contextlib.contextmanager
def _unless_store_unavailable(event: str) -> Iterator[None]:
    """A step of the start that may wait for the store: logged and skipped when it is away."""
    try:
        yield
    except StoreUnavailable as exc:
        log.warning(event, error=str(exc)[:200])


class Bot:
    """Owns the lifecycle of its parts (built by `opsbot.app.build_bot`); no I/O here."""

    def __init__(self, parts: BotParts) -> None:
        self.parts = parts
        self.settings: Settings = parts.settings
        self._secrets: Secrets = parts.secrets
        self.telemetry = parts.telemetry
        self.clusters = parts.clusters
        self.client = parts.client
        self.store = parts.store
        self.outbox = parts.outbox
        self.router = parts.router
        self.approvals = parts.approvals
        self.auditor = parts.auditor
        self.alerts = parts.alerts
        self.frontend = parts.frontend
        self.app = parts.app
        self.link = parts.link
        # Socket Mode "hello" messages: one per connection, so reconnects = hellos - 1.
        self.socket_hellos = 0
        parts.socket.client.message_listeners.append(self._on_socket_message)
        self.status = BotStatusView(self)
        self.metrics = Metrics(self.status)
        self.router.metrics = self.metrics
        self.health: HealthServer | None = (
            HealthServer(self.status, self.settings.health, self.metrics) if self.settings.health.enabled else None
        )
        self.alertmanager = parts.alertmanager
        store_metrics = store_collector(self.store)  # Redis only
        if store_metrics is not None:
            self.metrics.registry.register(store_metrics)
        self.watching = Watching(parts)
        self.leadership: Leadership | None = None
        """With `ha.enabled`: the electors, one per cluster (see opsbot.app.leading)."""
        self.forwarding: Forwarding | None = None
        """With `ha.enabled`, Redis and the internal port: URLs advertised, Alertmanager requests
        forwarded (see opsbot.app.forwarding)."""
        if self.settings.ha.enabled:
            environ = os.environ if parts.options.environ is None else parts.options.environ
            self.leadership = Leadership(parts, self.watching, environ)
            self.metrics.registry.register(LeaderCollector(self.leadership))
            if self.health is not None:
                self.health.details.append(self.leadership.details)
            self.router.leadership = self.leadership
            peers = peer_directory(self.store)
            if peers is not None and self.health is not None:
                self.forwarding = Forwarding(
                    self.leadership, peers, self.settings.ha, environ, alertmanager=self.alertmanager is not None
                )
        if self.alertmanager is not None:
            if self.health is not None:
                relay = self.forwarding.forwarder if self.forwarding is not None else None
                self.health.routes.extend(self.alertmanager.routes(relay))
            self.metrics.registry.register(AlertmanagerCollector(self.alertmanager))
            if self.forwarding is not None:
                self.metrics.registry.register(ForwardingCollector(self.forwarding.forwarder))
        self._background: list[asyncio.Task[None]] = []
        self.stop_step = "not stopping"

    @property
    def watches(self) -> WatchRunner | None:
        return self.watching.runner

    async def start(self) -> None:
        """Start everything; raises SlackSetupError if Slack refuses a token for good."""
        log.info(
            "starting",
            version=__version__,
            clusters=list(self.settings.clusters),
            slack_api=self._secrets.slack_api_url,
            **self.telemetry.describe,
        )
        # What command handlers (in the pool) reach on this loop, before any command arrives.
        loop = asyncio.get_running_loop()
        self.parts.releases.pending = pending_release_requests(self.parts.approvals, loop)
        if self.alerts is not None:
            self.router.alerts = BlockingAlerts(self.alerts, loop)
        if self.alertmanager is not None:
            self.router.silences = self.alertmanager.silence_commands(loop)
        if self.health is not None:
            await self.health.start()
            if self.forwarding is not None:
                await self.forwarding.start(self.health.port)
        # Building an API client costs ~1 s of CPU (the generated API classes); do it
        # now, beside the Slack handshake, so the first command does not pay for it.
        warm_up = asyncio.get_running_loop().run_in_executor(self.parts.pool, self.watching.warm_up)
        try:
            await self.link.start()
        finally:
            await warm_up
        # Everything built so far lives as long as the process: keep it out of the
        # garbage collector's full passes, which otherwise walk it on every burst.
        gc.collect()
        gc.freeze()
        # What the last run could not send goes out before anything new. A shared store that
        # does not answer right now fails neither start: the journal stays for the next
        # start, and with ha: the sweep fails what was interrupted later.
        with _unless_store_unavailable("outbox_replay_skipped"):
            await self.outbox.replay()
        with _unless_store_unavailable("interrupted_actions_not_checked"):
            await self._fail_interrupted(CardSurface(self.outbox))
        # Releases in flight when the last run stopped are followed again; new ones are
        # handed over from the pool thread that made them.
        loop = asyncio.get_running_loop()
        tracker = self.parts.tracker
        watching = self.watching

        def started(release: Release) -> None:
            # With `ha:`, a replica that does not follow releases leaves it to the one that
            # does (it adopts active releases from the store).
            if watching.follow_releases:
                loop.call_soon_threadsafe(tracker.follow, release)

        self.parts.releases.on_started = started
        if self.leadership is not None:
            self.leadership.gate()  # nothing is restored or followed before it is led
        else:
            await tracker.restore()
        self._background.append(asyncio.create_task(self._warm_repositories(), name="git-warm-up"))
        self._background.append(asyncio.create_task(self._sweep_approvals(), name="approval-sweeper"))
        self._background.append(asyncio.create_task(self._tidy_store(), name="store-housekeeping"))
        self._background.extend(await self.watching.start(self.alerts))
        if self.leadership is not None:
            self.leadership.start()  # a leader loads its incidents, then starts Alertmanager
        elif self.alertmanager is not None:
            # After the incidents are restored: a notification must find its thread.
            await self.alertmanager.start()
        log.info("connected")

    async def idle(self) -> None:
        """Return once everything received from Slack is handled and every reply it caused
        (audit mirror lines and release notices included) is sent."""
        mirror = self.parts.audit_mirror
        while True:
            await self.parts.tracker.idle()
            await self.frontend.idle()
            if self.alertmanager is not None:
                await self.alertmanager.idle()
            if mirror is None or not mirror.tasks:
                return
            await asyncio.wait(set(mirror.tasks))

    async def connected(self) -> bool:
        return bool(await self.parts.socket.client.is_connected())

    async def _on_socket_message(self, client: object, message: dict[str, object], raw: str | None) -> None:
        if message.get("type") == "hello":
            self.socket_hellos += 1

    async def _warm_repositories(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self.parts.pool, self.parts.releases.warm_up)
        except Exception as exc:
            log.exception("git_warm_up_failed")
            self.telemetry.errors.capture(exc, where="git_warm_up")

    async def _tidy_store(self) -> None:
        loop = asyncio.get_running_loop()

        def in_pool(call: Callable[[], int]) -> Awaitable[int]:
            return loop.run_in_executor(self.parts.pool, call)

        await tidy_forever(self.store, self.parts.settings.store.retention_days, in_pool)

    async def _fail_interrupted(self, surface: CardSurface) -> None:
        """One process: what the last run left executing was interrupted. Replicas share the
        store: only what has been executing longer than any action takes (its replica died)."""
        started_before = (
            self.parts.clock.now() - LONGEST_EXECUTION if self.parts.settings.ha.enabled else None
        )
        await self.approvals.fail_interrupted(surface, started_before=started_before)

    async def _sweep_approvals(self) -> None:
        surface = CardSurface(self.outbox)
        while True:
            await asyncio.sleep(self.parts.options.approval_sweep_interval)
            try:
                await self.approvals.expire_overdue(surface)
                if self.parts.settings.ha.enabled:
                    await self._fail_interrupted(surface)
            except Exception as exc:
                log.exception("approval_sweep_failed")
                self.telemetry.errors.capture(exc, where="approval_sweep")

    async def stop(self, grace: float = 20.0) -> None:
        """Stop taking work, finish what is in flight, flush the outbox, then exit.
        `stop_step` says where it is (opsbot.app.slow_stop reports a stop that hangs)."""
        self.frontend.accepting = False
        self.stop_step = "closing the Slack socket"
        await self._close_socket()
        self.stop_step = "finishing the requests in flight"
        finished = await self.frontend.drain(grace)
        if not finished:
            log.warning("shutdown_with_requests_in_flight", in_flight=self.frontend.in_flight)
        if self.leadership is not None:
            # Stop leading (alert loops first), then release each lease: the next replica
            # takes over at its next attempt instead of a lease duration later.
            self.stop_step = "stepping down and releasing the leases"
            await self.leadership.stop()
        self.stop_step = "stopping the watches and release followers"
        await self.watching.stop()
        await self.parts.tracker.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self.alertmanager is not None:
            self.stop_step = "stopping Alertmanager"
            await self.alertmanager.stop()
        if self.alerts is not None:
            self.stop_step = "finishing the alerts"
            await self.alerts.drain()
        self.stop_step = "flushing the outbox"
        await self.outbox.close(timeout=5.0)
        self.stop_step = "stopping the HTTP side"
        if self.forwarding is not None:
            await self.forwarding.stop()
        if self.health is not None:
            await self.health.stop()
        self.stop_step = "closing the store and clients"
        self.auditor.close()  # the records queued behind answers, before the store closes
        await self.store.aclose()
        self.parts.pool.shutdown(wait=False, cancel_futures=True)
        self.parts.fleet.close()
        self.parts.releases.close()
        close = getattr(self.clusters, "close", None)
        if callable(close):
            close()
        # Last: spans of the shutdown itself (final flushes, replies) are exported too.
        # Blocking (it waits for the exporters), so off the loop.
        self.stop_step = "flushing telemetry"
        await asyncio.get_running_loop().run_in_executor(None, self.telemetry.shutdown)
        self.stop_step = "stopped"
        log.info("stopped")

    async def _close_socket(self) -> None:
        await self.link.stop()
        client = self.parts.socket.client
        # Stop the receiver before closing the websocket, or slack_sdk logs the close it causes
        # as a receive error. These are the public task attributes of its websockets
        # SocketModeClient (it has no method that stops them without closing first).
        readers = [task for task in (client.message_receiver, client.current_session_monitor) if task]
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.parts.socket.close_async()

    async def __aenter__(self) -> Bot:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
