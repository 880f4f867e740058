"""The Alertmanager feature's secrets, read once from the environment and never shown.

    ALERTMANAGER_WEBHOOK_TOKEN      bearer token Alertmanager sends (its http_config.authorization)
    ALERTMANAGER_API_TOKEN          optional: bearer token for Alertmanager's API
    ALERTMANAGER_API_USER/_PASSWORD optional: basic auth for Alertmanager's API instead
    <target.secret_env>             each signal target's signing secret (default OPSBOT_SIGNAL_SECRET)
    <target.status_token_env>       optionally, a bearer token for that target's status updates

`Secret` hides its value from repr/str/format; `reveal()` is the only way to read it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alertmanager.signing import secret_bytes

WEBHOOK_TOKEN_ENV = "ALERTMANAGER_WEBHOOK_TOKEN"
API_TOKEN_ENV = "ALERTMANAGER_API_TOKEN"
API_USER_ENV = "ALERTMANAGER_API_USER"
API_PASSWORD_ENV = "ALERTMANAGER_API_PASSWORD"
MIN_TOKEN_LENGTH = 16
MASK = "********"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class ApiCredentials:
    token: Secret | None = None
    user: str | None = None
    password: Secret | None = None

    def headers(self) -> dict[str, str]:
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token.reveal()}"}
        if self.user is not None and self.password is not None:
            raw = f"{self.user}:{self.password.reveal()}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}


@dataclass(frozen=True)
class AlertmanagerSecrets:
    webhook_token: Secret
    api: ApiCredentials = field(default_factory=ApiCredentials)
    signal_secrets: Mapping[str, Secret] = field(default_factory=dict)
    """By signal target name."""
    status_tokens: Mapping[str, Secret] = field(default_factory=dict)
    """By signal target name, for targets that have one."""

    def scrub(self, text: str) -> str:
        for secret in (
            self.webhook_token,
            self.api.token,
            self.api.password,
            *self.signal_secrets.values(),
            *self.status_tokens.values(),
        ):
            if secret is not None and secret.reveal():
                text = text.replace(secret.reveal(), MASK)
        return text


def load_secrets(
    settings: AlertmanagerSettings, environ: Mapping[str, str]
) -> tuple[AlertmanagerSecrets | None, list[str]]:
    """The secrets, or the problems (one line each, naming the variable, never its value)."""
    problems: list[str] = []
    token = environ.get(WEBHOOK_TOKEN_ENV, "").strip()
    if not token:
        problems.append(
            f"{WEBHOOK_TOKEN_ENV} is not set: the receiver only accepts Alertmanager with a bearer token "
            "(put the same value in the receiver's http_config.authorization.credentials)"
        )
    elif len(token) < MIN_TOKEN_LENGTH:
        problems.append(
            f"{WEBHOOK_TOKEN_ENV} is shorter than {MIN_TOKEN_LENGTH} characters: use a random token"
        )
    api_token = environ.get(API_TOKEN_ENV, "").strip()
    user = environ.get(API_USER_ENV, "").strip()
    password = environ.get(API_PASSWORD_ENV, "")
    if bool(user) != bool(password):
        problems.append(f"set both {API_USER_ENV} and {API_PASSWORD_ENV}, or neither")
    signal_secrets: dict[str, Secret] = {}
    status_tokens: dict[str, Secret] = {}
    for name, target in settings.signal_targets.items():
        value = environ.get(target.secret_env, "").strip()
        if not value:
            problems.append(
                f"{target.secret_env} is not set: the signing secret of alertmanager.signal_targets.{name}"
            )
        else:
            try:
                secret_bytes(value)
            except ValueError as exc:
                problems.append(f"{target.secret_env}: {exc}")
            signal_secrets[name] = Secret(value)
        if target.status_token_env is not None:
            status = environ.get(target.status_token_env, "").strip()
            if not status:
                problems.append(
                    f"{target.status_token_env} is not set: alertmanager.signal_targets.{name}.status_token_env"
                )
            else:
                status_tokens[name] = Secret(status)
    if problems:
        return None, problems
    api = ApiCredentials(
        token=Secret(api_token) if api_token else None,
        user=user or None,
        password=Secret(password) if password else None,
    )
    return AlertmanagerSecrets(Secret(token), api, signal_secrets, status_tokens), []
