"""The Alertmanager feature as the app sees it: built from settings, started after the alert
pipeline has restored its incidents, stopped before it.

    receiver ──notification──▶ Intake ──findings──▶ IncidentBook / Publishing (threads)
        │                        └──fired──▶ Remediations ──approve──▶ command | signal
        └──status update──────────────────────▶ Remediations.update        │
    reconcile loop ──GET /api/v2/alerts/groups──▶ Intake.reconcile    RolloutFollower
    silence commands / buttons ──▶ Silencer ──POST/DELETE silences──▶ Alertmanager
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any

import structlog
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from opsbot.alertmanager.api import AlertmanagerApi
from opsbot.alertmanager.cards import APPROVE_ACTION, REJECT_ACTION, group_card
from opsbot.alertmanager.delivery import SignalSender
from opsbot.alertmanager.handoff import Handoff
from opsbot.alertmanager.intake import Intake
from opsbot.alertmanager.planning import CommandPlanner, check_rules
from opsbot.alertmanager.proposals import Proposer
from opsbot.alertmanager.receiver import (
    STATUS_PATH,
    WEBHOOK_PATH,
    Handler,
    Refusals,
    Relay,
    signed_or_bearer,
    status_handler,
    webhook_handler,
)
from opsbot.alertmanager.remediation import StatusUpdate
from opsbot.alertmanager.remediations import Remediations
from opsbot.alertmanager.rollouts import Outcome, RolloutFollower
from opsbot.alertmanager.secrets import AlertmanagerSecrets, Secret, load_secrets
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alertmanager.silencing import SilenceCommands, Silencer
from opsbot.alertmanager.state import AlertmanagerStore, State
from opsbot.alerts.cards import incident_card
from opsbot.alerts.findings import AlertKind
from opsbot.alerts.incidents import Incident
from opsbot.alerts.service import AlertService
from opsbot.commands.registry import Registry
from opsbot.commands.settings import CommandsSettings, Scopes
from opsbot.core.audit import Auditor
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Reply, Text
from opsbot.core.request import ButtonClick
from opsbot.errors import AlertmanagerError, ConfigError
from opsbot.policy import Policy, Subject
from opsbot.ports import Clock, KubeDirectory, RunBlocking
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

log = structlog.get_logger("opsbot.alertmanager")

CLICKS = re.compile("^(" + re.escape(APPROVE_ACTION) + "|" + re.escape(REJECT_ACTION) + r"):\d+$")
SWEEP_SECONDS = 5.0
RUNS_GRACE_SECONDS = 10.0
"""At shutdown, how long a remediation command under way may take to finish (one API call)."""


class AlertmanagerService:
    def __init__(
        self,
        settings: AlertmanagerSettings,
        secrets: AlertmanagerSecrets,
        *,
        alerts: AlertService,
        store: AlertmanagerStore,
        registry: Registry,
        policy: Policy,
        clusters: KubeDirectory,
        pool: Executor,
        clock: Clock,
        scopes: Scopes,
        commands: CommandsSettings,
        run_plan: Callable[[ActionPlan, ActionOrigin | None], Awaitable[str]],
        run_blocking: RunBlocking,
        notify: Callable[[str, str, Text], Awaitable[None]],
        thread_link: Callable[[str, str | None], Awaitable[str]],
        names: Callable[[str], Awaitable[str]],
        auditor: Auditor | None = None,
        errors: ErrorReporter = NOOP_ERRORS,
        sweep_interval: float = SWEEP_SECONDS,
        shared: bool = False,
        replica_key: Secret | None = None,
    ) -> None:
        """`shared`: several replicas share the store (`ha:`); another may run the loops, and
        clicks and silence notes are passed on to it, signed with `replica_key`
        (opsbot.alertmanager.handoff)."""
        self.settings = settings
        self._secrets = secrets
        self._alerts = alerts
        self._clock = clock
        self._errors = errors
        self._sweep_interval = sweep_interval
        self.state = State(store)
        self.api = (
            AlertmanagerApi(settings.url, secrets.api, timeout=settings.request_timeout_seconds)
            if settings.url
            else None
        )
        self.sender = SignalSender(settings.signal_targets, secrets.signal_secrets)
        self.follower = RolloutFollower(clusters, run_blocking, self._rollout_done)
        planner = CommandPlanner(registry, clusters, pool, clock.now, scopes=scopes, commands=commands)
        self.proposer = Proposer(
            settings,
            self.state,
            alerts.publishing,
            planner,
            policy,
            clock,
            incident=alerts.book.get,
            errors=errors,
        )
        self.remediations = Remediations(
            settings,
            self.state,
            alerts.publishing,
            run_plan,
            self.sender,
            policy,
            clock,
            notify=notify,
            names=names,
            thread_link=thread_link,
            incident=alerts.book.get,
            follow=self.follower.follow,
            status_path=lambda rid: STATUS_PATH.replace("{id}", rid),
            auditor=auditor,
            errors=errors,
            shared=shared,
        )
        self.intake = Intake(
            settings,
            self.state,
            alerts.book,
            alerts.publishing,
            clock,
            default_cluster=scopes.default_cluster,
            on_fired=self.proposer.on_fired,
            on_resolved=self.remediations.on_resolved,
        )
        self.silencer = Silencer(
            settings, self.state, self.api, alerts.book, alerts.publishing, clock, thread_link=thread_link
        )
        alerts.pipeline.listeners.append(self.follower.on_event)
        self.refusals = Refusals()
        self.ready = False
        self.reconciles = 0
        self.reconcile_failures = 0
        self.first_reconcile = asyncio.Event()
        """Set once the reconcile at start has run (or failed): notifications alone follow."""
        self._loops: list[asyncio.Task[None]] = []
        self.handoff = Handoff(
            replica_key,
            CLICKS,
            running=lambda: self.ready,
            decide=self._decide,
            notify=notify,
            note_silences=self.silencer.note,
            end_silences=self.silencer.end,
        )
        self.silencer.handoff = self.handoff
        self.on_click = self.handoff.click

    # the HTTP side --------------------------------------------------------------------

    def routes(self, relay: Relay | None = None) -> list[tuple[str, str, Handler]]:
        """`relay`: with `ha:`, how a replica not running the loops forwards to the one that is."""
        webhook = webhook_handler(
            lambda: self._secrets.webhook_token.reveal(),
            lambda: self.ready,
            self.intake.notify,
            self.refusals,
            relay,
        )
        status = status_handler(
            self._authorised,
            lambda: self.ready,
            self._status,
            self.refusals,
            self._clock.now,
            relay,
            self._authenticated,
        )
        self.handoff.relay = relay
        handoffs = self.handoff.routes(self.refusals) if relay is not None else []
        return [("POST", WEBHOOK_PATH, webhook), ("POST", STATUS_PATH, status), *handoffs]

    def _authenticated(self, request: web.Request, body: bytes) -> str | None:
        """None when the caller holds some signal target's credentials (its secret or token)."""
        if any(
            signed_or_bearer(request, body, s.reveal(), self._token(n), time.time()) is None
            for n, s in self._secrets.signal_secrets.items()
        ):
            return None
        return "not signed with a signal target's secret"

    async def _authorised(self, remediation_id: str, request: web.Request, body: bytes) -> str | None:
        remediation = await self.state.remediation(remediation_id)
        if remediation is None or remediation.kind != "signal":
            # Say "unknown" only to someone holding a signal target's credentials.
            return self._authenticated(request, body) or "unknown"
        secret = self._secrets.signal_secrets.get(remediation.target)
        return signed_or_bearer(
            request, body, secret.reveal() if secret else None, self._token(remediation.target), time.time()
        )

    def _token(self, target: str) -> str | None:
        token = self._secrets.status_tokens.get(target)
        return token.reveal() if token else None

    async def _status(self, remediation_id: str, update: StatusUpdate, delivery_id: str) -> tuple[int, str]:
        remediation = await self.state.remediation(remediation_id)
        if remediation is None:
            return 404, "unknown action id"
        if remediation.delivery is None or remediation.delivery.decision != "approved":
            return 409, "this action was not approved: there is nothing to report on"
        if remediation.closed:
            return 409, f"this action is already {remediation.closed}"
        if delivery_id and not await self.state.store.first_notification(
            f"status:{remediation_id}:{delivery_id}", time.time()
        ):
            return 200, "repeat"
        await self.remediations.update(
            remediation_id,
            StatusUpdate(update.state, update.message, update.at, remediation.target, update.url),
        )
        return 200, "ok"

    # Slack-facing pieces (neutral) ------------------------------------------------------------

    async def card(self, incident: Incident) -> Reply:
        group = self.state.group(incident.key) if incident.kind is AlertKind.ALERTMANAGER else None
        if group is None:
            return incident_card(incident)
        base = self.settings.external_url or group.external_url
        return group_card(incident, group, await self.state.remediations_of(group), alertmanager_url=base)

    async def _decide(self, click: ButtonClick) -> None:
        approve = click.action_id.startswith(APPROVE_ACTION)
        subject = Subject(click.user_id, click.usergroups, click.channel_id)
        await self.remediations.decide(click.value[:64], approve, subject, click.channel_id)

    def silence_commands(self, loop: asyncio.AbstractEventLoop) -> SilenceCommands:
        return SilenceCommands(self.silencer, loop)

    # lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """After the alert pipeline restored its incidents: load groups and remediations, carry on
        with what a restart interrupted, take notifications, then reconcile and keep at it."""
        groups = await self.state.load()
        await self.remediations.resume()
        self.ready = True
        self._loops.append(asyncio.create_task(self._reconcile_loop(), name="alertmanager-reconcile"))
        self._loops.append(asyncio.create_task(self._sweep_loop(), name="alertmanager-sweep"))
        log.info(
            "alertmanager_started",
            groups=groups,
            api=self.settings.url or None,
            receivers=self.settings.receivers,
        )

    async def stop(self) -> None:
        self.ready = False
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.proposer.drain()
        await self.remediations.drain(runs_grace=RUNS_GRACE_SECONDS)
        if self.api is not None:
            await self.api.close()
        await self.sender.close()

    async def pause(self) -> None:
        """Another replica runs the loops now (ha:): stop them and the work under way (a
        notification being applied finishes); the receiver then forwards notifications to
        that replica (opsbot.ha.forwarding), or answers 503 (Alertmanager retries). `start`
        again resumes from the store."""
        self.ready = False
        loops, self._loops = self._loops, []
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        async with self.intake.lock:
            pass  # nothing changes the groups or their incidents from here
        await self.proposer.drain()
        await self.remediations.drain(keep_runs=True)
        self.state.forget()  # the replica taking over changes them: this copy would go stale

    async def idle(self) -> None:
        await self.proposer.idle()
        await self.remediations.idle()

    async def reconcile(self) -> bool:
        """Once: Alertmanager's groups now → posted / resolved; False when it could not be asked."""
        if self.api is None:
            return False
        asked_at = self._clock.now()
        try:
            groups = await self.api.groups(self.settings.receivers)
        except AlertmanagerError as exc:
            self.reconcile_failures += 1
            log.warning("alertmanager_reconcile_failed", error=self._secrets.scrub(str(exc))[:300])
            return False
        await self.intake.reconcile(groups, asked_at)
        self.reconciles += 1
        return True

    async def _reconcile_loop(self) -> None:
        while True:
            with self._guard("alertmanager_reconcile"):
                try:
                    await self.reconcile()
                finally:
                    self.first_reconcile.set()
                await self.silencer.check(ask=True)
                await self.intake.forget_old_notifications()
            await asyncio.sleep(self.settings.reconcile_minutes * 60)

    async def _sweep_loop(self) -> None:
        last_silence_check = time.monotonic()
        while True:
            await asyncio.sleep(self._sweep_interval)
            with self._guard("alertmanager_sweep"):
                await self.remediations.sweep()
                await self.follower.poll()
                if time.monotonic() - last_silence_check >= self.settings.silence_check_seconds:
                    last_silence_check = time.monotonic()
                    await self.silencer.check(ask=False)

    @contextlib.contextmanager
    def _guard(self, where: str) -> Iterator[None]:
        try:
            yield
        except asyncio.CancelledError:
            raise
        except AlertmanagerError as exc:
            log.warning(where + "_failed", error=self._secrets.scrub(str(exc))[:300])
        except Exception as exc:
            log.exception(where + "_failed")
            self._errors.capture(exc, where=where)

    def _rollout_done(self, remediation_id: str, outcome: Outcome) -> None:
        update = StatusUpdate(outcome.state, outcome.message, self._clock.now(), "rollout")
        self.remediations.later(self.remediations.update(remediation_id, update))


