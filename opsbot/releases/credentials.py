"""Git credentials, read once from the environment or a mounted file, never shown.

`Secret` hides its value from repr/str/format, so a credential that ends up in a log
event, an exception or a pydantic error prints as `********`; `scrub` removes the raw
value from any text that reaches the chat or a log as a last line of defence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from opsbot.releases.errors import GitAuthError
from opsbot.releases.settings import GitAuthSettings

MASK = "********"
DEFAULT_TOKEN_USER = "x-access-token"


class Secret:
    """A credential value; `reveal()` is the only way to read it."""

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

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled")


@dataclass(frozen=True)
class GitCredentials:
    """HTTPS basic auth (username + token/password) and/or an SSH key."""

    username: str | None = None
    password: Secret | None = None
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None

    def scrub(self, text: str) -> str:
        """`text` with the password/token replaced by a mask."""
        if self.password is not None and self.password.reveal():
            text = text.replace(self.password.reveal(), MASK)
        return text


def _read_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise GitAuthError(f"the {what} file `{path}` cannot be read ({exc.strerror or 'error'}).") from None


def load_credentials(auth: GitAuthSettings, environ: Mapping[str, str]) -> GitCredentials:
    """Credentials named by `auth`, read now (at start-up, so a missing one is reported
    before anyone asks for a promotion). Messages name the variable or file, never the value."""
    token: str | None = None
    if auth.token_env:
        token = environ.get(auth.token_env, "").strip() or None
        if token is None:
            raise GitAuthError(
                f"the environment variable `{auth.token_env}` holding the git token is not set."
            )
    elif auth.token_file:
        token = _read_file(auth.token_file, "git token") or None
        if token is None:
            raise GitAuthError(f"the git token file `{auth.token_file}` is empty.")
    if auth.ssh_key_file and not Path(auth.ssh_key_file).is_file():
        raise GitAuthError(f"the SSH key file `{auth.ssh_key_file}` does not exist.")
    username = auth.username or (DEFAULT_TOKEN_USER if token else None)
    return GitCredentials(
        username=username,
        password=Secret(token) if token else None,
        ssh_key_file=auth.ssh_key_file,
        known_hosts_file=auth.known_hosts_file,
    )
