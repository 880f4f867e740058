"""Settings: one YAML file plus a few environment variables, validated once at startup.

The environment is read only by `load_secrets`, and only when asked: importing this
module has no side effects. Every validation error names the key path that is wrong
and what was expected, so `opsbot check-config` can print one line per problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsbot.alerts.findings import AlertKind, Severity
from opsbot.approvals.policy import BUILTIN_ROLES, PolicySettings
from opsbot.errors import ConfigError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

_DNS_LABEL_MAX = 63


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusterSettings(_Strict):
    """How to reach one cluster: in-cluster service account, or a kubeconfig (+ context)."""

    in_cluster: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one_source(self) -> ClusterSettings:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster cannot be combined with kubeconfig/context")
        return self


class ChannelBinding(_Strict):
    """Defaults for commands typed in one channel."""

    cluster: str | None = None
    namespace: str | None = None


class LogsSettings(_Strict):
    default_tail: int = Field(default=100, ge=1)
    max_tail: int = Field(default=5000, ge=1, le=100_000)
    inline_max_lines: int = Field(default=20, ge=0, le=60)
    max_bytes: int = Field(default=2_000_000, ge=1024)

    @model_validator(mode="after")
    def _tail_within_cap(self) -> LogsSettings:
        if self.default_tail > self.max_tail:
            raise ValueError("default_tail must not exceed max_tail")
        return self


class ScaleSettings(_Strict):
    max_replicas: int = Field(default=50, ge=1, le=10_000)


class CommandsSettings(_Strict):
    logs: LogsSettings = LogsSettings()
    scale: ScaleSettings = ScaleSettings()
    max_rows: int = Field(default=40, ge=5, le=200)
    max_text_length: int = Field(default=2000, ge=100, le=40_000)
    workers: int = Field(default=8, ge=1, le=64)
    # Plan `scale`/`restart` with a server-side dry run (dryRun=All): the card shows the
    # cluster's own answer, and a refusal (RBAC, admission webhook, quota) is reported
    # before Confirm instead of after. Needs the same `patch` permission as the action.
    server_dry_run: bool = True


_RESERVED_PREFIX = "system:"


class ImpersonationSettings(_Strict):
    """Kubernetes impersonation: the cluster's RBAC has the last word.

    When enabled, the API calls of a request (and of its approved action) carry
    `Impersonate-User: <user_prefix><Slack user id>` and one `Impersonate-Group` per group:
    `groups`, plus `<user_prefix><user group id>` for the requester's Slack user groups
    that policy.bindings name (when `include_usergroups`). Needs manifests/components/impersonation/.
    """

    enabled: bool = False
    # None: every request; else only requests the policy allowed through one of these roles.
    roles: list[str] | None = None
    user_prefix: str = Field(default="slack:", min_length=1, max_length=64)
    groups: list[str] = ["opsbot:users"]
    include_usergroups: bool = True

    @field_validator("user_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value.startswith(_RESERVED_PREFIX) or not value.isprintable() or " " in value:
            raise ValueError(f"must be printable, without spaces, and not start with {_RESERVED_PREFIX!r}")
        return value

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        for group in value:
            if not group or not group.isprintable() or group.startswith(_RESERVED_PREFIX):
                raise ValueError(
                    f"{group!r}: groups must be printable and not start with {_RESERVED_PREFIX!r} "
                    "(system: groups such as system:masters would bypass RBAC)"
                )
        return value


class ApprovalsSettings(_Strict):
    expire_after_minutes: float = Field(default=15, gt=0, le=24 * 60)
    audit_channel: str | None = None  # every approval step and execution is also posted here


class OutboxSettings(_Strict):
    per_channel_per_second: float = Field(default=1.0, gt=0, le=100)
    burst: int = Field(default=3, ge=1, le=50)
    max_attempts: int = Field(default=5, ge=1, le=20)


class LoggingSettings(_Strict):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class WatchSettings(_Strict):
    namespaces: list[str] | None = None  # None: all namespaces (needs the cluster-wide overlay)


class RouteMatch(_Strict):
    """Every given field must match; omitted fields match anything."""

    cluster: str | None = None
    namespace: str | None = None  # glob, e.g. "web-*"
    labels: dict[str, str] = {}
    kinds: list[AlertKind] | None = None
    severity: list[Severity] | None = None


class RouteRule(_Strict):
    match: RouteMatch = RouteMatch()
    channel: str = Field(min_length=1)


class AlertsSettings(_Strict):
    enabled: bool = True
    default_channel: str | None = None
    rules: list[RouteRule] = []
    excluded_namespaces: list[str] = []  # globs
    kinds: dict[AlertKind, bool] = {}  # per-kind enable/disable over the defaults
    resolve_after_minutes: float = Field(default=5, gt=0, le=24 * 60)
    cooldown_minutes: float = Field(default=30, ge=0, le=7 * 24 * 60)
    digest_threshold: int = Field(default=5, ge=1, le=100)
    enrichment_log_lines: int = Field(default=20, ge=0, le=200)


class HealthSettings(_Strict):
    """The internal HTTP port: /healthz, /readyz and /metrics (Prometheus)."""

    enabled: bool = True
    host: str = "0.0.0.0"  # noqa: S104 - the probes and the scraper reach the pod IP
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)


class StoreSettings(_Strict):
    path: str = "/var/lib/opsbot/opsbot.db"


class SlackSettings(_Strict):
    command: str = "/opsbot"

    @field_validator("command")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith("/") or " " in value:
            raise ValueError("must look like /opsbot")
        return value


class Settings(_Strict):
    clusters: dict[str, ClusterSettings] = Field(min_length=1)
    default_cluster: str | None = None
    default_namespace: str = "default"
    channels: dict[str, ChannelBinding] = {}
    commands: CommandsSettings = CommandsSettings()
    approvals: ApprovalsSettings = ApprovalsSettings()
    outbox: OutboxSettings = OutboxSettings()
    logging: LoggingSettings = LoggingSettings()
    watch: WatchSettings = WatchSettings()
    slack: SlackSettings = SlackSettings()
    alerts: AlertsSettings = AlertsSettings()
    store: StoreSettings = StoreSettings()
    health: HealthSettings = HealthSettings()
    policy: PolicySettings = PolicySettings()
    impersonation: ImpersonationSettings = ImpersonationSettings()

    @model_validator(mode="after")
    def _references(self) -> Settings:
        problems: list[str] = []
        for name in self.clusters:
            if not _is_dns_label(name):
                problems.append(f"clusters.{name}: cluster names must be lowercase DNS labels")
        if self.default_cluster is not None and self.default_cluster not in self.clusters:
            problems.append(
                f"default_cluster: {self.default_cluster!r} is not one of clusters "
                f"({', '.join(sorted(self.clusters))})"
            )
        if self.default_cluster is None and len(self.clusters) > 1:
            problems.append("default_cluster: required when more than one cluster is configured")
        if not _is_dns_label(self.default_namespace):
            problems.append("default_namespace: must be a valid namespace name")
        for channel, binding in self.channels.items():
            if binding.cluster is not None and binding.cluster not in self.clusters:
                problems.append(f"channels.{channel}.cluster: {binding.cluster!r} is not one of clusters")
            if binding.namespace is not None and not _is_dns_label(binding.namespace):
                problems.append(f"channels.{channel}.namespace: must be a valid namespace name")
        for namespace in self.watch.namespaces or []:
            if not _is_dns_label(namespace):
                problems.append(f"watch.namespaces: {namespace!r} is not a valid namespace name")
        for index, rule in enumerate(self.alerts.rules):
            if rule.match.cluster is not None and rule.match.cluster not in self.clusters:
                problems.append(
                    f"alerts.rules.{index}.match.cluster: {rule.match.cluster!r} is not one of clusters"
                )
        known_roles = set(BUILTIN_ROLES) | set(self.policy.roles)
        for role in self.impersonation.roles or []:
            if role not in known_roles:
                problems.append(
                    f"impersonation.roles: unknown role {role!r} (known: {', '.join(sorted(known_roles))})"
                )
        if self.alerts.enabled and not self.alerts.default_channel and not self.alerts.rules:
            problems.append("alerts.default_channel: set a channel for alerts, or alerts.enabled: false")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def primary_cluster(self) -> str:
        return self.default_cluster or next(iter(self.clusters))


def _is_dns_label(value: str) -> bool:
    from opsbot.commands.validation import is_dns1123_label

    return len(value) <= _DNS_LABEL_MAX and is_dns1123_label(value)


@dataclass(frozen=True)
class Secrets:
    """Values only the environment may provide. `repr` never shows the tokens."""

    bot_token: str
    app_token: str
    slack_api_url: str = DEFAULT_SLACK_API_URL

    def __repr__(self) -> str:
        return f"Secrets(bot_token=***, app_token=***, slack_api_url={self.slack_api_url!r})"


def parse_settings(data: Any) -> Settings:
    """Validate already-parsed YAML; raise ConfigError naming every bad key path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["(top level): expected a mapping of settings"])
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def load_settings(path: str | Path) -> Settings:
    file = Path(path)
    if not file.exists():
        raise ConfigError([f"{file}: config file not found (copy config.example.yaml to {file} and edit it)"])
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{file}: not valid YAML{where}"]) from None
    return parse_settings(data)


