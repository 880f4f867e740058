"""``alertmanager:`` in the config: the receiver, the API, remediation rules and signal targets.

Secrets never live here: the receiver's bearer token, the API's credentials and every signal
secret come from the environment (`opsbot.alertmanager.secrets`); a signal target only names
the variable that holds its secret.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from opsbot.alerts.findings import Severity
from opsbot.core.settings import Strict

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_TARGET_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_RULE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

DEFAULT_SIGNAL_SECRET_ENV = "OPSBOT_SIGNAL_SECRET"


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) > 2000:
        raise ValueError("must be an http(s) URL")
    if "@" in value.split("://", 1)[1].split("/", 1)[0]:
        raise ValueError("credentials do not belong in the URL: put them in the environment")
    return value.rstrip("/")


class SignalTarget(Strict):
    """A downstream system that `signal` actions POST to (signed, Standard Webhooks)."""

    url: str
    secret_env: str = DEFAULT_SIGNAL_SECRET_ENV
    """The environment variable holding the signing secret (``whsec_<base64>``, or any string)."""
    status_token_env: str | None = None
    """Optionally, a variable holding a bearer token the target may use for status updates
    instead of signing them."""
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_seconds: float = Field(default=1.0, gt=0, le=300)
    """The first retry's wait; each retry doubles it (capped at 5 minutes)."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("secret_env", "status_token_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name (A-Z, 0-9, _)")
        return value


class SignalAction(Strict):
    target: str
    action: str = Field(min_length=1, max_length=500)
    """What the downstream system should do; may use ``{labels.NAME}`` / ``{annotations.NAME}``."""


class RemediationRule(Strict):
    """Alerts whose labels match → a proposed action, carried out once a person approves.

    Exactly one of ``command`` (a typed command such as ``scale deploy/{labels.deployment} 3``,
    validated and planned like one) and ``signal`` (a POST to a signal target).
    """

    name: str
    match: dict[str, str] = Field(min_length=1)
    """Label name → exact value; every one must match."""
    command: str | None = Field(default=None, max_length=500)
    signal: SignalAction | None = None
    approvals_required: int | None = Field(default=None, ge=1, le=10)
    """None: what policy.approvals says for the action's cluster and namespace (at least one)."""
    approvers_role: str | None = None
    """None: policy.approvals' approvers_role, else whoever may run the command there (a signal:
    roles granting every verb)."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _RULE_NAME.match(value):
            raise ValueError("a lowercase name: a-z, 0-9, '.', '_', '-'")
        return value

    @field_validator("match")
    @classmethod
    def _match(cls, value: dict[str, str]) -> dict[str, str]:
        for label in value:
            if not _LABEL_NAME.match(label):
                raise ValueError(f"{label!r} is not a Prometheus label name")
        return value

    @model_validator(mode="after")
    def _one_action(self) -> RemediationRule:
        if (self.command is None) == (self.signal is None):
            raise ValueError("give exactly one of `command` and `signal`")
        return self


class AlertmanagerSettings(Strict):
    enabled: bool = False
    url: str | None = None
    """Alertmanager's base URL (API v2 at ``/api/v2``): reconcile and silences. Credentials, if
    any, from ALERTMANAGER_API_TOKEN (bearer) or ALERTMANAGER_API_USER/_PASSWORD (basic)."""
    external_url: str | None = None
    """Where people open Alertmanager's UI; default: the externalURL notifications carry."""
    receivers: list[str] = Field(default=["opsbot"], min_length=1)
    """The names of the Alertmanager receivers whose webhook points at opsbot."""
    reconcile_minutes: float = Field(default=3, gt=0, le=60)
    silence_check_seconds: float = Field(default=30, gt=0, le=3600)
    cluster_label: str = "cluster"
    """The label naming the cluster (a configured cluster's name); absent: the default cluster."""
    severity_label: str = "severity"
    severities: dict[str, Severity] = {}
    """Extra label values → card colour, beside critical/error/page, warning/warn, info/none/low."""
    request_timeout_seconds: float = Field(default=5, gt=0, le=60)
    proposal_expire_minutes: float = Field(default=240, gt=0, le=7 * 24 * 60)
    max_silence_hours: float = Field(default=168, gt=0, le=24 * 365)
    signal_targets: dict[str, SignalTarget] = {}
    remediations: list[RemediationRule] = []

    @field_validator("url", "external_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("cluster_label", "severity_label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL_NAME.match(value):
            raise ValueError(f"{value!r} is not a Prometheus label name")
        return value

    @field_validator("signal_targets")
    @classmethod
    def _targets(cls, value: dict[str, SignalTarget]) -> dict[str, SignalTarget]:
        for name in value:
            if not _TARGET_NAME.match(name):
                raise ValueError(f"{name!r}: target names are lowercase words (a-z, 0-9, '-')")
        return value

    @model_validator(mode="after")
    def _references(self) -> AlertmanagerSettings:
        problems: list[str] = []
        names: set[str] = set()
        for index, rule in enumerate(self.remediations):
            if rule.name in names:
                problems.append(f"remediations.{index}.name: {rule.name!r} is used twice")
            names.add(rule.name)
            if rule.signal is not None and rule.signal.target not in self.signal_targets:
                known = ", ".join(sorted(self.signal_targets)) or "none configured"
                problems.append(
                    f"remediations.{index}.signal.target: unknown target {rule.signal.target!r} "
                    f"(signal_targets: {known})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self
