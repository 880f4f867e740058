"""Builds the core from Settings: shared by the Slack bot (`opsbot.app`) and the console, so both
answer with the very same router, policy and registry."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime

from opsbot.commands.catalog import build_registry
from opsbot.commands.registry import Registry
from opsbot.commands.router import CommandRouter, build_policy
from opsbot.config import Settings
from opsbot.ports import KubeDirectory
from opsbot.telemetry import NOOP_ERRORS, NOOP_TRACER, ErrorReporter, Tracer


def build_router(
    settings: Settings,
    clusters: KubeDirectory,
    pool: Executor,
    now: Callable[[], datetime],
    *,
    registry: Registry | None = None,
    rate_limited: bool = True,
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
        tracer=tracer,
        errors=errors,
    )
