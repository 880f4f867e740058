"""Router: ChatRequest → Reply or ActionPlan. Resolves cluster and namespace, validates
the common options, runs the handler off the event loop with a deadline, and turns
every error into an answer the person can act on. Logs one summary line per command."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime
from typing import Protocol

import structlog

from opsbot.commands.context import AlertsView, CommandContext, LeadershipView, SilencesView
from opsbot.commands.contexts import ContextBook
from opsbot.commands.heavy import HeavyReads, OnWait
from opsbot.commands.registry import Registry
from opsbot.commands.scope import Scope, decorate, expiry_note, resolve
from opsbot.commands.settings import CommandsSettings, Scopes
from opsbot.commands.spec import Invocation, ScopeViews
from opsbot.commands.text import normalize, visible
from opsbot.commands.usage import usage_reply
from opsbot.commands.views import FleetView, ReleasesView
from opsbot.core.audit import Auditor, AuditRecord
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Mono, Reply, Text, TextLike, on_cluster
from opsbot.core.request import ChatRequest
from opsbot.errors import (
    ClusterUnreachableError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    KubeError,
    KubeTimeoutError,
    NotFoundError,
    OpsbotError,
    UnauthorizedError,
    UnknownCommandError,
    UsageError,
    UserInputError,
)
from opsbot.policy import Allowed, Denied, Policy, Subject, Target
from opsbot.policy.ratelimit import RateLimiter, rate_limited_message
from opsbot.policy.settings import ImpersonationSettings, PolicySettings, RateLimitSettings
from opsbot.ports import Identity, KubeDirectory, KubePort
from opsbot.telemetry import NOOP_ERRORS, NOOP_TRACER, ErrorReporter, Span, Tracer

log = structlog.get_logger("opsbot.commands")

RouterResult = Reply | ActionPlan


class CommandMetrics(Protocol):
    def observe_command(self, command: str, outcome: str, seconds: float) -> None: ...


class CommandRouter:
    def __init__(
        self,
        registry: Registry,
        policy: Policy,
        clusters: KubeDirectory,
        pool: Executor,
        now: Callable[[], datetime],
        *,
        scopes: Scopes,
        commands: CommandsSettings,
        rate_limit: RateLimitSettings | None,
        impersonation: ImpersonationSettings,
        alerts: AlertsView | None = None,
        contexts: ContextBook | None = None,
        fleet: FleetView | None = None,
        releases: ReleasesView | None = None,
        metrics: CommandMetrics | None = None,
        tracer: Tracer = NOOP_TRACER,
        errors: ErrorReporter = NOOP_ERRORS,
    ) -> None:
        self._registry = registry
        self.policy = policy
        self._clusters = clusters
        self._pool = pool
        self._now = now
        self._scopes = scopes
        self._commands = commands
        self._impersonation = impersonation
        self.alerts = alerts
        self.silences: SilencesView | None = None
        """Alertmanager's silences (the `silence` commands), when that feature is on."""
        self.leadership: LeadershipView | None = None
        """Who leads each cluster's alerts (`ha:`), for `status`."""
        self.contexts = contexts
        self.fleet = fleet
        self.releases = releases
        self.auditor: Auditor | None = None
        self.metrics = metrics
        self.tracer = tracer
        self.errors = errors
        # None: no per-person limit (the console: one person at a terminal, scripts included).
        self._limiter = RateLimiter(rate_limit) if rate_limit is not None else None
        self._heavy = HeavyReads(commands.max_heavy_reads)

    @property
    def registry(self) -> Registry:
        return self._registry

    async def handle(self, request: ChatRequest, *, on_wait: OnWait | None = None) -> RouterResult:
        """Answer one request, inside an `opsbot.command` span (no message text: the command
        line only once it parsed as a command)."""
        attributes = {
            "enduser.id": request.user_id,
            "opsbot.request_id": request.request_id,
            "opsbot.source": request.source,
        }
        with self.tracer.span("opsbot.command", **attributes) as span:
            return await self._handle(request, span, on_wait)

    async def _handle(self, request: ChatRequest, span: Span, on_wait: OnWait | None) -> RouterResult:
        started = time.perf_counter()
        bound = log.bind(
            request_id=request.request_id,
            user=request.user_id,
            channel=request.channel_id,
            source=request.source,
        )
        command = "?"
        scope: Scope | None = None
        outcome = "ok"
        try:
            if len(request.text) > self._commands.max_text_length:
                outcome = "rejected"
                return _error_reply(
                    "That message is too long to be a command",
                    f"Commands are at most {self._commands.max_text_length} characters.",
                )
            wait = self._limiter.allow(request.user_id, time.monotonic()) if self._limiter is not None else None
            if wait is not None:
                outcome = "rate_limited"
                return Reply("Slow down", (Text(rate_limited_message(wait)),), tone="warning")
            invocation = self._registry.parse(request.text)
            command = invocation.spec.name
            if invocation.flag("help"):
                return usage_reply(invocation.spec)
            views = ScopeViews(self.releases)
            # In the pool: saved contexts and release records are blocking store reads.
            scope = await asyncio.get_running_loop().run_in_executor(
                self._pool,
                functools.partial(
                    resolve, invocation, request, self._scopes, self.contexts, self._now().timestamp(), views
                ),
            )
            decision = self.policy.decide(
                subject_of(request),
                Target(
                    invocation.verb, scope.cluster, None if not invocation.spec.uses_cluster else scope.namespace
                ),
            )
            if isinstance(decision, Denied):
                outcome = "denied"
                return _error_reply("Not allowed", decision.reason)
            identity = self._identity(request, decision)
            kube = self._clusters.get(scope.cluster, identity=identity)
            if self._heavy_read(invocation, kube, scope):
                async with self._heavy.slot(on_wait):
                    result = await self._run(invocation, request, scope, identity, kube)
            else:
                result = await self._run(invocation, request, scope, identity, kube)
            if isinstance(result, ActionPlan):
                denied = self._denied_where_it_acts(request, result, scope)
                if denied is not None:
                    outcome = "denied"
                    return _error_reply("Not allowed", denied.reason)
                outcome = "planned"
            return result
        except UnknownCommandError as exc:
            outcome = "unknown_command"
            hint = (
                Text("Did you mean ", Text.join(" or ", (Mono(s) for s in exc.suggestions)), "? ")
                if exc.suggestions
                else Text()
            )
            return _error_reply(
                Text("I don't know the command ", Mono(visible(exc.word))),
                Text(hint, "Try ", Mono("help"), " for the list."),
            )
        except UsageError as exc:
            outcome = "usage_error"
            spec = self._registry.find(exc.command) if exc.command else None
            if spec is not None:
                reply = usage_reply(spec, visible(str(exc)))
                return _noted(Reply(reply.title, reply.parts, tone="error"), scope)
            return _error_reply("I could not read that command", visible(str(exc)))
        except UserInputError as exc:
            outcome = "invalid_input"
            return _noted(_error_reply("Invalid input", visible(str(exc))), scope)
        except KubeError as exc:
            outcome = type(exc).__name__.removesuffix("Error").lower()
            span.fail(outcome)
            return _noted(_kube_error_reply(exc, scope), scope)
        except OpsbotError as exc:
            # A feature's own refusal (e.g. a release the repository cannot take), written
            # for the person: shown as it is.
            outcome = "refused"
            span.fail(type(exc).__name__)
            return Reply(
                "Could not do that",
                (Text(str(exc)),),
                where=on_cluster(scope.cluster) if scope else "",
                tone="error",
            )
        except Exception as exc:
            outcome = "crashed"
            bound.exception("command_crashed", command=command)
            span.record_exception(exc)
            self.errors.capture(
                exc,
                where="command",
                command=command,
                cluster=scope.cluster if scope else None,
                request_id=request.request_id,
            )
            return _error_reply(
                "Something went wrong on my side", "The error was logged; the cluster was not changed."
            )
        finally:
            elapsed = time.perf_counter() - started
            duration_ms = round(elapsed * 1000, 1)
            if self.metrics is not None:
                self.metrics.observe_command(command, outcome, elapsed)
            span.set(
                **{
                    "opsbot.command": command,
                    "opsbot.command_line": _normalized(request.text) if command != "?" else None,
                    "opsbot.cluster": scope.cluster if scope else None,
                    "opsbot.namespace": scope.namespace if scope else None,
                    "opsbot.outcome": outcome,
                    "opsbot.duration_ms": duration_ms,
                }
            )
            bound.info(
                "command",
                command=command,
                cluster=scope.cluster if scope else None,
                namespace=scope.namespace if scope else None,
                outcome=outcome,
                duration_ms=duration_ms,
            )
            if self.auditor is not None:
                self.auditor.record(
                    AuditRecord(
                        at=self._now(),
                        kind="denied" if outcome == "denied" else "command",
                        user_id=request.user_id,
                        user_name=request.user_name,
                        channel=request.channel_id,
                        thread=request.thread,
                        command=_normalized(request.text),
                        cluster=scope.cluster if scope else None,
                        namespace=scope.namespace if scope else None,
                        target=None,
                        outcome=outcome,
                        duration_ms=duration_ms,
                        request_id=request.request_id,
                    )
                )

    @staticmethod
    def _heavy_read(invocation: Invocation, kube: KubePort, scope: Scope) -> bool:
        """A big read takes a turn (`commands.max_heavy_reads`), unless every read of the command
        is answered from a current watch cache: a few milliseconds and no list held in memory."""
        spec = invocation.spec
        if spec.heavy is None or not spec.heavy(invocation):
            return False
        return not spec.kube or not all(
            kube.cached(use.method, None if use.everywhere else scope.namespace) for use in spec.kube
        )

    async def _run(
        self,
        invocation: Invocation,
        request: ChatRequest,
        scope: Scope,
        identity: Identity | None,
        kube: KubePort,
    ) -> RouterResult:
        ctx = CommandContext(
            request=request,
            cluster=scope.cluster,
            namespace=scope.namespace,
            default_namespace=self._scopes.default_namespace if scope.namespace is None else scope.namespace,
            kube=kube,
            settings=self._commands,
            now=self._now(),
            registry=self._registry,
            alerts=self.alerts,
            audit=self.auditor,
            silences=self.silences,
            leadership=self.leadership,
            scope=scope,
            contexts=self.contexts,
            fleet=self.fleet,
            releases=self.releases,
            may=self._permits(request, invocation.verb),
        )
        spec = invocation.spec
        if spec.on_loop:
            result = spec.handler(invocation, ctx)
        else:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._pool, spec.handler, invocation, ctx)
        if isinstance(result, Reply):
            if not spec.uses_cluster:
                return result
            return _noted(dataclasses.replace(result, where=decorate(result.where, scope)), scope)
        return dataclasses.replace(
            result,
            origin=result.origin or scope.origin_line(),
            # The approved action runs as the requester (approvers only approve).
            identity=(identity.user, identity.groups) if identity is not None else None,
            dangerous=spec.dangerous is not None and spec.dangerous(result),
        )

    def _permits(self, request: ChatRequest, command: str) -> Callable[[str, str | None], bool]:
        """The policy's verdict on this person running `command` elsewhere (multi-cluster reads)."""
        subject = subject_of(request)

        def may(cluster: str, namespace: str | None) -> bool:
            return isinstance(self.policy.decide(subject, Target(command, cluster, namespace)), Allowed)

        return may

    def _denied_where_it_acts(self, request: ChatRequest, plan: ActionPlan, scope: Scope) -> Denied | None:
        """A plan acts where its handler found the object (e.g. an app's own namespace):
        when that is not where the policy was asked, ask again there."""
        if (plan.cluster, plan.namespace) == (scope.cluster, scope.namespace):
            return None
        decision = self.policy.decide(subject_of(request), Target(plan.verb, plan.cluster, plan.namespace))
        return decision if isinstance(decision, Denied) else None

    def _identity(self, request: ChatRequest, decision: Allowed) -> Identity | None:
        """Whom the cluster should see for this request: None keeps opsbot's own credentials."""
        settings = self._impersonation
        if not settings.enabled or (settings.roles is not None and decision.role not in settings.roles):
            return None
        groups = list(settings.groups)
        if settings.include_usergroups:
            groups.extend(f"{settings.user_prefix}{group}" for group in sorted(request.usergroups))
        return Identity(f"{settings.user_prefix}{request.user_id}", tuple(dict.fromkeys(groups)))


