"""Composition: every part of the Slack bot built from Settings, wired, and nothing started.

`build_parts` is the one place that knows how the parts fit together; `Bot` only owns
their lifecycle. Opening the store is the only I/O here.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from opsbot.alertmanager.handoff import replica_key
from opsbot.alertmanager.secrets import AlertmanagerSecrets
from opsbot.alertmanager.service import CLICKS, AlertmanagerService, ready_secrets
from opsbot.alerts.incidents import IncidentBook, IncidentPolicy
from opsbot.alerts.mutes import MuteList
from opsbot.alerts.routing import AlertRouter, detector_options, enabled_kinds
from opsbot.alerts.service import AlertService
from opsbot.approvals.service import ApprovalService
from opsbot.commands.actions import ActionRunner
from opsbot.commands.router import CommandRouter
from opsbot.config import Secrets, Settings
from opsbot.core.audit import Auditor, AuditRecord, mirror_line
from opsbot.core.clock import SystemClock
from opsbot.core.onloop import wait_on
from opsbot.errors import ConfigError, StoreUnavailable
from opsbot.kube.directory import ClusterDirectory
from opsbot.kube.fleet import Fleet
from opsbot.kube.rows import WatchedRows
from opsbot.policy.settings import BUILTIN_ROLES
from opsbot.ports import Clock, KubeDirectory, RunBlocking
from opsbot.releases.errors import ReleaseError
from opsbot.releases.service import PendingRequest, ReleasesService
from opsbot.releases.tracker import ReleaseTracker
from opsbot.slack.alerts import SlackAlertPublisher
from opsbot.slack.dedupe import FirstSeen, SharedSeenKeys
from opsbot.slack.frontend import SlackFrontend
from opsbot.slack.link import SocketLink
from opsbot.slack.notices import SlackNotices
from opsbot.slack.outbox import Outbox, Priority
from opsbot.slack.releases import SlackReleaseNotices
from opsbot.slack.render import mrkdwn
from opsbot.slack.users import UserGroups, UserNames
from opsbot.store.approvals import StoreApprovals
from opsbot.store.backend import channel_budget, open_backend
from opsbot.store.protocol import StateStore
from opsbot.store.releases import StoreReleases
from opsbot.telemetry import Telemetry
from opsbot.wiring import build_router

ALERT_FLUSH_SECONDS = 2.0
PENDING_TIMEOUT_SECONDS = 10.0
"""A release command waiting for the pending approvals: only a stuck loop takes this long."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


class PoolRunner:
    """`RunBlocking` over the bot's bounded pool."""

    def __init__(self, pool: Executor) -> None:
        self._pool = pool

    async def __call__(self, function: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))


