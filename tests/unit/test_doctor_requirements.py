"""What `opsbot check-config` demands from the cluster and from Slack, derived from the config.

Also keeps the doctor's tables honest: they must match what the code really calls
(KubeClient methods, command handlers, the watches, the alert details, the Slack Web API).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from opsbot.alerts.detectors import DETECTORS
from opsbot.commands.catalog import build_registry
from opsbot.config import Settings, parse_settings
from opsbot.core.resources import RESOURCES
from opsbot.doctor.release_needs import FLUX_METHODS, FOLLOW_METHODS
from opsbot.doctor.requirements import (
    ALERT_DETAIL_METHODS,
    ALERT_DETAILS,
    WATCHED,
    WATCHES,
    Permission,
    cluster_requirements,
    commands_kube_uses,
    fix_for,
    posting_channels,
    required_scopes,
)
from opsbot.kube import client as kube_client
from opsbot.ports import api_calls, lease_api_calls

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "opsbot"
SELF_CHECKS = {"server_version", "whoami", "can_i"}  # the doctor's own questions


def settings(**overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "clusters": {"prod": {"in_cluster": True}},
        "alerts": {"default_channel": "C0ALERTS01"},
    }
    data.update(overrides)
    return parse_settings(data)


def needed(config: Settings, cluster: str = "prod") -> dict[tuple[str, str, str | None, str], Permission]:
    """(verb, resource path, namespace, name) -> Permission."""
    return {
        (p.verb, p.resource_path, p.namespace, p.name): p
        for p in cluster_requirements(config, cluster).permissions
    }


def notes(config: Settings, cluster: str = "prod") -> str:
    return "\n".join(cluster_requirements(config, cluster).notes)


OPERATOR = {"bindings": [{"role": "operator", "users": ["U0BOB0001"]}]}


# -- watches -----------------------------------------------------------------------------


def test_watching_every_namespace_needs_cluster_wide_list_and_watch_of_pods_and_deployments() -> None:
    found = needed(settings())
    for verb in ("list", "watch"):
        assert found[(verb, "pods", None, "")].severity == "error"
        assert found[(verb, "deployments", None, "")].severity == "error"
        assert WATCHES in found[(verb, "pods", None, "")].needed_by
    assert ("watch", "pods", "default", "") not in found


def test_watched_namespaces_are_checked_one_by_one_and_not_cluster_wide() -> None:
    found = needed(settings(watch={"namespaces": ["web", "payments"]}))
    for namespace in ("web", "payments"):
        assert found[("watch", "pods", namespace, "")].severity == "error"
        assert found[("watch", "deployments", namespace, "")].needed_by == (WATCHES,)
        assert found[("get", "pods/log", namespace, "")].needed_by[0] == ALERT_DETAILS
    assert ("watch", "pods", None, "") not in found


def test_node_watch_is_only_a_warning() -> None:
    found = needed(settings(watch={"namespaces": ["web"]}))
    nodes = found[("watch", "nodes", None, "")]
    assert nodes.severity == "warning" and nodes.cluster_scoped and nodes.scope == "cluster-scoped"


def test_a_resource_no_enabled_detector_reads_is_not_watched_so_not_required() -> None:
    node_kinds = {"NodeNotReady": False, "NodePressure": False, "NodeUnschedulable": False}
    found = needed(settings(alerts={"default_channel": "C0ALERTS01", "kinds": node_kinds}))
    assert ("watch", "nodes", None, "") not in found
    assert found[("watch", "pods", None, "")].needed_by == (WATCHES,)


def test_alerts_off_need_no_watch_and_say_so() -> None:
    config = settings(alerts={"enabled": False})
    assert not any(p.verb == "watch" for p in needed(config).values())
    assert "alerts are off" in notes(config)


def test_alert_details_alone_are_warnings_but_the_worst_severity_wins() -> None:
    config = settings(
        watch={"namespaces": ["jobs", "web"]},
        default_namespace="web",
        policy={"bindings": [{"role": "viewer", "users": ["U0ALICE01"]}], "roles": {"nobody": {"verbs": []}}},
    )
    found = needed(config)
    assert found[("get", "pods/log", "web", "")].severity == "error"  # `logs` in web, too
    assert (
        found[("get", "pods/log", "jobs", "")].severity == "error"
    )  # watch.namespaces are command namespaces
    alerts_only = needed(
        settings(
            watch={"namespaces": ["jobs"]},
            policy={
                "roles": {"nobody": {"verbs": []}},
                "bindings": [{"role": "nobody", "users": ["U0ALICE01"]}],
            },
        )
    )
    assert alerts_only[("get", "pods/log", "jobs", "")].severity == "warning"
    assert alerts_only[("list", "events", "jobs", "")].needed_by == (ALERT_DETAILS,)


# -- commands ----------------------------------------------------------------------------


def test_default_policy_needs_reads_in_the_config_namespaces_and_no_writes() -> None:
    config = settings(
        alerts={"enabled": False},
        channels={"C0WEB00001": {"namespace": "web"}, "C0STG00001": {"cluster": "staging", "namespace": "x"}},
        clusters={"prod": {"in_cluster": True}, "staging": {"in_cluster": True}},
        default_cluster="prod",
    )
    found = needed(config)
    for namespace in ("default", "web"):
        for verb, resource in (
            ("list", "pods"),
            ("get", "pods"),
            ("get", "pods/log"),
            ("list", "events"),
            ("list", "deployments"),
            ("get", "deployments"),
            ("list", "replicasets"),
        ):
            assert found[(verb, resource, namespace, "")].severity == "error", (verb, resource, namespace)
    assert not any(p.namespace == "x" for p in found.values())  # that channel is bound to staging
    assert not any(p.verb == "patch" for p in found.values())
    assert ("get", "deployments/scale", "default", "") not in found
    assert "writes (promote, restart, rollback, scale): not needed: no policy.bindings" in notes(config)


def test_nodes_and_all_namespace_reads_are_optional() -> None:
    found = needed(settings(alerts={"enabled": False}))
    assert found[("list", "nodes", None, "")].severity == "warning"
    assert found[("get", "nodes", None, "")].needed_by == ("describe",)
    assert found[("list", "pods", None, "")].severity == "warning"
    assert "pods -A" in found[("list", "pods", None, "")].needed_by


def test_bound_operator_needs_patch_on_scale_and_on_deployments() -> None:
    config = settings(policy=OPERATOR, alerts={"enabled": False})
    found = needed(config)
    assert found[("patch", "deployments/scale", "default", "")].needed_by == ("scale",)
    assert found[("get", "deployments/scale", "default", "")].needed_by == ("scale",)
    assert set(found[("patch", "deployments", "default", "")].needed_by) == {"promote", "restart", "rollback"}
    assert found[("patch", "deployments", "default", "")].severity == "error"
    assert "writes" not in notes(config)


def test_bindings_without_a_write_role_need_no_patch() -> None:
    config = settings(policy={"bindings": [{"role": "viewer", "channels": ["C0OPS0001"]}]})
    assert not any(p.verb == "patch" for p in needed(config).values())
    assert "no role bound in policy.bindings grants them on cluster prod" in notes(config)


def test_a_role_limited_to_namespaces_needs_writes_only_there() -> None:
    config = settings(
        alerts={"enabled": False},
        policy={
            "roles": {"web-ops": {"verbs": ["scale"], "namespaces": ["web"]}},
            "bindings": [{"role": "web-ops", "users": ["U0BOB0001"]}],
        },
    )
    found = needed(config)
    assert ("patch", "deployments/scale", "web", "") in found
    assert ("patch", "deployments/scale", "default", "") not in found
    assert not any(
        p.verb == "patch" and p.resource == "deployments" and not p.subresource for p in found.values()
    )
    assert ("list", "pods", "default", "") not in found  # the role grants no reads
    assert "writes (promote, restart, rollback): not needed" in notes(config)


def test_a_role_limited_to_other_clusters_needs_nothing_here() -> None:
    config = settings(
        clusters={"prod": {"in_cluster": True}, "staging": {"in_cluster": True}},
        default_cluster="prod",
        alerts={"enabled": False},
        policy={
            "roles": {"stage-ops": {"verbs": ["read", "write"], "clusters": ["staging"]}},
            "bindings": [{"role": "stage-ops", "users": ["U0BOB0001"]}],
        },
    )
    assert needed(config, "prod") == {}
    assert ("patch", "deployments/scale", "default", "") in needed(config, "staging")


def test_globbed_role_namespaces_match_the_config_namespaces() -> None:
    config = settings(
        alerts={"enabled": False},
        channels={"C0WEB00001": {"namespace": "web-eu"}, "C0DB000001": {"namespace": "db"}},
        policy={
            "roles": {"web-ops": {"verbs": ["restart"], "namespaces": ["web-*"]}},
            "bindings": [{"role": "web-ops", "users": ["U0BOB0001"]}],
        },
    )
    patched = {p.namespace for p in needed(config).values() if p.verb == "patch"}
    assert patched == {"web-eu"}


# -- impersonation -----------------------------------------------------------------------


def test_impersonation_needs_impersonate_on_users_and_each_group_sent() -> None:
    config = settings(
        impersonation={"enabled": True, "groups": ["opsbot:users"]},
        policy={"bindings": [{"role": "operator", "usergroups": ["S0SRE0001"]}]},
    )
    found = needed(config)
    assert found[("impersonate", "users", None, "")].severity == "error"
    assert ("impersonate", "groups", None, "opsbot:users") in found
    assert ("impersonate", "groups", None, "slack:S0SRE0001") in found


def test_commands_run_as_the_user_need_no_service_account_permissions() -> None:
    config = settings(impersonation={"enabled": True}, policy=OPERATOR, watch={"namespaces": ["web"]})
    found = needed(config)
    assert not any(p.verb == "patch" for p in found.values())
    assert ("list", "replicasets", "default", "") not in found
    assert ("watch", "pods", "web", "") in found  # the watches stay opsbot's own
    text = notes(config)
    assert "writes (promote, restart, rollback, scale): not needed from opsbot: they run as the Slack user" in text
    assert "describe" in text and "the people's own RBAC" in text


def test_impersonating_only_some_roles_keeps_the_others_on_opsbot() -> None:
    config = settings(
        alerts={"enabled": False},
        impersonation={"enabled": True, "roles": ["operator"]},
        policy={
            "bindings": [
                {"role": "operator", "users": ["U0BOB0001"]},
                {"role": "viewer", "channels": ["C0OPS0001"]},
            ]
        },
    )
    found = needed(config)
    assert ("list", "pods", "default", "") in found  # viewer's reads are opsbot's
    assert not any(p.verb == "patch" for p in found.values())  # operator's writes are Bob's


def test_permissions_for_several_reasons_are_asked_once_with_every_reason() -> None:
    permissions = cluster_requirements(settings(watch={"namespaces": ["default"]}), "prod").permissions
    keys = [p.key for p in permissions]
    assert len(keys) == len(set(keys))
    pods = next(p for p in permissions if p.key == ("list", "", "pods", "", "default", ""))
    assert pods.needed_by[0] == WATCHES and {"pods", "status", "restart"} & set(pods.needed_by) == {
        "pods",
        "status",
    }


# -- fixes -------------------------------------------------------------------------------


def test_fix_for_a_namespaced_read_names_the_rule_and_the_base_role() -> None:
    permission = Permission("list", "pods", namespace="web", needed_by=("pods", "restart"))
    fix = fix_for([permission])
    assert fix.startswith('add {apiGroups: [""], resources: ["pods"], verbs: ["list"]}')
    assert "manifests/base/role.yaml" in fix and "namespace web" in fix
    assert "operate" not in fix


def test_fix_for_what_only_writes_need_names_the_operate_component() -> None:
    permissions = [
        Permission(verb, "deployments", "apps", "scale", namespace="web", needed_by=("scale",))
        for verb in ("patch", "get")
    ]
    fix = fix_for(permissions)
    assert fix.startswith(
        'grant {apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "patch"]} '
        "with the Role opsbot-operate in namespace web: enable manifests/components/operate/"
    )
    assert "metadata.namespace: web" in fix and "manifests/base/role.yaml" not in fix


def test_fix_for_several_verbs_is_one_rule() -> None:
    missing = [Permission(verb, "nodes", cluster_scoped=True) for verb in ("watch", "get", "list")]
    fix = fix_for(missing)
    assert '{apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"]}' in fix
    assert (
        "manifests/components/cluster-wide/" in fix and "components:` in manifests/kustomization.yaml" in fix
    )


def test_fix_for_an_all_namespace_watch_offers_watch_namespaces() -> None:
    fix = fix_for([Permission("watch", "pods", needed_by=(WATCHES,))])
    assert "manifests/components/cluster-wide/" in fix and "watch.namespaces" in fix


def test_fix_for_impersonation_names_the_group_and_the_component() -> None:
    fix = fix_for([Permission("impersonate", "groups", name="slack:S0SRE0001", cluster_scoped=True)])
    assert 'resources: ["groups"], verbs: ["impersonate"], resourceNames: ["slack:S0SRE0001"]}' in fix
    assert "manifests/components/impersonation/" in fix


# -- Slack scopes ------------------------------------------------------------------------


def manifest_scopes() -> set[str]:
    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text(encoding="utf-8"))
    return set(manifest["oauth_config"]["scopes"]["bot"])


EVERYTHING_ON = {
    "policy": {"bindings": [{"role": "operator", "usergroups": ["S0SRE0001"]}]},
    "impersonation": {"enabled": True},
}


def test_the_app_manifest_asks_for_exactly_the_scopes_opsbot_can_need() -> None:
    """Every scope some config needs, and nothing else (least privilege in Slack, too)."""
    wanted = {need.scope for need in required_scopes(settings(**EVERYTHING_ON))}
    assert manifest_scopes() == wanted


def test_scopes_follow_the_features() -> None:
    base = {need.scope for need in required_scopes(settings(alerts={"enabled": False}))}
    assert {"chat:write", "app_mentions:read", "im:history", "commands", "files:write", "users:read"} == base
    full = {need.scope for need in required_scopes(settings(**EVERYTHING_ON))}
    assert full - base == {
        "usergroups:read",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
    }
    audit_only = settings(alerts={"enabled": False}, approvals={"audit_channel": "C0AUDIT001"})
    assert {need.scope for need in required_scopes(audit_only)} - base == {"channels:read", "groups:read"}


def test_channel_scopes_are_only_for_the_doctor_so_only_warnings() -> None:
    needs = {need.scope: need for need in required_scopes(settings())}
    for scope in ("channels:read", "groups:read"):
        assert needs[scope].severity == "warning"
        assert needs[scope].needed_by.startswith("check-config: ")


def test_posting_channels_are_the_alert_and_audit_channels_with_their_key_paths() -> None:
    config = settings(
        alerts={"default_channel": "C0ALERTS01", "rules": [{"channel": "C0PAY0001"}, {"channel": "C0ALERTS01"}]},
        approvals={"audit_channel": "C0AUDIT001"},
        channels={"C0WEB00001": {"namespace": "web"}},
    )
    assert posting_channels(config) == {
        "C0AUDIT001": ("approvals.audit_channel",),
        "C0ALERTS01": ("alerts.default_channel", "alerts.rules.1.channel"),
        "C0PAY0001": ("alerts.rules.0.channel",),
    }
    quiet = settings(alerts={"enabled": False, "default_channel": "C0ALERTS01"})
    assert posting_channels(quiet) == {}


# Web API method (slack_sdk client attribute) -> the bot scope it needs.
WEB_API_SCOPES: dict[str, str | None] = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "files_upload_v2": "files:write",
    "users_info": "users:read",
    "usergroups_users_list": "usergroups:read",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "conversations_info": "channels:read",
    "chat_getPermalink": None,  # links to alert threads in Alertmanager silences and signals
    # The doctor's own questions: auth.test needs no scope, apps.connections.open the app
    # token's connections:write (not a bot scope).
    "auth_test": None,
    "apps_connections_open": None,
}
NOT_METHODS = {"base_url"}


def client_calls(path: Path, receivers: set[str]) -> set[str]:
    """Attributes used on ``<x>.<receiver>`` or ``<receiver>``: ``self._client.users_info(…)``,
    ``ctx.kube.list_pods(…)``, or ``run(kube.read_pod_log, …)``."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute):
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
            if name in receivers:
                used.add(node.attr)
    return used