def build_policy(settings: PolicySettings, registry: Registry) -> Policy:
    """The policy over this registry's commands (each in the group it declares)."""
    return Policy(settings, registry.verb_groups())


def subject_of(request: ChatRequest) -> Subject:
    return Subject(request.user_id, request.usergroups, request.channel_id)


def _normalized(text: str) -> str:
    """What the person asked for, as parsed (Slack markup undone), bounded for the record."""
    return normalize(text)[:500]


def _noted(reply: Reply, scope: Scope | None) -> Reply:
    """The reply, saying so when the person's context expired just now (once)."""
    note = expiry_note(scope) if scope is not None else None
    return dataclasses.replace(reply, parts=(*reply.parts, note)) if note is not None else reply


def _error_reply(title: TextLike, detail: TextLike) -> Reply:
    """`detail` as a `str` is plain text: error messages are shown as they were written."""
    return Reply(title, (Text(detail),) if detail else (), tone="error")


def _kube_error_reply(exc: KubeError, scope: Scope | None) -> Reply:
    cluster = exc.cluster or (scope.cluster if scope else "")
    place = on_cluster(cluster) if cluster else Text()
    if isinstance(exc, NotFoundError):
        title = "Not found"
    elif isinstance(exc, ForbiddenError):
        title = "opsbot is not allowed to do that"
    elif isinstance(exc, ClusterUnreachableError):
        title = "Cluster unreachable"
    elif isinstance(exc, KubeTimeoutError):
        title = "The cluster did not answer in time"
    elif isinstance(exc, ConflictError):
        title = "Conflict"
    elif isinstance(exc, UnauthorizedError):
        title = "opsbot's credentials were rejected"
    elif isinstance(exc, InvalidRequestError):
        title = "Kubernetes rejected the request"
    else:
        title = "Kubernetes error"
    return Reply(title, (Text(str(exc)),), where=place, tone="error")
