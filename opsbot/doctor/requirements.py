"""What opsbot needs from Slack and from each cluster, derived from the settings.

Pure: no I/O. `opsbot check-config` asks each cluster about every `Permission` with a
SelfSubjectAccessReview and compares Slack's granted bot scopes with `required_scopes`
(both in `opsbot.doctor.checks`).

Nothing here is a table of its own: every `KubePort` method declares the RBAC rule its
request needs (`opsbot.ports.requires`), every command declares the methods it calls
(`CommandSpec.kube`), and `WATCHED` is what the alert watches list and watch (derived from
`opsbot.core.resources` and the detectors' table).
tests/unit/test_doctor_requirements.py fails when the code and these declarations
drift apart.

Which of them are needed follows the config:

- alerts on: list+watch of the `WATCHED` resources the enabled detectors read, in
  `watch.namespaces` (all namespaces when unset), and the alert details (log lines,
  Warning events) there;
- commands: the commands some bound role grants on that cluster (with no
  `policy.bindings`, reads for everyone and writes for nobody), in the namespaces the
  config names (`default_namespace`, channel bindings, `watch.namespaces`, role
  namespaces without globs); `-A` and node commands need cluster-wide reads and are
  optional (warnings). A command granted through a role in `impersonation.roles` runs
  as the Slack user, so opsbot's service account does not need its permissions;
- impersonation on: `impersonate` on users and on each group opsbot sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import cache
from typing import Literal

from opsbot.alerts.detectors import ALERT_RESOURCES, watched_resources
from opsbot.alerts.routing import enabled_kinds
from opsbot.commands.catalog import build_registry
from opsbot.commands.router import build_policy
from opsbot.commands.spec import ALL_NAMESPACES, KubeUse
from opsbot.config import Settings
from opsbot.core.resources import RESOURCES, ResourceName, WatchedResource
from opsbot.doctor.ha_needs import LEADER_ELECTION, ha_needs
from opsbot.doctor.placeholders import slack_ids
from opsbot.doctor.release_needs import FOLLOW_UP, release_needs
from opsbot.policy.settings import ALL, BUILTIN_ROLES, RoleSettings
from opsbot.ports import ApiCall, api_calls

Severity = Literal["error", "warning"]

BASE_ROLE = "manifests/base/role.yaml"
OPERATE = "manifests/components/operate/"
CLUSTER_WIDE = "manifests/components/cluster-wide/"
IMPERSONATION = "manifests/components/impersonation/"
ENABLE_COMPONENT = "uncomment it under `components:` in manifests/kustomization.yaml"
SLACK_MANIFEST = "slack-app-manifest.yaml"
SCOPE_FIX = (
    "add the scope in the app config (OAuth & Permissions) or re-create the app from "
    f"{SLACK_MANIFEST}, then reinstall the app"
)


def _list_call(resource: WatchedResource) -> ApiCall:
    return ApiCall("list", resource.name, resource.group, cluster_scoped=not resource.namespaced)


# What the alert watches may list and watch: every resource some detector reads, as the
# resources table describes it. A config watches those its enabled detectors read
# (`watched_resources`, as opsbot.app starts them). Alert details read these KubeClient methods.
WATCHED: Mapping[ResourceName, ApiCall] = {name: _list_call(RESOURCES[name]) for name in ALERT_RESOURCES}
ALERT_DETAIL_METHODS = ("read_pod_log", "list_events", "list_pods")

WATCHES = "alert watches"
ALERT_DETAILS = "alert details (log lines, events, pods on a node)"


@dataclass(frozen=True)
class Permission:
    """One permission opsbot's credentials need on a cluster, and why.

    ``namespace=None``: cluster-scoped (``cluster_scoped``) or across all namespaces.
    ``name``: one object name (``resourceNames``), e.g. the group impersonated.
    """

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    namespace: str | None = None
    name: str = ""
    cluster_scoped: bool = False
    severity: Severity = "error"
    needed_by: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str, str, str | None, str]:
        return (self.verb, self.group, self.resource, self.subresource, self.namespace, self.name)

    @property
    def resource_path(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def scope(self) -> str:
        """Where the permission applies, as a person says it."""
        if self.namespace is not None:
            return f"namespace {self.namespace}"
        return "cluster-scoped" if self.cluster_scoped else "all namespaces"

    def label(self, verb: str = "") -> str:
        """E.g. ``patch deployments/scale (apps)`` (`verb`: e.g. ``get/list``)."""
        group = f" ({self.group})" if self.group else ""
        named = f" {self.name!r}" if self.name else ""
        return f"{verb or self.verb} {self.resource_path}{group}{named}"

    @property
    def target(self) -> tuple[str, str, str | None, bool, str]:
        """What it is about, whatever the verb: permissions sharing it share one RBAC rule."""
        return (self.group, self.resource_path, self.namespace, self.cluster_scoped, self.name)

    def rule(self, verbs: Sequence[str] = ()) -> str:
        """The RBAC rule that grants it (or `verbs` on the same target), in the manifests' style."""
        names = f', resourceNames: ["{self.name}"]' if self.name else ""
        listed = ", ".join(f'"{verb}"' for verb in (verbs or [self.verb]))
        return (
            f'{{apiGroups: ["{self.group}"], resources: ["{self.resource_path}"], verbs: [{listed}]{names}}}'
        )


