"""Who may run which command where: a pure permission policy, keyed on Slack ids.

Roles (built-in ``viewer`` / ``operator`` / ``admin``, or custom ones naming verbs,
cluster globs and namespace globs) are bound to Slack user ids, user-group ids and
channel ids. Everything is keyed on immutable ids, never display names; the settings
validator rejects anything that does not look like an id.

Secure default: with no ``policy.bindings`` at all, everyone may run read commands
(in channels and DMs) and nobody may run anything else. Once any binding exists, only
bound subjects get anything; a channel binding grants its role to everyone in that
channel. A channel rule (``policy.channels``) can only *narrow* what is allowed in that
channel, whatever roles the user holds.

Nothing here does I/O: user-group membership is looked up (and cached) by the caller
and handed in on the `Subject`; the rate limiter is told the time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# settings ------------------------------------------------------------------

ALL = "*"
READ_GROUP = "read"
WRITE_GROUP = "write"
AUDIT_VERB = "audit"

_RESERVED = frozenset({ALL, READ_GROUP, WRITE_GROUP})
_VERB = re.compile(r"^(\*|[a-z][a-z0-9-]*)$")
_GLOB = re.compile(r"^[a-z0-9*?\[\]!.-]+$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{6,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class RoleSettings(_Strict):
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


class BindingSettings(_Strict):
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


class ChannelRule(_Strict):
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


class ApprovalRule(_Strict):
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


class RateLimitSettings(_Strict):
    """Per-user token bucket: ``burst`` commands at once, refilled at ``commands_per_minute``."""

    commands_per_minute: int = Field(default=20, ge=1, le=10_000)
    burst: int = Field(default=5, ge=1, le=1_000)


BUILTIN_ROLES: Mapping[str, RoleSettings] = {
    "viewer": RoleSettings(verbs=[READ_GROUP]),
    "operator": RoleSettings(verbs=[READ_GROUP, "scale", "restart", "unmute"]),
    "admin": RoleSettings(verbs=[ALL, AUDIT_VERB]),
}
"""viewer: every read verb; operator: + scale, restart, unmute; admin: everything (``*``, incl. audit)."""


class PolicySettings(_Strict):
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


# decisions -----------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """Who is asking, and where. ``usergroups``: the user's group ids (cached lookup by the caller)."""

    user_id: str
    usergroups: frozenset[str]
    channel_id: str


@dataclass(frozen=True)
class Target:
    """What is asked. ``namespace=None``: all namespaces (``-A``) or a cluster-scoped object."""

    verb: str
    cluster: str
    namespace: str | None


@dataclass(frozen=True)
class Allowed:
    role: str
    via: str = ""
    """How the role was granted, e.g. ``user U0123ABC``, ``usergroup S0123ABC``, ``channel C0123ABC``."""

    allowed: ClassVar[bool] = True


@dataclass(frozen=True)
class Denied:
    reason: str
    """Says which role, verb, cluster, namespace or channel rule is missing; safe to show the user."""

    allowed: ClassVar[bool] = False


Decision = Allowed | Denied


@dataclass(frozen=True)
class Grant:
    role: str
    via: str


@dataclass(frozen=True)
class ApprovalRequirement:
    self_confirm: bool
    approvals_required: int
    approvers_role: str | None
    source: str = "default"
    """Where it came from: ``policy.approvals.N`` or ``default``."""


DEFAULT_REQUIREMENT = ApprovalRequirement(self_confirm=True, approvals_required=1, approvers_role=None)
_DEFAULT_VIA = "the default policy (no policy.bindings configured)"


