"""``policy:`` in the config file: roles, bindings, channel rules, approval rules, rate limit.

Validated once at start-up; every problem names its key path. Everything is keyed on
immutable Slack ids, never display names: the validators reject anything that does not
look like an id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum

from pydantic import Field, ValidationInfo, field_validator

from opsbot.core.settings import Strict
from opsbot.policy.ids import CHANNEL_ID, USER_ID, USERGROUP_ID


class Group(StrEnum):
    """The groups every command belongs to (each command declares its own, see the registry).

    ``read`` and ``write`` may be named in a role's verbs; admin commands (``audit`` …) are
    granted only by naming them or by ``*``.
    """

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


ALL = "*"
READ_GROUP = Group.READ.value
WRITE_GROUP = Group.WRITE.value

RESERVED_VERBS = frozenset({ALL, READ_GROUP, WRITE_GROUP})
_VERB = re.compile(r"^(\*|[a-z][a-z0-9-]*)$")
_GLOB = re.compile(r"^[a-z0-9*?\[\]!.-]+$")
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def _check_ids(values: Iterable[str], pattern: re.Pattern[str], what: str) -> None:
    for value in values:
        if not pattern.match(value):
            raise ValueError(
                f"{value!r} is not a Slack {what}: bind immutable ids (find them in the "
                "Slack profile / channel details), never display names"
            )


def _check_verbs(values: Iterable[str]) -> None:
    for value in values:
        if not _VERB.match(value):
            raise ValueError(f"{value!r} is not a command name, 'read', 'write' or '*'")


def _check_globs(values: list[str], what: str) -> None:
    if not values:
        raise ValueError(f"list at least one {what} (or '*' for all)")
    for value in values:
        if not _GLOB.match(value):
            raise ValueError(f"{value!r} is not a {what} name or glob (lowercase, '*', '?')")


class RoleSettings(Strict):
    """A role: which verbs, on which clusters, in which namespaces (globs).

    ``verbs`` holds command names, ``read`` / ``write`` (the groups of read-only and
    mutating commands), or ``*`` (every verb, including future ones). An empty list is
    allowed for a role that exists only to approve (see `ApprovalRule.approvers_role`).
    """

    verbs: list[str]
    clusters: list[str] = [ALL]
    namespaces: list[str] = [ALL]

    @field_validator("verbs")
    @classmethod
    def _verbs(cls, value: list[str]) -> list[str]:
        _check_verbs(value)
        return value

    @field_validator("clusters")
    @classmethod
    def _clusters(cls, value: list[str]) -> list[str]:
        _check_globs(value, "cluster")
        return value

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        _check_globs(value, "namespace")
        return value


class BindingSettings(Strict):
    """Grants ``role`` to these users, members of these user groups, and everyone in these channels."""

    role: str
    users: list[str] = []
    usergroups: list[str] = []
    channels: list[str] = []

    @field_validator("users")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        _check_ids(value, USER_ID, "user id (U… or W…)")
        return value

    @field_validator("usergroups")
    @classmethod
    def _usergroups(cls, value: list[str]) -> list[str]:
        _check_ids(value, USERGROUP_ID, "user group id (S…)")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        _check_ids(value, CHANNEL_ID, "channel id (C…, G… or D…)")
        return value


class ChannelRule(Strict):
    """Narrows what may be done in one channel. ``None`` leaves that dimension alone."""

    allow_verbs: list[str] | None = None
    namespaces: list[str] | None = None

    @field_validator("allow_verbs")
    @classmethod
    def _verbs(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            _check_verbs(value)
        return value

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            _check_globs(value, "namespace")
        return value


class ApprovalRule(Strict):
    """How mutating commands on matching clusters/namespaces get confirmed.

    ``self_confirm: true``: the requester's own Confirm runs the action.
    ``self_confirm: false``: ``approvals_required`` distinct people other than the
    requester must approve; each must hold ``approvers_role`` (or, if unset, a role
    that allows the verb there).
    """

    clusters: list[str] = [ALL]
    namespaces: list[str] = [ALL]
    self_confirm: bool = True
    approvals_required: int = Field(default=1, ge=1, le=10)
    approvers_role: str | None = None

    @field_validator("clusters")
    @classmethod
    def _clusters(cls, value: list[str]) -> list[str]:
        _check_globs(value, "cluster")
        return value

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        _check_globs(value, "namespace")
        return value

    @field_validator("approvals_required")
    @classmethod
    def _required(cls, value: int, info: ValidationInfo) -> int:
        if value > 1 and info.data.get("self_confirm", True):
            raise ValueError("more than one approval needs self_confirm: false")
        return value

    @field_validator("approvers_role")
    @classmethod
    def _approvers(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("self_confirm", True):
            raise ValueError("approvers_role only applies with self_confirm: false")
        return value


class RateLimitSettings(Strict):
    """Per-user token bucket: ``burst`` commands at once, refilled at ``commands_per_minute``."""

    commands_per_minute: int = Field(default=20, ge=1, le=10_000)
    burst: int = Field(default=5, ge=1, le=1_000)


BUILTIN_ROLES: Mapping[str, RoleSettings] = {
    "viewer": RoleSettings(verbs=[READ_GROUP]),
    "operator": RoleSettings(verbs=[READ_GROUP, WRITE_GROUP]),
    "admin": RoleSettings(verbs=[ALL]),
}
"""viewer: the read group; operator: + the write group; admin: everything (``*``: admin commands such
as ``audit`` too). The groups come from the command registry (each command declares its group)."""


class PolicySettings(Strict):
    """``policy:`` in the config file. Defaults give the secure default policy."""

    roles: dict[str, RoleSettings] = {}
    bindings: list[BindingSettings] = []
    channels: dict[str, ChannelRule] = {}
    approvals: list[ApprovalRule] = []
    rate_limit: RateLimitSettings = RateLimitSettings()

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: dict[str, RoleSettings]) -> dict[str, RoleSettings]:
        for name in value:
            if name in BUILTIN_ROLES:
                raise ValueError(f"{name!r} is a built-in role and cannot be redefined; pick another name")
            if not _ROLE_NAME.match(name):
                raise ValueError(f"{name!r}: role names are lowercase words (a-z, 0-9, '-', '_')")
        return value

    @field_validator("bindings")
    @classmethod
    def _bindings(cls, value: list[BindingSettings], info: ValidationInfo) -> list[BindingSettings]:
        known = _known_roles(info)
        problems: list[str] = []
        for index, binding in enumerate(value):
            if binding.role not in known:
                problems.append(
                    f"bindings.{index}.role: unknown role {binding.role!r} (known: {', '.join(sorted(known))})"
                )
            if not (binding.users or binding.usergroups or binding.channels):
                problems.append(
                    f"bindings.{index}: binds {binding.role!r} to nobody (list users, usergroups or channels)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, ChannelRule]) -> dict[str, ChannelRule]:
        _check_ids(value, CHANNEL_ID, "channel id (C…, G… or D…)")
        return value

    @field_validator("approvals")
    @classmethod
    def _approvals(cls, value: list[ApprovalRule], info: ValidationInfo) -> list[ApprovalRule]:
        known = _known_roles(info)
        problems = [
            f"approvals.{index}.approvers_role: unknown role {rule.approvers_role!r} "
            f"(known: {', '.join(sorted(known))})"
            for index, rule in enumerate(value)
            if rule.approvers_role is not None and rule.approvers_role not in known
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return value


def _known_roles(info: ValidationInfo) -> set[str]:
    # If `roles` itself failed validation it is absent here; its own error is reported.
    roles = info.data.get("roles") or {}
    return set(BUILTIN_ROLES) | set(roles)


_RESERVED_PREFIX = "system:"


class ImpersonationSettings(Strict):
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
