"""opsbot's own error tree; library errors are wrapped at the boundary that meets them.

    OpsbotError
    ├── ConfigError                  the config file or environment is unusable (startup)
    ├── UserInputError               the request itself is wrong; nothing was called
    │   ├── UsageError               grammar: unknown option, missing argument (carries usage)
    │   ├── UnknownCommandError      not a command (carries suggestions)
    │   └── InvalidNameError         a name/selector/number fails Kubernetes rules or our limits
    ├── KubeError                    the Kubernetes API refused or failed
    │   ├── NotFoundError            permanent
    │   ├── ForbiddenError           permanent: RBAC says no (message names verb + resource)
    │   ├── ConflictError            permanent for this attempt
    │   ├── InvalidRequestError      permanent: 400/422 from the API server
    │   ├── UnauthorizedError        permanent: credentials rejected
    │   └── TemporaryKubeError       worth retrying later
    │       ├── ClusterUnreachableError
    │       └── KubeTimeoutError
    ├── ChatError                    Slack refused or failed a call (after retries), or it was never sent
    ├── AlertmanagerError            Alertmanager's API refused or failed (``temporary``: worth retrying)
    ├── StoreUnavailable             the shared store (Redis) cannot be reached right now (temporary)
    └── StoreConflict                a record kept changing under a compare-and-set (try again)

Messages are written for the person in the chat: they never include tokens or
tracebacks, and they name the cluster whenever one is involved.
"""

from __future__ import annotations


class OpsbotError(Exception):
    """Base of every error opsbot raises on purpose."""


class ConfigError(OpsbotError):
    """The configuration cannot be used; each problem names its key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class UserInputError(OpsbotError):
    """The request was rejected before anything reached a cluster."""


class UsageError(UserInputError):
    def __init__(self, message: str, *, command: str | None = None) -> None:
        self.command = command
        super().__init__(message)


class UnknownCommandError(UserInputError):
    def __init__(self, word: str, suggestions: list[str]) -> None:
        self.word = word
        self.suggestions = suggestions
        super().__init__(f"unknown command {word!r}")


class InvalidNameError(UserInputError):
    """A name, selector or number fails validation."""


class KubeError(OpsbotError):
    def __init__(self, message: str, *, cluster: str = "") -> None:
        self.cluster = cluster
        super().__init__(message)


class NotFoundError(KubeError):
    pass


class ForbiddenError(KubeError):
    pass


class ConflictError(KubeError):
    pass


class InvalidRequestError(KubeError):
    pass


class UnauthorizedError(KubeError):
    pass


class TemporaryKubeError(KubeError):
    pass


class ClusterUnreachableError(TemporaryKubeError):
    pass


class KubeTimeoutError(TemporaryKubeError):
    pass


class ChatError(OpsbotError):
    """An operational failure of a Slack call: refused, unreachable, or not sent because opsbot stopped.

    Raised at the Slack boundary (``opsbot.slack.alerts``) in place of the library's
    errors, so that the core tells it apart from a bug without importing slack_sdk.
    """


class AlertmanagerError(OpsbotError):
    """A call to Alertmanager's API failed; ``status`` is its HTTP answer, if it gave one."""

    def __init__(self, message: str, *, temporary: bool = False, status: int | None = None) -> None:
        self.temporary = temporary
        self.status = status
        super().__init__(message)


class StoreUnavailable(OpsbotError):
    """The shared store cannot be reached; calls fail fast until it answers again.

    The message is a sentence for people (it never includes the URL or a password).
    """


class StoreConflict(OpsbotError):
    """Every compare-and-set round on one record was lost to another writer (rare: busy record)."""
