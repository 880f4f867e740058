"""``alerts:`` and ``watch:`` in the config: routing rules, switches, timings."""

from __future__ import annotations

from pydantic import Field

from opsbot.alerts.findings import AlertKind, Severity
from opsbot.core.settings import Strict


class WatchSettings(Strict):
    namespaces: list[str] | None = None  # None: all namespaces (needs the cluster-wide overlay)
    # Keep pods, deployments and nodes in memory (watched, also with alerts off) and answer
    # `pods`, `deployments`, `nodes` and `status` from there; anything else lists live.
    cache: bool = True


class RouteMatch(Strict):
    """Every given field must match; omitted fields match anything."""

    cluster: str | None = None
    namespace: str | None = None  # glob, e.g. "web-*"
    labels: dict[str, str] = {}
    kinds: list[AlertKind] | None = None
    severity: list[Severity] | None = None


class RouteRule(Strict):
    match: RouteMatch = RouteMatch()
    channel: str = Field(min_length=1)


class AlertsSettings(Strict):
    enabled: bool = True
    default_channel: str | None = None
    rules: list[RouteRule] = []
    excluded_namespaces: list[str] = []  # globs
    kinds: dict[AlertKind, bool] = {}  # per-kind enable/disable over the defaults
    resolve_after_minutes: float = Field(default=5, gt=0, le=24 * 60)
    cooldown_minutes: float = Field(default=30, ge=0, le=7 * 24 * 60)
    digest_threshold: int = Field(default=5, ge=1, le=100)
    enrichment_log_lines: int = Field(default=20, ge=0, le=200)