class AuditMirror:
    """Posts approval steps and executions to the audit channel, without making the audit wait."""

    def __init__(self, outbox: Outbox, channel: str) -> None:
        self._outbox = outbox
        self._channel = channel
        self.tasks: set[asyncio.Task[dict[str, Any]]] = set()

    def __call__(self, record: AuditRecord) -> None:
        task = asyncio.create_task(
            self._outbox.post(self._channel, text=mrkdwn(mirror_line(record)), priority=Priority.ALERT),
            name="audit-mirror",
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


@dataclass(frozen=True)
class Options:
    """How the parts behave beyond the config: intervals tests shorten, a directory tests supply."""

    clusters: KubeDirectory | None = None
    environ_kubeconfig: str | None = None
    alertmanager_secrets: AlertmanagerSecrets | None = None
    """Tests hand these in; the bot reads them from the environment."""
    ping_interval: float = 10.0
    alert_flush_interval: float = ALERT_FLUSH_SECONDS
    approval_sweep_interval: float = 15.0
    telemetry: Telemetry | None = None
    clock: Clock | None = None
    """Tests hand in a clock they move; the bot uses the system's."""
    environ: Mapping[str, str] | None = None
    """Where git credentials named by `releases.repositories.*.auth.token_env` are read (default: os.environ)."""


@dataclass
class BotParts:
    settings: Settings
    secrets: Secrets
    options: Options
    telemetry: Telemetry
    clock: Clock
    clusters: KubeDirectory
    rows: WatchedRows
    pool: ThreadPoolExecutor
    client: AsyncWebClient
    store: StateStore
    outbox: Outbox
    router: CommandRouter
    approvals: ApprovalService
    auditor: Auditor
    audit_mirror: AuditMirror | None
    alerts: AlertService | None
    alertmanager: AlertmanagerService | None
    fleet: Fleet
    releases: ReleasesService
    tracker: ReleaseTracker
    frontend: SlackFrontend
    app: AsyncApp
    socket: AsyncSocketModeHandler
    link: SocketLink


def build_parts(settings: Settings, secrets: Secrets, options: Options) -> BotParts:
    """Build and wire every part; nothing is started or connected."""
    telemetry = options.telemetry or Telemetry()
    tracer, errors = telemetry.tracer, telemetry.errors
    clock = options.clock or SystemClock()
    rows = WatchedRows()
    clusters = options.clusters or ClusterDirectory(
        settings.clusters, environ_kubeconfig=options.environ_kubeconfig, rows=rows if settings.watch.cache else None
    )
    pool = ThreadPoolExecutor(max_workers=settings.commands.workers, thread_name_prefix="opsbot-kube")
    # Bolt builds its own Web API client from the token (handing it one as well makes it warn
    # at every start); we point that one at the configured API URL and use it everywhere.
    app = AsyncApp(token=secrets.bot_token, request_verification_enabled=False, logger=None)
    client = app.client
    client.base_url = secrets.slack_api_url
    store = open_backend(settings.store, os.environ if options.environ is None else options.environ)
    router = build_router(settings, clusters, pool, clock.now, contexts=store, tracer=tracer, errors=errors)
    # Unsent messages are journaled in the store at shutdown and replayed at start.
    # Paced per channel in Redis when replicas share it, so they share each channel's budget.
    budget = channel_budget(store, rate=settings.outbox.per_channel_per_second, burst=settings.outbox.burst)
    outbox = Outbox(client, settings.outbox, journal=store, budget=budget)
    fleet = Fleet(clusters, rows if settings.watch.cache else None)
    releases = _releases(settings, store, options, clusters)
    router.fleet = fleet
    router.releases = releases
    run_plan = ActionRunner(router.registry, clusters, pool, clock.now, releases=releases)
    approvals = ApprovalService(
        StoreApprovals(store),
        run_plan,
        clock,
        timedelta(minutes=settings.approvals.expire_after_minutes),
        tracer=tracer,
        errors=errors,
    )
    channel = settings.approvals.audit_channel
    audit_mirror = AuditMirror(outbox, channel) if channel else None
    auditor = Auditor(store, mirror=audit_mirror, behind=True)
    router.auditor = auditor
    approvals.auditor = auditor
    user_names = UserNames(client)
    approvals.names = user_names.name
    publisher = SlackAlertPublisher(outbox, client)
    alerts = (
        _alerts(settings, store, publisher, clusters, clock, options, telemetry, PoolRunner(pool))
        if settings.alerts.enabled
        else None
    )
    tracker = ReleaseTracker(
        StoreReleases(store),
        clusters,
        SlackReleaseNotices(outbox, approvals),
        PoolRunner(pool),
        errors=errors,
    )
    approvals.on_reported = tracker.reported
    frontend = SlackFrontend(
        router,
        approvals,
        outbox,
        slash_command=settings.slack.command,
        max_concurrent=settings.commands.workers * 4,
        incidents=alerts,
        user_names=user_names,
        usergroups=UserGroups(
            client, frozenset(g for binding in settings.policy.bindings for g in binding.usergroups)
        ),
        errors=errors,
        # A shared store (Redis) remembers event ids for every replica: a retry is answered once.
        seen=SharedSeenKeys(store) if isinstance(store, FirstSeen) else None,
    )
    frontend.register(app)
    alertmanager = (
        _alertmanager(
            settings,
            options,
            alerts,
            store,
            router,
            clusters,
            pool,
            clock,
            run_plan,
            auditor,
            telemetry,
            outbox,
            client,
            secrets.bot_token,
        )
        if settings.alertmanager.enabled and alerts is not None
        else None
    )
    if alertmanager is not None:
        publisher.card = alertmanager.card
        frontend.add_action(app, CLICKS, alertmanager.on_click)
    socket = AsyncSocketModeHandler(app, secrets.app_token, ping_interval=options.ping_interval)
    link = SocketLink(socket.client, client.auth_test)
    return BotParts(
        settings=settings,
        secrets=secrets,
        options=options,
        telemetry=telemetry,
        clock=clock,
        clusters=clusters,
        rows=rows,
        pool=pool,
        client=client,
        store=store,
        outbox=outbox,
        router=router,
        approvals=approvals,
        auditor=auditor,
        audit_mirror=audit_mirror,
        alerts=alerts,
        alertmanager=alertmanager,
        fleet=fleet,
        releases=releases,
        tracker=tracker,
        frontend=frontend,
        app=app,
        socket=socket,
        link=link,
    )


def _releases(
    settings: Settings, store: StateStore, options: Options, clusters: KubeDirectory
) -> ReleasesService:
    """The release service; git credentials are read now, so a missing one stops the start.
    Its `pending` is set once the loop runs (`pending_release_requests`)."""
    try:
        return ReleasesService(
            settings.releases,
            StoreReleases(store),
            workdir=settings.releases_workdir,
            environ=os.environ if options.environ is None else options.environ,
            clusters=clusters,
        )
    except ReleaseError as exc:
        raise ConfigError([f"releases.repositories: {exc}"]) from None


def _alerts(
    settings: Settings,
    store: StateStore,
    publisher: SlackAlertPublisher,
    clusters: KubeDirectory,
    clock: Clock,
    options: Options,
    telemetry: Telemetry,
    run_blocking: RunBlocking,
) -> AlertService:
    alerts = settings.alerts
    mutes = MuteList()  # the stored ones: AlertService.restore (one replica) or .lead (ha)
    policy = IncidentPolicy(
        resolve_after=timedelta(minutes=alerts.resolve_after_minutes),
        cooldown=timedelta(minutes=alerts.cooldown_minutes),
    )
    return AlertService(
        IncidentBook(policy, AlertRouter(alerts).route),
        store,
        publisher,
        clusters,
        clock,
        mutes=mutes,
        enabled=enabled_kinds(alerts),
        options=detector_options(alerts),
        run_blocking=run_blocking,
        enrichment_lines=alerts.enrichment_log_lines,
        digest_threshold=alerts.digest_threshold,
        flush_interval=options.alert_flush_interval,
        tracer=telemetry.tracer,
        errors=telemetry.errors,
    )


def _alertmanager(
    settings: Settings,
    options: Options,
    alerts: AlertService,
    store: StateStore,
    router: CommandRouter,
    clusters: KubeDirectory,
    pool: ThreadPoolExecutor,
    clock: Clock,
    run_plan: ActionRunner,
    auditor: Auditor,
    telemetry: Telemetry,
    outbox: Outbox,
    client: AsyncWebClient,
    bot_token: str,
) -> AlertmanagerService:
    """Alertmanager's alerts in the incident threads, remediations, silences (opsbot.alertmanager)."""
    registry = router.registry
    notices = SlackNotices(outbox, client)
    roles = set(settings.policy.roles) | set(BUILTIN_ROLES)
    return AlertmanagerService(
        settings.alertmanager,
        ready_secrets(settings.alertmanager, registry, roles, options.alertmanager_secrets, os.environ),
        alerts=alerts,
        store=store,
        registry=registry,
        policy=router.policy,
        clusters=clusters,
        pool=pool,
        clock=clock,
        scopes=settings.scopes,
        commands=settings.commands,
        run_plan=run_plan,
        run_blocking=PoolRunner(pool),
        notify=notices.notify,
        thread_link=notices.thread_link,
        names=UserNames(client).name,
        auditor=auditor,
        errors=telemetry.errors,
        shared=settings.ha.enabled,
        replica_key=replica_key(bot_token) if settings.ha.enabled else None,
    )


def pending_release_requests(
    approvals: ApprovalService, loop: asyncio.AbstractEventLoop
) -> Callable[[], list[PendingRequest]]:
    """`ReleasesService.pending`: release commands run in the pool, the approvals on the loop."""

    async def pending() -> list[PendingRequest]:
        return [
            PendingRequest(a.requester, a.plan, a.expires_at.timestamp())
            for a in await approvals.pending()
            if a.plan.verb in ("promote", "rollback")
        ]

    def late() -> StoreUnavailable:
        return StoreUnavailable("the pending approvals could not be read in time; try again")

    return lambda: wait_on(loop, pending(), timeout=PENDING_TIMEOUT_SECONDS, late=late)