def load_secrets(environ: Mapping[str, str] | None = None) -> Secrets:
    env = os.environ if environ is None else environ
    problems: list[str] = []
    bot = env.get("SLACK_BOT_TOKEN", "").strip()
    app = env.get("SLACK_APP_TOKEN", "").strip()
    if not bot:
        problems.append("SLACK_BOT_TOKEN is not set: use the app's Bot User OAuth Token (xoxb-…)")
    elif not bot.startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN does not look like a bot token (expected xoxb-…)")
    if not app:
        problems.append(
            "SLACK_APP_TOKEN is not set: create an app-level token with the connections:write scope (xapp-…)"
        )
    elif not app.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN does not look like an app-level token (expected xapp-…)")
    api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    if not api_url.startswith(("http://", "https://")):
        problems.append("SLACK_API_URL must be an http(s) URL")
    if not api_url.endswith("/"):
        api_url += "/"
    if problems:
        raise ConfigError(problems)
    return Secrets(bot_token=bot, app_token=app, slack_api_url=api_url)


def _describe(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        kind = error["type"]
        if kind == "extra_forbidden":
            problems.append(f"{path}: unknown setting (check the spelling against config.example.yaml)")
        elif kind == "value_error" and not error["loc"]:
            problems.extend(str(error["ctx"]["error"]).splitlines())
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{path}: {message}")
    return problems
