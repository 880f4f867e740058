"""``alerts:`` and ``watch:`` in the config: routing rules, switches, timings."""

from __future__ import annotations

from pydantic import Field, field_validator

from opsbot.alerts.detectors import THRESHOLDS
from opsbot.alerts.detectors.events import COVERED_REASONS
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


class EventsSettings(Strict):
    """Which Warning events become incidents (the WarningEvent kind, off unless switched on in
    ``alerts.kinds``). Globs; an empty ``reasons``/``namespaces`` means all of them."""

    reasons: list[str] = []
    exclude_reasons: list[str] = list(COVERED_REASONS)
    namespaces: list[str] = []


class AlertsSettings(Strict):
    enabled: bool = True
    default_channel: str | None = None
    rules: list[RouteRule] = []
    excluded_namespaces: list[str] = []  # globs
    kinds: dict[AlertKind, bool] = {}  # per-kind enable/disable over the defaults
    # Minutes a problem must hold before it alerts, over each kind's default (kinds with a
    # threshold only: see THRESHOLD_KINDS).
    thresholds_minutes: dict[AlertKind, float] = {}
    events: EventsSettings = EventsSettings()
    resolve_after_minutes: float = Field(default=5, gt=0, le=24 * 60)
    cooldown_minutes: float = Field(default=30, ge=0, le=7 * 24 * 60)
    digest_threshold: int = Field(default=5, ge=1, le=100)
    enrichment_log_lines: int = Field(default=20, ge=0, le=200)

    @field_validator("thresholds_minutes")
    @classmethod
    def _only_kinds_with_a_threshold(cls, value: dict[AlertKind, float]) -> dict[AlertKind, float]:
        for kind, minutes in value.items():
            if kind not in THRESHOLDS:
                raise ValueError(f"{kind.value} has no threshold; these do: {', '.join(THRESHOLDS)}")
            if not 0 <= minutes <= 7 * 24 * 60:
                raise ValueError(f"{kind.value}: minutes must be between 0 and 10080")
        return value