def test_every_web_api_method_opsbot_calls_has_its_scope_required() -> None:
    called: set[str] = set()
    for path in (PACKAGE / "slack").rglob("*.py"):
        called |= client_calls(path, {"_client", "client"})
    called |= client_calls(PACKAGE / "doctor" / "checks.py", {"bot", "app"}) - NOT_METHODS
    assert "conversations_info" in called
    unknown = called - set(WEB_API_SCOPES)
    assert not unknown, f"map these Web API methods to their scope (and require it): {unknown}"
    wanted = {need.scope for need in required_scopes(settings(**EVERYTHING_ON))}
    assert {WEB_API_SCOPES[method] for method in called} - {None} <= wanted


# -- drift guards: the tables match the code ----------------------------------------------


def test_every_api_calling_kubeclient_method_declares_its_permission_on_the_port() -> None:
    tree = ast.parse(inspect.getsource(kube_client.KubeClient))
    helpers = {"_json", "_raw", "_get", "_items", "_rows", "_pages", "_patch_deployment"}
    calling: set[str] = set()
    for node in tree.body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            used = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            if used & helpers:
                calling.add(node.name)
    assert calling - SELF_CHECKS == set(api_calls()) | set(lease_api_calls())


def command_helpers(path: Path) -> list[ModuleType]:
    """The modules of `opsbot.commands` (outside the catalog) that `path` imports and that
    call the cluster for it: they declare what they call in ``KUBE``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opsbot.commands"):
            names.add(str(node.module))
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    helpers = []
    for name in sorted(names):
        if ".catalog" in name or not (ROOT / (name.replace(".", "/") + ".py")).is_file():
            continue
        module = importlib.import_module(name)
        if hasattr(module, "KUBE"):
            helpers.append(module)
    return helpers


def helper_calls(module: ModuleType) -> set[str]:
    return {use.method for use in module.KUBE}


def test_every_command_module_calls_exactly_the_methods_its_commands_declare() -> None:
    """What a command module calls itself, plus what the helpers it uses call (their ``KUBE``)."""
    specs = build_registry().specs()
    uses = commands_kube_uses()
    assert {spec.name for spec in specs if spec.kube} <= set(uses)
    modules: dict[str, set[str]] = {}
    for spec in specs:
        callables = [spec.handler, *([spec.execute] if spec.execute else [])]
        for function in callables:
            modules.setdefault(function.__module__, set()).update(u.method for u in spec.kube)
    for module, listed in modules.items():
        path = ROOT / (module.replace(".", "/") + ".py")
        helped = set().union(*(helper_calls(helper) for helper in command_helpers(path)))
        used = client_calls(path, {"kube"}) | helped
        for delegate in DELEGATES.get(module, ()):
            used |= client_calls(PACKAGE / delegate, {"kube"}) - {"cluster"}  # a property, not a call
        assert used == listed, module


# Command modules that make their change through another module, which calls the cluster there.
DELEGATES = {"opsbot.commands.catalog.releases": ("releases/direct.py",)}


def test_command_helpers_call_exactly_what_they_declare() -> None:
    helpers = {helper for path in (PACKAGE / "commands").rglob("*.py") for helper in command_helpers(path)}
    assert helpers, "no command helper calls the cluster: drop this test"
    for helper in helpers:
        assert helper.__file__ is not None
        assert client_calls(Path(helper.__file__), {"kube"}) == helper_calls(helper), helper.__name__


def test_the_release_follow_up_calls_the_methods_the_doctor_lists() -> None:
    """The tracker (and the service's HelmRelease read for rollback) use opsbot's own
    credentials: what release_needs asks check-config about."""
    assert client_calls(PACKAGE / "releases" / "tracker.py", {"kube"}) == {*FOLLOW_METHODS, *FLUX_METHODS.values()}
    assert client_calls(PACKAGE / "releases" / "service.py", {"kube"}) == {"get_flux_helmrelease"}


def test_every_declared_method_exists_on_the_port() -> None:
    declared = {use.method for uses in commands_kube_uses().values() for use in uses}
    assert declared <= set(api_calls())


def test_watched_resources_are_what_the_detectors_read_as_the_resources_table_says() -> None:
    assert set(WATCHED) == {spec.resource for spec in DETECTORS}
    for name, call in WATCHED.items():
        resource = RESOURCES[name]
        assert (call.resource, call.group, call.cluster_scoped) == (name, resource.group, not resource.namespaced)


def test_alert_details_use_the_methods_listed() -> None:
    assert client_calls(PACKAGE / "alerts" / "enrichment.py", {"kube"}) == set(ALERT_DETAIL_METHODS)


@pytest.mark.parametrize("module", ["requirements", "placeholders", "report"])
def test_the_doctors_decisions_do_no_io(module: str) -> None:
    tree = ast.parse((PACKAGE / "doctor" / f"{module}.py").read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    forbidden = ("slack_sdk", "slack_bolt", "kubernetes", "urllib3", "aiohttp", "opsbot.kube", "opsbot.slack")
    assert not {name for name in imported if name.startswith(forbidden)}