@dataclass(frozen=True)
class ClusterRequirements:
    """Everything one cluster must allow, plus notes on what is deliberately not needed."""

    permissions: tuple[Permission, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ScopeNeed:
    """A Slack bot scope, what needs it, and how bad its absence is."""

    scope: str
    needed_by: str
    severity: Severity = "error"


# -- Slack ---------------------------------------------------------------------------

CHANNEL_CHECK = (
    "check-config: that the alert and audit channels exist and opsbot is in them (conversations.info)"
)


def posting_channels(settings: Settings) -> dict[str, tuple[str, ...]]:
    """The channels opsbot posts to on its own (alerts, the audit mirror) → their key paths.

    It can only post where it is a member, and nobody would notice until an alert went
    missing: `opsbot check-config` asks Slack about each (conversations.info).
    """
    found: dict[str, tuple[str, ...]] = {}
    for slack_id in slack_ids(settings):
        alert = slack_id.path.startswith("alerts.") and settings.alerts.enabled
        if alert or slack_id.path == "approvals.audit_channel":
            found[slack_id.value] = (*found.get(slack_id.value, ()), slack_id.path)
    return found


def required_scopes(settings: Settings) -> tuple[ScopeNeed, ...]:
    """The bot scopes of the Web API methods and events opsbot uses with this config."""
    needs = [
        ScopeNeed("chat:write", "replies, approval cards and alerts (chat.postMessage, chat.update)"),
        ScopeNeed("app_mentions:read", "@opsbot mentions (app_mention events)"),
        ScopeNeed("im:history", "commands sent as direct messages (message.im events)"),
        ScopeNeed("commands", f"the {settings.slack.command} slash command"),
        ScopeNeed("files:write", "long output (logs, describe) as files (files.uploadV2)"),
        ScopeNeed(
            "users:read", "display names in the audit trail (users.info; ids are kept anyway)", "warning"
        ),
    ]
    if any(binding.usergroups for binding in settings.policy.bindings):
        needs.append(ScopeNeed("usergroups:read", "roles bound to user groups (usergroups.users.list)"))
    if settings.alerts.enabled:
        why = "after a restart, finding an alert already posted instead of posting it twice"
        needs.append(ScopeNeed("channels:history", f"{why} (conversations.history)", "warning"))
        needs.append(ScopeNeed("groups:history", f"{why} in private channels", "warning"))
    if posting_channels(settings):
        # Only the doctor asks; the bot runs without them (check-config then skips that check).
        needs.append(ScopeNeed("channels:read", CHANNEL_CHECK, "warning"))
        needs.append(ScopeNeed("groups:read", f"{CHANNEL_CHECK}, for private channels", "warning"))
    return tuple(needs)


# -- Kubernetes ----------------------------------------------------------------------


def _is_literal(pattern: str) -> bool:
    return not any(char in pattern for char in "*?[]!")


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def config_namespaces(settings: Settings, cluster: str) -> list[str]:
    """The namespaces the config names for commands on `cluster`, in config order."""
    names = [settings.default_namespace]
    names.extend(
        binding.namespace
        for binding in settings.channels.values()
        if binding.namespace and binding.cluster in (None, cluster)
    )
    names.extend(settings.watch.namespaces or [])
    return list(dict.fromkeys(names))


@cache
def write_commands() -> frozenset[str]:
    """The mutating commands: what only they need comes from the operate component."""
    return frozenset(spec.name for spec in build_registry().specs() if spec.mutating)


def for_writes_only(permission: Permission) -> bool:
    """Needed by `scale`/`restart` and nothing else (so not by the base's read-only Role)."""
    return bool(permission.needed_by) and set(permission.needed_by) <= write_commands()


def _rules(permissions: Sequence[Permission]) -> str:
    """One RBAC rule per target, its verbs merged: ``{…verbs: ["get", "list"]}, {…}``."""
    targets: dict[tuple[str, str, str | None, bool, str], list[Permission]] = {}
    for permission in permissions:
        targets.setdefault(permission.target, []).append(permission)
    return ", ".join(same[0].rule(sorted({p.verb for p in same})) for same in targets.values())


def fix_for(missing: Sequence[Permission]) -> str:
    """What to apply or edit so that `missing` (one scope: a namespace, all namespaces or
    cluster-scoped) are granted: the rules, and the manifest each belongs in."""
    namespaced = [p for p in missing if p.namespace is not None]
    reads = [p for p in namespaced if not for_writes_only(p)]
    writes = [p for p in namespaced if for_writes_only(p)]
    cluster = [p for p in missing if p.namespace is None and p.verb != "impersonate"]
    impersonate = [p for p in missing if p.verb == "impersonate"]
    fixes: list[str] = []
    if reads:
        namespace = reads[0].namespace
        fixes.append(
            f"add {_rules(reads)} to opsbot's Role in namespace {namespace} ({BASE_ROLE}; every other "
            f"namespace needs its own Role + RoleBinding: copy both with metadata.namespace: {namespace})"
        )
    if writes:
        namespace = writes[0].namespace
        fixes.append(
            f"grant {_rules(writes)} with the Role opsbot-operate in namespace {namespace}: enable "
            f"{OPERATE} ({ENABLE_COMPONENT}; read what it implies there), which ships it for namespace "
            f"default - for other namespaces copy its role.yaml and rolebinding.yaml with "
            f"metadata.namespace: {namespace}"
        )
    if cluster:
        fix = (
            f"enable {CLUSTER_WIDE} ({ENABLE_COMPONENT}); if it is enabled, add {_rules(cluster)} "
            "to its ClusterRole"
        )
        if any(not p.cluster_scoped and WATCHES in p.needed_by for p in cluster):
            fix += ", or list the namespaces to watch in watch.namespaces"
        fixes.append(fix)
    if impersonate:
        fixes.append(
            f"add {_rules(impersonate)} to the ClusterRole in {IMPERSONATION} and enable that component "
            f"({ENABLE_COMPONENT}), or set impersonation.enabled: false"
        )
    return "; and ".join(fixes)


class _Collector:
    """Merges permissions needed for several reasons: one entry each, the worst severity."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str, str, str, str | None, str], Permission] = {}

    def add(
        self,
        call: ApiCall,
        namespace: str | None,
        reason: str,
        severity: Severity,
        *,
        verb: str | None = None,
        name: str = "",
    ) -> None:
        permission = Permission(
            verb=verb or call.verb,
            resource=call.resource,
            group=call.group,
            subresource=call.subresource,
            namespace=None if call.cluster_scoped else namespace,
            name=name,
            cluster_scoped=call.cluster_scoped,
            severity=severity,
            needed_by=(reason,),
        )
        known = self._found.get(permission.key)
        if known is None:
            self._found[permission.key] = permission
            return
        needed_by = known.needed_by if reason in known.needed_by else (*known.needed_by, reason)
        worst: Severity = "error" if "error" in (known.severity, severity) else "warning"
        self._found[permission.key] = replace(known, needed_by=needed_by, severity=worst)

    def permissions(self) -> tuple[Permission, ...]:
        """Grouped by scope: namespaces in the order met, then all namespaces, then cluster-scoped."""
        order = {p.namespace: index for index, p in reversed(list(enumerate(self._found.values())))}
        return tuple(
            sorted(
                self._found.values(),
                key=lambda p: (p.namespace is None, p.cluster_scoped, order[p.namespace]),
            )
        )


def _granted_roles(settings: Settings, cluster: str) -> list[tuple[str, RoleSettings]]:
    """The roles someone holds on `cluster`: the bound ones, or viewer by the default policy."""
    if not settings.policy.bindings:
        return [("viewer", BUILTIN_ROLES["viewer"])]
    roles = {**BUILTIN_ROLES, **settings.policy.roles}
    bound = dict.fromkeys(binding.role for binding in settings.policy.bindings)
    return [(name, roles[name]) for name in bound if _matches(cluster, roles[name].clusters)]


def _impersonated(settings: Settings, role: str) -> bool:
    """Do requests allowed through `role` run as the Slack user (so not as opsbot)?"""
    imp = settings.impersonation
    return imp.enabled and (imp.roles is None or role in imp.roles)


def cluster_requirements(settings: Settings, cluster: str) -> ClusterRequirements:
    """The permissions opsbot's credentials need on `cluster`, with this config."""
    found = _Collector()
    notes: list[str] = []
    watch_scopes: list[str | None] = [*settings.watch.namespaces] if settings.watch.namespaces else [None]

    if settings.alerts.enabled:
        for resource in watched_resources(enabled_kinds(settings.alerts)):
            call = WATCHED[resource]
            # Without nodes only node alerts are lost; without pods or deployments, most.
            severity: Severity = "warning" if call.cluster_scoped else "error"
            for namespace in [None] if call.cluster_scoped else watch_scopes:
                found.add(call, namespace, WATCHES, severity)
                found.add(call, namespace, WATCHES, severity, verb="watch")
        for method in ALERT_DETAIL_METHODS:
            for call in api_calls()[method]:
                for namespace in watch_scopes:
                    found.add(call, namespace, ALERT_DETAILS, "warning")
    else:
        notes.append("alerts are off (alerts.enabled: false): no watches, so no permissions for them")

    _command_requirements(settings, cluster, found, notes)
    for call, namespace, severity, verb in release_needs(settings, cluster):
        found.add(call, namespace, FOLLOW_UP, severity, verb=verb or None)
    for call, namespace, severity, _verb in ha_needs(settings, cluster):
        found.add(call, namespace, LEADER_ELECTION, severity)

    if settings.impersonation.enabled:
        _impersonation_requirements(settings, found)
    return ClusterRequirements(found.permissions(), tuple(notes))


def commands_kube_uses() -> dict[str, tuple[KubeUse, ...]]:
    """Each command that touches a cluster → the `KubePort` methods it declares."""
    return {spec.name: spec.kube for spec in build_registry().specs() if spec.uses_cluster}


def _command_requirements(settings: Settings, cluster: str, found: _Collector, notes: list[str]) -> None:
    registry = build_registry()
    policy = build_policy(settings.policy, registry)
    grants = _granted_roles(settings, cluster)
    namespaces = config_namespaces(settings, cluster)
    specs = {spec.name: spec for spec in registry.specs()}
    command_uses = commands_kube_uses()
    kube_methods = api_calls()
    writes = [name for name in command_uses if specs[name].mutating]
    as_user: set[str] = set()
    performed_writes: set[str] = set()
    unchecked: dict[str, list[str]] = {}
    for command, uses in command_uses.items():
        spec = specs[command]
        for role_name, role in grants:
            if not policy.verb_matches(command, role.verbs):
                continue
            if _impersonated(settings, role_name):
                as_user.add(command)
                continue
            if spec.mutating:
                performed_writes.add(command)
            role_namespaces = [ns for ns in namespaces if _matches(ns, role.namespaces)]
            role_namespaces += [ns for ns in role.namespaces if _is_literal(ns) and ns not in role_namespaces]
            if not role_namespaces and not all(use.everywhere for use in uses):
                unchecked.setdefault(role_name, []).append(command)
            for use in uses:
                for call in kube_methods[use.method]:
                    if use.everywhere:
                        found.add(call, None, command, "warning")
                        continue
                    for namespace in role_namespaces:
                        found.add(call, namespace, command, "error")
                    if ALL in role.namespaces and ALL_NAMESPACES in spec.options:
                        found.add(call, None, f"{command} -A", "warning")
    roles = {**BUILTIN_ROLES, **settings.policy.roles}
    notes.extend(
        f"{', '.join(commands)}: role {role} allows them only in namespaces "
        f"{', '.join(roles[role].namespaces)}, none of which the config names; not checked"
        for role, commands in unchecked.items()
    )
    run_as_user = [name for name in writes if name not in performed_writes and name in as_user]
    ungranted = [name for name in writes if name not in performed_writes and name not in as_user]
    if run_as_user:
        notes.append(
            f"writes ({', '.join(run_as_user)}): not needed from opsbot: they run as the Slack user "
            "(impersonation), whose own RBAC applies"
        )
    if ungranted and not settings.policy.bindings:
        notes.append(
            f"writes ({', '.join(ungranted)}): not needed: no policy.bindings, so nobody may run "
            "mutating commands (the secure default)"
        )
    elif ungranted:
        notes.append(
            f"writes ({', '.join(ungranted)}): not needed: no role bound in policy.bindings grants "
            f"them on cluster {cluster}"
        )
    reads = sorted(as_user - set(writes))
    if reads:
        notes.append(
            f"{', '.join(reads)}: run as the Slack user (impersonation); the people's own RBAC "
            "applies and is not checked here"
        )


def _impersonation_requirements(settings: Settings, found: _Collector) -> None:
    imp = settings.impersonation
    why = "impersonation"
    found.add(ApiCall("impersonate", "users", cluster_scoped=True), None, why, "error")
    groups = list(imp.groups)
    if imp.include_usergroups:
        groups += [
            f"{imp.user_prefix}{group}"
            for binding in settings.policy.bindings
            for group in binding.usergroups
        ]
    for group in dict.fromkeys(groups):
        found.add(ApiCall("impersonate", "groups", cluster_scoped=True), None, why, "error", name=group)
