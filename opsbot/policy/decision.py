"""Who may run which command where: a pure permission policy, keyed on Slack ids.

Roles (built-in ``viewer`` / ``operator`` / ``admin``, or custom ones naming verbs,
cluster globs and namespace globs) are bound to Slack user ids, user-group ids and
channel ids (see `opsbot.policy.settings`).

Secure default: with no ``policy.bindings`` at all, everyone may run read commands
(in channels and DMs) and nobody may run anything else. Once any binding exists, only
bound subjects get anything; a channel binding grants its role to everyone in that
channel. A channel rule (``policy.channels``) can only *narrow* what is allowed in that
channel, whatever roles the user holds.

Which verbs are reads, writes or admin commands is not known here: the command registry
declares each command's group and hands the table in (`VerbGroups`).

Nothing here does I/O: user-group membership is looked up (and cached) by the caller
and handed in on the `Subject`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import ClassVar

from opsbot.policy.settings import (
    ALL,
    BUILTIN_ROLES,
    READ_GROUP,
    RESERVED_VERBS,
    WRITE_GROUP,
    ApprovalRule,
    PolicySettings,
    RoleSettings,
)


@dataclass(frozen=True)
class VerbGroups:
    """The command verbs by group (``read`` / ``write`` / admin-only), as the command registry declares
    them, and the verbs that touch no cluster or namespace (e.g. ``help``: for them only the verb
    is checked, not cluster or namespace scopes)."""

    read: frozenset[str]
    write: frozenset[str]
    admin: frozenset[str] = frozenset()
    unscoped: frozenset[str] = frozenset()

    @property
    def all(self) -> frozenset[str]:
        return self.read | self.write | self.admin


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
    """Decides `Subject` × `Target` → `Allowed` / `Denied`. Pure and cheap; build once per config."""

    def __init__(self, settings: PolicySettings, verbs: VerbGroups) -> None:
        self.settings = settings
        self.verbs = verbs
        self._roles: dict[str, RoleSettings] = {**BUILTIN_ROLES, **settings.roles}

    # -- configuration checks that need the command table --

    def unknown_verbs(self) -> list[str]:
        """Config problems (one line each, with the key path) for verbs no command has."""
        known = self.verbs.all | RESERVED_VERBS
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
        if verb in RESERVED_VERBS:  # group names are never commands themselves
            return False
        for pattern in patterns:
            if (
                pattern in (ALL, verb)
                or (pattern == READ_GROUP and verb in self.verbs.read)
                or (pattern == WRITE_GROUP and verb in self.verbs.write)
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
        if rule.namespaces is not None and target.verb not in self.verbs.unscoped:
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
        if target.verb in self.verbs.unscoped:
            return True
        return _cluster_ok(role, target.cluster) and _namespace_ok(role, target.namespace)

    def _where(self, target: Target) -> str:
        if target.verb in self.verbs.unscoped:
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
