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
from pydantic import Field, ValidationError, model_validator

from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alerts.settings import AlertsSettings, WatchSettings
from opsbot.approvals.settings import ApprovalsSettings
from opsbot.commands.settings import ChannelBinding, CommandsSettings, ContextSettings, Scopes
from opsbot.core.settings import Strict
from opsbot.core.validation import is_dns1123_label
from opsbot.errors import ConfigError
from opsbot.ha.settings import HASettings, ha_problems
from opsbot.policy.settings import BUILTIN_ROLES, ImpersonationSettings, PolicySettings
from opsbot.releases.settings import ReleasesSettings
from opsbot.slack.settings import OutboxSettings, SlackSettings
from opsbot.store.settings import StoreSettings

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

_DNS_LABEL_MAX = 63


class ClusterSettings(Strict):
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


class LoggingSettings(Strict):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class HealthSettings(Strict):
    """The internal HTTP port: /healthz, /readyz and /metrics (Prometheus)."""

    enabled: bool = True
    host: str = "0.0.0.0"  # noqa: S104 - the probes and the scraper reach the pod IP
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)


class Settings(Strict):
    clusters: dict[str, ClusterSettings] = Field(min_length=1)
    default_cluster: str | None = None
    default_namespace: str = "default"
    channels: dict[str, ChannelBinding] = {}
    commands: CommandsSettings = CommandsSettings()
    context: ContextSettings = ContextSettings()
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
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    releases: ReleasesSettings = ReleasesSettings()
    ha: HASettings = HASettings()

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
        if self.alertmanager.enabled and not self.alerts.enabled:
            problems.append(
                "alertmanager.enabled: Alertmanager's alerts go to the alert threads; enable alerts too"
            )
        if self.alertmanager.enabled and not self.health.enabled:
            problems.append("alertmanager.enabled: the receiver listens on the health port; enable health too")
        for index, remediation in enumerate(self.alertmanager.remediations):
            approvers = remediation.approvers_role
            if approvers is not None and approvers not in known_roles:
                problems.append(
                    f"alertmanager.remediations.{index}.approvers_role: unknown role {approvers!r} "
                    f"(known: {', '.join(sorted(known_roles))})"
                )
        problems.extend(self.releases.references(self.clusters))
        problems.extend(ha_problems(self.ha, self.clusters, self.store.backend))
        if self.alerts.enabled and not self.alerts.default_channel and not self.alerts.rules:
            problems.append("alerts.default_channel: set a channel for alerts, or alerts.enabled: false")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def primary_cluster(self) -> str:
        return self.default_cluster or next(iter(self.clusters))

    @property
    def lease_cluster(self) -> str:
        """Where the leader leases live (`ha.lease_cluster`, else the default cluster)."""
        return self.ha.lease_cluster or self.primary_cluster

    @property
    def releases_workdir(self) -> Path:
        """Where the GitOps clones live: `releases.workdir`, else `git/` beside the store."""
        if self.releases.workdir:
            return Path(self.releases.workdir)
        return Path(self.store.path).parent / "git"

    @property
    def scopes(self) -> Scopes:
        """Where commands run when they do not say (for the router)."""
        return Scopes(frozenset(self.clusters), self.primary_cluster, self.default_namespace, self.channels)


def _is_dns_label(value: str) -> bool:
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