class Policy:
    """Decides `Subject` × `Target` → `Allowed` / `Denied`. Pure and cheap; build once per config.

    ``read_verbs`` / ``write_verbs``: the command names in the ``read`` / ``write`` groups.
    ``unscoped_verbs``: verbs that touch no cluster or namespace (e.g. ``help``); for them
    only the verb is checked, not cluster or namespace scopes.
    """

    def __init__(
        self,
        settings: PolicySettings,
        read_verbs: frozenset[str],
        write_verbs: frozenset[str],
        unscoped_verbs: frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings
        self.read_verbs = read_verbs
        self.write_verbs = write_verbs
        self.unscoped_verbs = unscoped_verbs
        self._roles: dict[str, RoleSettings] = {**BUILTIN_ROLES, **settings.roles}

    # -- configuration checks that need the command table --

    def unknown_verbs(self) -> list[str]:
        """Config problems (one line each, with the key path) for verbs no command has."""
        known = self.read_verbs | self.write_verbs | {ALL, READ_GROUP, WRITE_GROUP, AUDIT_VERB}
        problems: list[str] = []
        for name, role in self.settings.roles.items():
            problems.extend(
                f"policy.roles.{name}.verbs: {verb!r} is not a command"
                for verb in role.verbs
                if verb not in known
            )
        for channel, rule in self.settings.channels.items():
            problems.extend(
                f"policy.channels.{channel}.allow_verbs: {verb!r} is not a command"
                for verb in rule.allow_verbs or ()
                if verb not in known
            )
        return problems

    # -- roles --

    @property
    def default_mode(self) -> bool:
        """True when no bindings are configured: reads for everyone, writes for nobody."""
        return not self.settings.bindings

    def grants(self, subject: Subject) -> tuple[Grant, ...]:
        """The roles this subject holds here, each with how it was granted (config order)."""
        if self.default_mode:
            return (Grant("viewer", _DEFAULT_VIA),)
        found: list[Grant] = []
        for binding in self.settings.bindings:
            via: str | None = None
            if subject.user_id in binding.users:
                via = f"user {subject.user_id}"
            else:
                group = next((g for g in binding.usergroups if g in subject.usergroups), None)
                if group is not None:
                    via = f"usergroup {group}"
                elif subject.channel_id in binding.channels:
                    via = f"channel {subject.channel_id}"
            if via is not None and all(g.role != binding.role for g in found):
                found.append(Grant(binding.role, via))
        return tuple(found)

    def verb_matches(self, verb: str, patterns: Iterable[str]) -> bool:
        """Does ``verb`` (a command name) match any of ``patterns`` (names, groups, ``*``)?"""
        if verb in _RESERVED:  # group names are never commands themselves
            return False
        for pattern in patterns:
            if (
                pattern in (ALL, verb)
                or (pattern == READ_GROUP and verb in self.read_verbs)
                or (pattern == WRITE_GROUP and verb in self.write_verbs)
            ):
                return True
        return False

    def suggested_role(self, verb: str) -> str:
        """The smallest built-in role that grants ``verb``."""
        for name in ("viewer", "operator"):
            if self.verb_matches(verb, BUILTIN_ROLES[name].verbs):
                return name
        return "admin"

    # -- decisions --

    def decide(self, subject: Subject, target: Target) -> Decision:
        narrowed = self._channel_denial(subject, target)
        if narrowed is not None:
            return narrowed
        grants = self.grants(subject)
        if not grants:
            return Denied(
                f"you have no opsbot role here, so `{target.verb}` is not allowed: ask an admin to bind "
                f"your user id {subject.user_id}, "
                f"one of your user groups, or channel {subject.channel_id} to "
                f"{self.suggested_role(target.verb)} (policy.bindings)"
            )
        for grant in grants:
            if self._role_allows(self._roles[grant.role], target):
                return Allowed(grant.role, grant.via)
        if self.default_mode:
            return Denied(
                f"no role grants `{target.verb}`: ask an admin to bind you to "
                f"{self.suggested_role(target.verb)} (policy.bindings)"
            )
        held = ", ".join(f"{g.role} via {g.via}" for g in grants)
        return Denied(
            f"your roles ({held}) do not allow `{target.verb}`{self._where(target)}: "
            f"{self._missing(grants, target)}"
        )

    def _channel_denial(self, subject: Subject, target: Target) -> Denied | None:
        rule = self.settings.channels.get(subject.channel_id)
        if rule is None:
            return None
        path = f"policy.channels.{subject.channel_id}"
        if rule.allow_verbs is not None and not self.verb_matches(target.verb, rule.allow_verbs):
            allowed = ", ".join(rule.allow_verbs) or "nothing"
            return Denied(
                f"`{target.verb}` is not allowed in channel {subject.channel_id}: its channel rule "
                f"only allows {allowed} ({path}.allow_verbs)"
            )
        if rule.namespaces is not None and target.verb not in self.unscoped_verbs:
            if target.namespace is None:
                if ALL not in rule.namespaces:
                    return Denied(
                        f"all-namespace and cluster-scoped `{target.verb}` is not allowed in channel "
                        f"{subject.channel_id}: its channel rule limits it to namespaces "
                        f"{', '.join(rule.namespaces)} ({path}.namespaces)"
                    )
            elif not _glob_any(target.namespace, rule.namespaces):
                return Denied(
                    f"`{target.verb}` in namespace `{target.namespace}` is not allowed in channel "
                    f"{subject.channel_id}: its "
                    f"channel rule limits it to namespaces {', '.join(rule.namespaces)} ({path}.namespaces)"
                )
        return None

    def _role_allows(self, role: RoleSettings, target: Target) -> bool:
        if not self.verb_matches(target.verb, role.verbs):
            return False
        if target.verb in self.unscoped_verbs:
            return True
        return _cluster_ok(role, target.cluster) and _namespace_ok(role, target.namespace)

    def _where(self, target: Target) -> str:
        if target.verb in self.unscoped_verbs:
            return ""
        space = "across all namespaces" if target.namespace is None else f"in namespace `{target.namespace}`"
        return f" {space} on cluster `{target.cluster}`"

    def _missing(self, grants: tuple[Grant, ...], target: Target) -> str:
        with_verb = [g.role for g in grants if self.verb_matches(target.verb, self._roles[g.role].verbs)]
        if not with_verb:
            return (
                f"none of them grants `{target.verb}`; ask an admin to bind you to "
                f"{self.suggested_role(target.verb)} (policy.bindings)"
            )
        on_cluster = [name for name in with_verb if _cluster_ok(self._roles[name], target.cluster)]
        if not on_cluster:
            return "; ".join(
                f"{name} allows it only on clusters {', '.join(self._roles[name].clusters)}"
                for name in with_verb
            )
        if target.namespace is None:
            return (
                "all namespaces / cluster-scoped objects need a role with namespaces ['*'] ("
                + "; ".join(f"{name} covers {', '.join(self._roles[name].namespaces)}" for name in on_cluster)
                + ")"
            )
        return "; ".join(
            f"{name} allows it only in namespaces {', '.join(self._roles[name].namespaces)}"
            for name in on_cluster
        )

    # -- approvals --

    def approval_rule(self, cluster: str, namespace: str | None) -> ApprovalRequirement:
        """The first `ApprovalRule` matching (cluster, namespace); the self-confirm default otherwise.

        ``namespace=None`` (all namespaces / cluster-scoped) could touch any namespace, so it
        gets the strictest rule matching the cluster, whatever that rule's namespaces.
        """
        candidates: list[tuple[int, ApprovalRule]] = [
            (index, rule)
            for index, rule in enumerate(self.settings.approvals)
            if _glob_any(cluster, rule.clusters)
            and (namespace is None or _glob_any(namespace, rule.namespaces))
        ]
        if not candidates:
            return DEFAULT_REQUIREMENT
        if namespace is None:
            index, rule = max(
                candidates, key=lambda c: (not c[1].self_confirm, c[1].approvals_required, -c[0])
            )
        else:
            index, rule = candidates[0]
        return ApprovalRequirement(
            self_confirm=rule.self_confirm,
            approvals_required=rule.approvals_required,
            approvers_role=rule.approvers_role,
            source=f"policy.approvals.{index}",
        )

    def may_approve(self, subject: Subject, requirement: ApprovalRequirement, target: Target) -> Decision:
        """May ``subject`` approve ``target`` under ``requirement``?

        With ``approvers_role``: the subject must hold that role (through a real binding;
        the implicit default grant never counts) and the role's clusters/namespaces must
        cover the target. Without it: the subject must be allowed to run the verb there
        (`decide`, channel rules included).

        Not checked here: that the approver is not the requester, and that each approver
        counts once. The approval state machine (`opsbot.approvals.machine`) does that.
        """
        if requirement.approvers_role is None:
            decision = self.decide(subject, target)
            if isinstance(decision, Denied):
                return Denied(f"you cannot approve this: {decision.reason}")
            return decision
        wanted = requirement.approvers_role
        path = f"{requirement.source}.approvers_role"
        grants = () if self.default_mode else self.grants(subject)
        held = next((g for g in grants if g.role == wanted), None)
        if held is None:
            have = ", ".join(f"{g.role} via {g.via}" for g in grants) or "no roles"
            return Denied(
                f"approving `{target.verb}`{self._where(target)} needs the {wanted} role ({path}); "
                f"you have {have}"
            )
        role = self._roles[wanted]
        if not _cluster_ok(role, target.cluster) or not _namespace_ok(role, target.namespace):
            return Denied(
                f"your {wanted} role covers clusters {', '.join(role.clusters)} and namespaces "
                f"{', '.join(role.namespaces)}, not `{target.verb}`{self._where(target)} ({path})"
            )
        return Allowed(held.role, held.via)


def _glob_any(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def _cluster_ok(role: RoleSettings, cluster: str) -> bool:
    return _glob_any(cluster, role.clusters)


def _namespace_ok(role: RoleSettings, namespace: str | None) -> bool:
    if namespace is None:
        return ALL in role.namespaces
    return _glob_any(namespace, role.namespaces)


# rate limiting ---------------------------------------------------------------


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Per-user token bucket. Holds up to ``burst`` commands, refills ``commands_per_minute``.

    Pure apart from its own counters: the caller passes the (monotonic) time. A refused
    command costs nothing, so waiting the returned seconds always succeeds.
    """

    _EPSILON = 1e-9

    def __init__(self, settings: RateLimitSettings, max_users: int = 10_000) -> None:
        self.capacity = float(settings.burst)
        self.per_second = settings.commands_per_minute / 60.0
        self.max_users = max_users
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, user_id: str, now: float) -> float | None:
        """Take one token: ``None`` when allowed, else the seconds until the next one."""
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.max_users:
                self._prune(now)
            bucket = self._buckets[user_id] = _Bucket(self.capacity, now)
        else:
            elapsed = max(0.0, now - bucket.updated)  # a clock going backwards refills nothing
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.per_second)
            bucket.updated = max(bucket.updated, now)
        if bucket.tokens >= 1.0 - self._EPSILON:
            bucket.tokens = max(0.0, bucket.tokens - 1.0)
            return None
        return (1.0 - bucket.tokens) / self.per_second

    def _prune(self, now: float) -> None:
        """Forget users whose bucket has refilled (they are indistinguishable from new users)."""
        full = [
            user
            for user, bucket in self._buckets.items()
            if bucket.tokens + max(0.0, now - bucket.updated) * self.per_second >= self.capacity
        ]
        for user in full:
            del self._buckets[user]
        if len(self._buckets) >= self.max_users:  # still full of busy users: drop the stalest
            stalest = min(self._buckets, key=lambda user: self._buckets[user].updated)
            del self._buckets[stalest]

    def __len__(self) -> int:
        return len(self._buckets)


def rate_limited_message(seconds: float) -> str:
    """A friendly, user-facing line for a rate-limited command."""
    wait = max(1, math.ceil(seconds - 1e-9))
    if wait < 90:
        when = "a second" if wait == 1 else f"{wait} seconds"
    else:
        when = f"about {math.ceil(wait / 60)} minutes"
    return f"Easy there! You're sending commands faster than I can take them. Please try again in {when}."
