"""``commands:`` and ``channels:`` in the config: limits of the commands, per-channel defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import Field, model_validator

from opsbot.core.settings import Strict


class ChannelBinding(Strict):
    """Defaults for commands typed in one channel."""

    cluster: str | None = None
    namespace: str | None = None


class LogsSettings(Strict):
    default_tail: int = Field(default=100, ge=1)
    max_tail: int = Field(default=5000, ge=1, le=100_000)
    inline_max_lines: int = Field(default=20, ge=0, le=60)
    max_bytes: int = Field(default=2_000_000, ge=1024)
    # An app's logs (`logs` with no pod): at most this many pods, most restarted first.
    max_pods: int = Field(default=10, ge=1, le=50)

    @model_validator(mode="after")
    def _tail_within_cap(self) -> LogsSettings:
        if self.default_tail > self.max_tail:
            raise ValueError("default_tail must not exceed max_tail")
        return self


class ContextSettings(Strict):
    """``context:`` in the config: the working context people set with `use`."""

    # A person's context is forgotten after this many hours without a command using it, so
    # nobody acts on last week's app by surprise. Channel pins (`use … for #channel`) stay.
    idle_hours: float = Field(default=12.0, gt=0, le=24 * 90)


class ScaleSettings(Strict):
    max_replicas: int = Field(default=50, ge=1, le=10_000)


class CommandsSettings(Strict):
    logs: LogsSettings = LogsSettings()
    scale: ScaleSettings = ScaleSettings()
    max_rows: int = Field(default=40, ge=5, le=200)
    max_text_length: int = Field(default=2000, ge=100, le=40_000)
    workers: int = Field(default=8, ge=1, le=64)
    # Whole-cluster reads (`pods -A`, `status -A`, `nodes` …) answered at once; more wait in line
    # and are told so. Bounds memory and CPU when many people ask at the same moment.
    max_heavy_reads: int = Field(default=2, ge=1, le=32)
    # Plan `scale`/`restart` with a server-side dry run (dryRun=All): the card shows the
    # cluster's own answer, and a refusal (RBAC, admission webhook, quota) is reported
    # before Confirm instead of after. Needs the same `patch` permission as the action.
    server_dry_run: bool = True


@dataclass(frozen=True)
class Scopes:
    """Where a command runs when it does not say: a configured cluster (the channel's, else the
    default) and a namespace (the channel's, else the default)."""

    clusters: frozenset[str]
    default_cluster: str
    default_namespace: str = "default"
    channels: Mapping[str, ChannelBinding] = field(default_factory=dict)
