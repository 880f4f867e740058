"""Builds the core from Settings: shared by the Slack bot (`opsbot.app`) and the console, so both
answer with the very same router, policy and registry. Saved contexts (`use`) live in
`contexts` (the store), else in memory for this process only."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime

from opsbot.commands.catalog import build_registry
from opsbot.commands.contexts import ContextBook, MemoryContexts
from opsbot.commands.registry import Registry
from opsbot.commands.router import CommandRouter, build_policy
from opsbot.config import Settings
from opsbot.ports import ContextStore, KubeDirectory
from opsbot.telemetry import NOOP_ERRORS, NOOP_TRACER, ErrorReporter, Tracer


def build_router(
    settings: Settings,
    clusters: KubeDirectory,
    pool: Executor,
    now: Callable[[], datetime],
    *,
    registry: Registry | None = None,
    rate_limited: bool = True,
    contexts: ContextStore | None = None,
    tracer: Tracer = NOOP_TRACER,
    errors: ErrorReporter = NOOP_ERRORS,
) -> CommandRouter:
    registry = registry or build_registry()
    return CommandRouter(
        registry,
        build_policy(settings.policy, registry),
        clusters,
        pool,
        now,
        scopes=settings.scopes,
        commands=settings.commands,
        rate_limit=settings.policy.rate_limit if rate_limited else None,
        impersonation=settings.impersonation,
        contexts=ContextBook(contexts or MemoryContexts(), idle_seconds=settings.context.idle_hours * 3600),
        tracer=tracer,
        errors=errors,
    )