class AlertmanagerCollector(Collector):
    """/metrics: what the receiver took and refused, reconciles, silences and signals."""

    def __init__(self, service: AlertmanagerService) -> None:
        self._service = service

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        service = self._service
        intake = service.intake
        yield CounterMetricFamily(
            "opsbot_alertmanager_notifications", "Notifications received (repeats included).", intake.received
        )
        yield CounterMetricFamily(
            "opsbot_alertmanager_notifications_repeated",
            "Notifications seen before (nothing changed).",
            intake.duplicates,
        )
        refused = CounterMetricFamily(
            "opsbot_alertmanager_requests_refused", "Requests refused, by HTTP status.", labels=["status"]
        )
        for status, count in sorted(service.refusals.counts.items()):
            refused.add_metric([status], count)
        yield refused
        yield CounterMetricFamily(
            "opsbot_alertmanager_reconciles",
            "Reconciles with Alertmanager's API that completed.",
            service.reconciles,
        )
        yield CounterMetricFamily(
            "opsbot_alertmanager_reconcile_failures",
            "Reconciles that could not reach the API.",
            service.reconcile_failures,
        )
        yield CounterMetricFamily(
            "opsbot_alertmanager_silences_created", "Silences created from Slack.", service.silencer.created
        )
        yield CounterMetricFamily(
            "opsbot_signal_attempts", "Signal delivery attempts.", service.remediations.delivery_attempts
        )
        yield CounterMetricFamily(
            "opsbot_signals_delivered", "Signals delivered.", service.remediations.delivered
        )
        yield CounterMetricFamily(
            "opsbot_alertmanager_incidents_opened",
            "Incidents (threads) opened for alert groups.",
            intake.opened,
        )
        yield GaugeMetricFamily(
            "opsbot_alertmanager_groups", "Alert groups known.", len(service.state.groups)
        )


def ready_secrets(
    settings: AlertmanagerSettings,
    registry: Registry,
    roles: set[str],
    secrets: AlertmanagerSecrets | None,
    environ: Mapping[str, str],
) -> AlertmanagerSecrets:
    """The secrets (from `environ` unless given), once the rules check out; else a ConfigError
    naming every problem."""
    problems = check_rules(settings, registry, roles)
    if secrets is None:
        secrets, missing = load_secrets(settings, environ)
        problems.extend(missing)
    if problems or secrets is None:
        raise ConfigError(problems)
    return secrets
