"""Errors of the delivery layer; messages are written for the person in the chat.

OpsbotError
└── ReleaseError
    ├── EditError                 a GitOps file cannot be edited as asked (nothing was changed)
    │   ├── FieldNotFoundError    the file or the field is missing (names both)
    │   ├── AmbiguousFieldError   several fields match (names them)
    │   └── UnsupportedValueError the field is not a plain one-line scalar
    ├── VersionNotAllowedError    the config restricts versions and this one is outside
    ├── ChangedSinceError         what the approvers saw changed before the change was made
    ├── ReleaseBusyError          another change of the same app on the same cluster holds it
    ├── GitError                  the repository could not be read or updated
    │   ├── GitAuthError          credentials missing or rejected (never shows them)
    │   ├── PushRejectedError     the remote refused the push (hook, protection, races exhausted)
    │   └── GitUnavailableError   network or server trouble, worth retrying later
    └── RolloutError              a direct promote / rollback cannot be done
        ├── PausedDeploymentError kubectl refuses to roll back a paused Deployment too
        ├── RevisionNotFoundError the asked revision is not in the ReplicaSet history
        └── NoRolloutHistoryError nothing to roll back to
"""

from __future__ import annotations

from opsbot.errors import OpsbotError


class ReleaseError(OpsbotError):
    """Base of every delivery error."""


class EditError(ReleaseError):
    """The edit was refused before anything was written."""

    def __init__(self, message: str, *, path: str, field: str) -> None:
        self.path = path
        self.field = field
        super().__init__(message)


class FieldNotFoundError(EditError):
    pass


class AmbiguousFieldError(EditError):
    def __init__(self, message: str, *, path: str, field: str, matches: tuple[str, ...]) -> None:
        self.matches = matches
        super().__init__(message, path=path, field=field)


class UnsupportedValueError(EditError):
    pass


class VersionNotAllowedError(ReleaseError):
    def __init__(self, version: str, rule: str) -> None:
        self.version = version
        self.rule = rule
        super().__init__(f"version `{version}` is not allowed here ({rule}).")


class ChangedSinceError(ReleaseError):
    pass


class ReleaseBusyError(ReleaseError):
    pass


class GitError(ReleaseError):
    """Reading or updating the GitOps repository failed; the local clone is left at the
    remote head (no half-done commit stays behind)."""


class GitAuthError(GitError):
    pass


class PushRejectedError(GitError):
    pass


class GitUnavailableError(GitError):
    pass


class RolloutError(ReleaseError):
    pass


class PausedDeploymentError(RolloutError):
    pass


class RevisionNotFoundError(RolloutError):
    pass


class NoRolloutHistoryError(RolloutError):
    pass
