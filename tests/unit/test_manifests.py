"""Install artefacts: kustomize manifests, Containerfile and Slack app manifest.

Everything here runs offline: Kubernetes objects are validated against the JSON
schemas bundled with kubernetes-validate (strict mode: unknown fields fail).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
CLUSTER_WIDE = MANIFESTS / "cluster-wide"
IMPERSONATION = MANIFESTS / "impersonation"
CONTAINERFILE = ROOT / "Containerfile"
SLACK_APP_MANIFEST = ROOT / "slack-app-manifest.yaml"
EXAMPLE_SECRET = MANIFESTS / "secret.example.yaml"
CONFIG_FILE = MANIFESTS / "config.yaml"

# Newest Kubernetes minor kubernetes-validate 1.37 ships schemas for.
KUBERNETES_VERSION = "1.37"

OPSBOT_NAMESPACE = "opsbot"
SERVICE_ACCOUNT = "opsbot"
SLACK_SECRET = "opsbot-slack"
CONFIG_MAP = "opsbot-config"
CONFIG_PATH = "/etc/opsbot/config.yaml"

# YAML files under manifests/ that are not Kubernetes objects applied by kustomize.
NOT_KUBERNETES_OBJECTS = {"kustomization.yaml", "config.yaml", "secret.example.yaml"}
CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


Doc = dict[str, Any]


def load_docs(path: Path) -> list[Doc]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert all(isinstance(doc, dict) for doc in docs), path
    return docs


def load_one(path: Path) -> Doc:
    docs = load_docs(path)
    assert len(docs) == 1, path
    return docs[0]


def kubernetes_files() -> list[Path]:
    return sorted(p for p in MANIFESTS.rglob("*.yaml") if p.name not in NOT_KUBERNETES_OBJECTS)


def kustomization_files() -> list[Path]:
    return sorted(MANIFESTS.rglob("kustomization.yaml"))


def validate(doc: Doc) -> None:
    version = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert version == KUBERNETES_VERSION


def resources_of(kustomization_dir: Path) -> list[tuple[Path, Doc]]:
    """Objects a kustomization installs, before transformers (recursing into bases)."""
    kustomization = load_one(kustomization_dir / "kustomization.yaml")
    found: list[tuple[Path, Doc]] = []
    for entry in kustomization.get("resources", []):
        target = (kustomization_dir / entry).resolve()
        if target.is_dir():
            found.extend(resources_of(target))
        else:
            found.extend((target, doc) for doc in load_docs(target))
    return found


def base_resources() -> list[Doc]:
    return [doc for _, doc in resources_of(MANIFESTS)]


def all_resources() -> list[Doc]:
    return [doc for path in kubernetes_files() for doc in load_docs(path)]


def the(kind: str, docs: list[Doc] | None = None) -> Doc:
    matches = [doc for doc in (docs if docs is not None else base_resources()) if doc["kind"] == kind]
    assert len(matches) == 1, f"expected exactly one {kind}, found {len(matches)}"
    return matches[0]


def deployment() -> Doc:
    return the("Deployment")


def pod_spec() -> Doc:
    spec: Doc = deployment()["spec"]["template"]["spec"]
    return spec


def container() -> Doc:
    containers = pod_spec()["containers"]
    assert len(containers) == 1
    only: Doc = containers[0]
    return only


def config() -> Doc:
    return load_one(CONFIG_FILE)


def namespace_transformer() -> Doc:
    kustomization = load_one(MANIFESTS / "kustomization.yaml")
    transformers = [yaml.safe_load(t) for t in kustomization.get("transformers", [])]
    matches = [t for t in transformers if t.get("kind") == "NamespaceTransformer"]
    assert len(matches) == 1
    only: Doc = matches[0]
    return only


def rbac_roles() -> list[Doc]:
    return [doc for doc in all_resources() if doc["kind"] in {"Role", "ClusterRole"}]


def rbac_roles_by_file() -> list[tuple[Path, Doc]]:
    return [
        (path, doc)
        for path in kubernetes_files()
        for doc in load_docs(path)
        if doc["kind"] in {"Role", "ClusterRole"}
    ]


def grants(role: Doc) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs, merged over all rules."""
    result: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                result.setdefault((group, resource), set()).update(rule["verbs"])
    return result


def all_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value] + [k for v in value.values() for k in all_keys(v)]
    if isinstance(value, list):
        return [k for item in value for k in all_keys(item)]
    return []


def slack_manifest() -> Doc:
    return load_one(SLACK_APP_MANIFEST)


# --- Kubernetes schema validation ------------------------------------------


def test_kubernetes_validate_ships_schemas_for_the_target_version() -> None:
    versions = kubernetes_validate.utils.all_versions()
    assert any(v.startswith(KUBERNETES_VERSION + ".") for v in versions)


@pytest.mark.parametrize("path", kubernetes_files(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_every_manifest_document_validates_against_the_kubernetes_schema(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path} has no documents"
    for doc in docs:
        validate(doc)


@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_every_kustomization_resource_exists_and_is_valid(path: Path) -> None:
    kustomization = load_one(path)
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"]
    for entry in kustomization["resources"]:
        target = (path.parent / entry).resolve()
        assert target.exists(), f"{path}: resource {entry} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{path}: {entry} is no kustomization"
            continue
        assert target.name not in NOT_KUBERNETES_OBJECTS, f"{path}: {entry} must not be a resource"
        for doc in load_docs(target):
            validate(doc)
    for generator in kustomization.get("configMapGenerator", []):
        for entry in generator.get("files", []):
            source = entry.split("=", 1)[-1]
            assert (path.parent / source).is_file(), f"{path}: generator file {source} missing"


@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_no_kustomization_includes_a_directory_containing_itself(path: Path) -> None:
    # kustomize rejects this ("cycle detected: candidate root ... contains
    # visited root ..."), e.g. manifests/cluster-wide/ with `resources: [../]`.
    for entry in load_one(path).get("resources", []):
        target = (path.parent / entry).resolve()
        assert target not in path.parent.resolve().parents, f"{path}: {entry}"
        assert target != path.parent.resolve(), f"{path}: {entry}"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_kustomize_build_renders_valid_objects(path: Path) -> None:
    """Render with kubectl's embedded kustomize (offline) and validate the output."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(path.parent)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert rendered
    for doc in rendered:
        validate(doc)
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "opsbot"
    if path.parent != MANIFESTS:
        return

    by_kind: dict[str, list[Doc]] = {}
    for doc in rendered:
        by_kind.setdefault(doc["kind"], []).append(doc)
    watched = set(config()["watch"]["namespaces"])
    for kind in ("Role", "RoleBinding"):
        assert {d["metadata"]["namespace"] for d in by_kind[kind]} == watched
    for kind in ("ServiceAccount", "Deployment", "ConfigMap"):
        assert [d["metadata"]["namespace"] for d in by_kind[kind]] == [OPSBOT_NAMESPACE]
    assert "Secret" not in by_kind
    # The generated ConfigMap gets a content hash; the Deployment must follow it.
    (config_map,) = by_kind["ConfigMap"]
    assert config_map["metadata"]["name"].startswith(CONFIG_MAP + "-")
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == config()
    (rendered_deployment,) = by_kind["Deployment"]
    volumes = rendered_deployment["spec"]["template"]["spec"]["volumes"]
    config_volume = next(v for v in volumes if v["name"] == "config")
    assert config_volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert rendered_deployment["spec"]["selector"] == deployment()["spec"]["selector"]


def test_every_manifest_file_is_installed_by_a_kustomization() -> None:
    installed = {p for k in kustomization_files() for p, _ in resources_of(k.parent)}
    orphans = [p for p in kubernetes_files() if p.resolve() not in installed]
    assert not orphans, f"not referenced by any kustomization: {orphans}"


def test_example_secret_is_valid_and_never_installed() -> None:
    secret = load_one(EXAMPLE_SECRET)
    validate(secret)
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["name"] == SLACK_SECRET
    assert secret["metadata"]["namespace"] == OPSBOT_NAMESPACE
    assert secret["stringData"] == {
        "bot-token": "REPLACE-ME-xoxb-token",
        "app-token": "REPLACE-ME-xapp-token",
    }
    for path in kustomization_files():
        assert "secret.example.yaml" not in str(load_one(path).get("resources", []))
    assert not any(doc["kind"] == "Secret" for _, doc in resources_of(CLUSTER_WIDE))
    assert "kubectl" in EXAMPLE_SECRET.read_text()
    assert "create secret generic" in EXAMPLE_SECRET.read_text()


def test_generated_config_map_is_valid() -> None:
    kustomization = load_one(MANIFESTS / "kustomization.yaml")
    generators = kustomization["configMapGenerator"]
    assert [g["name"] for g in generators] == [CONFIG_MAP]
    assert generators[0]["files"] == ["config.yaml"]
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP, "namespace": OPSBOT_NAMESPACE},
        "data": {"config.yaml": CONFIG_FILE.read_text()},
    }
    validate(config_map)


# --- kustomization / namespaces ---------------------------------------------


def test_opsbot_objects_go_to_the_opsbot_namespace_and_rbac_stays_in_watched_ones() -> None:
    kustomization = load_one(MANIFESTS / "kustomization.yaml")
    # A top-level `namespace:` would overwrite the Role's/RoleBinding's namespace.
    assert "namespace" not in kustomization
    transformer = namespace_transformer()
    assert transformer["apiVersion"] == "builtin"
    assert transformer["metadata"]["namespace"] == OPSBOT_NAMESPACE
    assert transformer["unsetOnly"] is True
    assert transformer["setRoleBindingSubjects"] == "none"

    assert the("Namespace")["metadata"]["name"] == OPSBOT_NAMESPACE
    watched = set(config()["watch"]["namespaces"])
    for doc in base_resources():
        if doc["kind"] in CLUSTER_SCOPED_KINDS:
            continue
        namespace = doc["metadata"].get("namespace") or OPSBOT_NAMESPACE
        if doc["kind"] in {"Role", "RoleBinding"}:
            assert namespace in watched, doc["metadata"]
        else:
            assert namespace == OPSBOT_NAMESPACE, doc["metadata"]


def test_kustomization_labels_everything_without_touching_selectors() -> None:
    for path in kustomization_files():
        labels = load_one(path)["labels"]
        assert labels == [{"pairs": {"app.kubernetes.io/name": "opsbot"}, "includeSelectors": False}], path


def test_opsbot_namespace_enforces_restricted_pod_security() -> None:
    labels = the("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --- RBAC ---------------------------------------------------------------------


def test_role_grants_no_access_to_secrets() -> None:
    roles = rbac_roles()
    assert {r["kind"] for r in roles} == {"Role", "ClusterRole"}
    for role in roles:
        for _group, resource in grants(role):
            assert resource.split("/")[0] != "secrets", role["metadata"]["name"]


def test_rbac_uses_no_wildcards() -> None:
    for role in rbac_roles():
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule
            for field in ("apiGroups", "resources", "verbs"):
                assert not any("*" in value for value in rule[field]), (role["metadata"], rule)


def test_rbac_grants_no_create_delete_exec_or_escalation() -> None:
    forbidden_verbs = {"create", "delete", "deletecollection", "escalate", "bind", "impersonate"}
    forbidden_resources = {"pods/exec", "pods/attach", "pods/portforward", "configmaps"}
    for path, role in rbac_roles_by_file():
        # `impersonate` only in the opt-in impersonation add-on (checked below).
        refused = forbidden_verbs - {"impersonate"} if path.parent == IMPERSONATION else forbidden_verbs
        for (_group, resource), verbs in grants(role).items():
            assert not verbs & refused, (role["metadata"]["name"], resource)
            assert resource not in forbidden_resources, role["metadata"]["name"]


def test_role_grants_only_what_the_commands_need() -> None:
    expected = {
        ("", "pods"): {"get", "list", "watch"},
        ("", "pods/log"): {"get"},
        ("", "events"): {"get", "list", "watch"},
        ("apps", "deployments"): {"get", "list", "watch", "patch"},
        ("apps", "deployments/scale"): {"get", "patch", "update"},
        ("apps", "replicasets"): {"get", "list", "watch"},
        ("apps", "statefulsets"): {"get", "list", "watch"},
        ("apps", "daemonsets"): {"get", "list", "watch"},
        ("batch", "jobs"): {"get", "list"},
    }
    roles = [doc for doc in base_resources() if doc["kind"] == "Role"]
    assert roles
    for role in roles:
        assert grants(role) == expected, role["metadata"]


def test_role_is_bound_to_the_opsbot_service_account_in_every_watched_namespace() -> None:
    docs = base_resources()
    service_account = the("ServiceAccount", docs)
    assert service_account["metadata"]["name"] == SERVICE_ACCOUNT
    for namespace in config()["watch"]["namespaces"]:
        roles = {
            d["metadata"]["name"]
            for d in docs
            if d["kind"] == "Role" and d["metadata"]["namespace"] == namespace
        }
        bindings = [d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] == namespace]
        assert roles, f"no Role in watched namespace {namespace}"
        assert len(bindings) == 1, f"expected one RoleBinding in {namespace}"
        binding = bindings[0]
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["roleRef"]["name"] in roles
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": OPSBOT_NAMESPACE}
        ]


def test_base_install_has_no_cluster_wide_rbac() -> None:
    kinds = {doc["kind"] for doc in base_resources()}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}


def test_cluster_wide_add_on_only_adds_read_only_cluster_rbac_for_opsbot() -> None:
    docs = resources_of(CLUSTER_WIDE)
    assert sorted(doc["kind"] for _, doc in docs) == ["ClusterRole", "ClusterRoleBinding"]

    cluster_role = the("ClusterRole", [doc for _, doc in docs])
    assert cluster_role["metadata"]["name"] == "opsbot-cluster-read"
    assert grants(cluster_role) == {
        ("", "nodes"): {"get", "list", "watch"},
        ("", "pods"): {"get", "list", "watch"},
        ("", "events"): {"get", "list", "watch"},
        ("", "pods/log"): {"get"},
        ("apps", "deployments"): {"get", "list", "watch"},
        ("apps", "replicasets"): {"get", "list", "watch"},
    }

    binding = the("ClusterRoleBinding", [doc for _, doc in docs])
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "opsbot-cluster-read",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": OPSBOT_NAMESPACE}
    ]
    assert "kubectl apply -k manifests/cluster-wide/" in (CLUSTER_WIDE / "kustomization.yaml").read_text()


def test_impersonate_is_granted_only_by_the_impersonation_add_on() -> None:
    granting = {
        path.relative_to(MANIFESTS)
        for path, role in rbac_roles_by_file()
        if any("impersonate" in verbs for verbs in grants(role).values())
    }
    assert granting == {Path("impersonation/clusterrole.yaml")}
    for kustomization in (MANIFESTS, CLUSTER_WIDE):
        for _, doc in resources_of(kustomization):
            assert "impersonate" not in json.dumps(doc), (kustomization, doc["metadata"])


def test_impersonation_add_on_only_lets_opsbot_impersonate_users_and_its_groups() -> None:
    docs = resources_of(IMPERSONATION)
    assert sorted(doc["kind"] for _, doc in docs) == ["ClusterRole", "ClusterRoleBinding"]
    assert all(path.parent == IMPERSONATION for path, _ in docs), "applied in addition to the base"

    cluster_role = the("ClusterRole", [doc for _, doc in docs])
    assert cluster_role["metadata"]["name"] == "opsbot-impersonate"
    assert grants(cluster_role) == {("", "users"): {"impersonate"}, ("", "groups"): {"impersonate"}}
    for rule in cluster_role["rules"]:
        assert rule["verbs"] == ["impersonate"]
        if "groups" in rule["resources"]:
            # Groups are named: never system: groups (system:masters is cluster-admin).
            assert rule["resources"] == ["groups"]
            assert "opsbot:users" in rule["resourceNames"]
            assert not [name for name in rule["resourceNames"] if name.startswith("system:")]
        else:
            assert rule["resources"] == ["users"]
        # Never service accounts, uids or extras: only plain user names and groups.
        assert not set(rule["resources"]) & {"serviceaccounts", "uids", "userextras"}

    binding = the("ClusterRoleBinding", [doc for _, doc in docs])
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "opsbot-impersonate",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": OPSBOT_NAMESPACE}
    ]
    text = (IMPERSONATION / "kustomization.yaml").read_text()
    assert "kubectl apply -k manifests/impersonation/" in text
    assert "impersonation.enabled: true" in text


def test_base_config_leaves_impersonation_off() -> None:
    # The base install has no `impersonate` grant, so its config must not ask for it.
    assert not (config().get("impersonation") or {}).get("enabled", False)


# --- Deployment ---------------------------------------------------------------


def test_deployment_runs_one_worker_replaced_with_recreate() -> None:
    spec = deployment()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert pod_spec()["terminationGracePeriodSeconds"] == 30


def test_deployment_runs_the_opsbot_command_with_the_mounted_config() -> None:
    c = container()
    assert c["image"] == "ghcr.io/opsbot/opsbot:0.1.0"
    assert c["args"] == ["run", "--config", CONFIG_PATH]
    assert "command" not in c, "the image's ENTRYPOINT (opsbot) must be used"


def test_deployment_uses_the_opsbot_service_account_with_its_token() -> None:
    spec = pod_spec()
    assert spec["serviceAccountName"] == the("ServiceAccount")["metadata"]["name"]
    assert spec["automountServiceAccountToken"] is True


def test_deployment_runs_as_non_root() -> None:
    security = pod_spec()["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 10001
    assert security["runAsGroup"] == 10001
    assert security["fsGroup"] == 10001
    container_security = container()["securityContext"]
    assert container_security.get("runAsNonRoot", True) is True
    assert container_security.get("runAsUser", 10001) != 0
    assert container_security.get("privileged", False) is False


def test_deployment_has_read_only_root_filesystem_without_privilege_escalation() -> None:
    security = container()["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False


def test_deployment_drops_all_capabilities() -> None:
    capabilities = container()["securityContext"]["capabilities"]
    assert capabilities["drop"] == ["ALL"]
    assert not capabilities.get("add")


def test_deployment_uses_runtime_default_seccomp() -> None:
    assert pod_spec()["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "seccompProfile" not in container()["securityContext"]


def test_deployment_limits_memory_but_not_cpu() -> None:
    resources = container()["resources"]
    assert resources["requests"] == {"cpu": "50m", "memory": "96Mi"}
    assert resources["limits"] == {"memory": "256Mi"}


def test_slack_tokens_come_from_secret_key_refs() -> None:
    env = {e["name"]: e for e in container()["env"]}
    secret_keys = set(load_one(EXAMPLE_SECRET)["stringData"])
    for name, key in (("SLACK_BOT_TOKEN", "bot-token"), ("SLACK_APP_TOKEN", "app-token")):
        assert "value" not in env[name], f"{name} must not be a literal"
        assert env[name]["valueFrom"] == {"secretKeyRef": {"name": SLACK_SECRET, "key": key}}
        assert key in secret_keys
    for e in container()["env"]:
        assert "TOKEN" not in e["name"] or "secretKeyRef" in e.get("valueFrom", {})
    assert "envFrom" not in container()


def test_deployment_mounts_config_state_and_writable_tmp() -> None:
    mounts = {m["name"]: m for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    assert set(mounts) == set(volumes) == {"config", "state", "tmp"}

    assert mounts["config"]["mountPath"] == str(Path(CONFIG_PATH).parent)
    assert mounts["config"]["readOnly"] is True
    assert volumes["config"]["configMap"]["name"] == CONFIG_MAP
    assert mounts["state"]["mountPath"] == "/var/lib/opsbot"
    assert volumes["state"]["persistentVolumeClaim"]["claimName"] == "opsbot-state"
    assert mounts["tmp"]["mountPath"] == "/tmp"
    assert "emptyDir" in volumes["tmp"]


def test_deployment_probes_the_internal_health_port() -> None:
    c = container()
    assert c["ports"] == [{"name": "health", "containerPort": 8080, "protocol": "TCP"}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert "startupProbe" not in c


# --- config file -----------------------------------------------------------------


def test_config_file_parses_and_has_the_in_cluster_settings() -> None:
    cfg = config()
    assert {
        "clusters",
        "default_cluster",
        "default_namespace",
        "channels",
        "watch",
        "alerts",
        "store",
    } <= set(cfg)
    assert cfg["store"]["path"].startswith("/var/lib/opsbot/")
    assert cfg["clusters"] == {"in-cluster": {"in_cluster": True}}
    assert cfg["default_cluster"] in cfg["clusters"]
    assert cfg["default_namespace"] == "default"
    assert cfg["channels"] == {}
    namespaces = cfg["watch"]["namespaces"]
    assert namespaces == ["default"]
    assert cfg["default_namespace"] in namespaces


def test_config_file_holds_no_tokens() -> None:
    text = CONFIG_FILE.read_text()
    assert not re.search(r"xox[bpa]-|xapp-", text)


# --- Slack app manifest --------------------------------------------------------


def test_slack_app_uses_socket_mode_without_request_urls() -> None:
    manifest = slack_manifest()
    assert manifest["settings"]["socket_mode_enabled"] is True
    # Socket Mode delivers events, commands and interactivity over the socket.
    assert not [key for key in all_keys(manifest) if key.endswith("url")]


def test_slack_app_enables_interactivity() -> None:
    assert slack_manifest()["settings"]["interactivity"]["is_enabled"] is True


def test_slack_app_registers_the_opsbot_slash_command() -> None:
    commands = slack_manifest()["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/opsbot"]
    command = commands[0]
    assert command["description"]
    assert command["usage_hint"]
    assert command["should_escape"] is False


def test_slack_app_subscribes_to_mentions_and_direct_messages() -> None:
    events = slack_manifest()["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(events) == ["app_mention", "message.im"]
    assert slack_manifest()["features"]["app_home"]["messages_tab_enabled"] is True


def test_slack_app_requests_exactly_the_bot_scopes_opsbot_uses() -> None:
    scopes = slack_manifest()["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    assert set(scopes) == {
        "app_mentions:read",
        "chat:write",
        "commands",
        "files:write",
        "im:history",
        "im:read",
        "im:write",
        "reactions:write",
        "users:read",
        "channels:read",
        "channels:history",
        "groups:history",
        "groups:read",
        "usergroups:read",
    }
    assert "user" not in slack_manifest()["oauth_config"]["scopes"]


def test_slack_app_has_an_always_online_bot_user_and_fixed_settings() -> None:
    manifest = slack_manifest()
    assert manifest["features"]["bot_user"] == {"display_name": "opsbot", "always_online": True}
    assert manifest["settings"]["org_deploy_enabled"] is False
    assert manifest["settings"]["token_rotation_enabled"] is False
    assert manifest["display_information"]["name"]
    assert len(manifest["display_information"]["description"]) <= 140


# --- Containerfile -------------------------------------------------------------

Instruction = tuple[str, str]

BUILD_TOOLS = {
    "gcc",
    "g++",
    "cc",
    "clang",
    "make",
    "cmake",
    "build-essential",
    "binutils",
    "cpp",
    "libc6-dev",
    "libc-dev",
    "musl-dev",
    "python3-dev",
    "rustc",
    "cargo",
}
PACKAGE_INSTALL = re.compile(r"\b(apt-get|apt|aptitude|apk|dnf|yum|microdnf)\b[^;&|]*\b(install|add)\b")


def containerfile_stages() -> list[list[Instruction]]:
    """Instructions per stage; continuation lines joined, comment lines dropped."""
    logical: list[str] = []
    pending = ""
    for raw in CONTAINERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "dangling line continuation"

    stages: list[list[Instruction]] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        instruction = (keyword.upper(), rest.strip())
        if instruction[0] == "FROM":
            stages.append([])
        assert stages, "instruction before the first FROM"
        stages[-1].append(instruction)
    return stages


def final_stage() -> list[Instruction]:
    return containerfile_stages()[-1]


def test_containerfile_is_multi_stage_on_python_slim() -> None:
    stages = containerfile_stages()
    assert len(stages) >= 2
    assert stages[0][0] == ("FROM", "python:3.11-slim AS build")
    assert stages[-1][0][1].split()[0] == "python:3.11-slim"
    build_runs = " ".join(arg for kw, arg in stages[0] if kw == "RUN")
    assert "pip wheel" in build_runs and "/wheels" in build_runs


def test_containerfile_final_stage_runs_as_non_root_user() -> None:
    users = [arg for kw, arg in final_stage() if kw == "USER"]
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user.isdigit(), "numeric USER lets Kubernetes verify runAsNonRoot"
    assert int(user) != 0
    assert int(user) == pod_spec()["securityContext"]["runAsUser"]
    # Nothing runs as root after the USER switch.
    last_user_index = max(i for i, (kw, _) in enumerate(final_stage()) if kw == "USER")
    assert all(kw != "USER" for kw, _ in final_stage()[last_user_index + 1 :])


def test_containerfile_final_stage_installs_no_build_tools() -> None:
    for keyword, arg in final_stage():
        assert not (keyword == "FROM" and re.search(r"python:[\d.]+$", arg.split()[0]))
        if keyword != "RUN":
            continue
        if PACKAGE_INSTALL.search(arg):
            tokens = set(re.findall(r"[\w.+-]+", arg))
            assert not tokens & BUILD_TOOLS, f"build tools installed in the final stage: {arg}"
        assert "pip wheel" not in arg


def test_containerfile_final_stage_installs_only_the_built_wheels() -> None:
    runs = [arg for kw, arg in final_stage() if kw == "RUN"]
    installs = [arg for arg in runs if "pip install" in arg]
    assert len(installs) == 1
    install = installs[0]
    assert "--no-index" in install
    assert "--find-links=/wheels" in install
    assert "--no-cache-dir" in install
    # Wheels come from the build stage and must not stay in the image: either
    # bind-mounted for the install step, or copied and removed again.
    bind_mounted = "--mount=type=bind,from=build" in install
    copied = any(kw == "COPY" and "--from=build" in arg for kw, arg in final_stage())
    assert bind_mounted or (copied and "rm -rf /wheels" in install)


def test_containerfile_runs_opsbot_with_the_in_cluster_config() -> None:
    instructions = dict(final_stage())
    assert json.loads(instructions["ENTRYPOINT"]) == ["opsbot"]
    assert json.loads(instructions["CMD"]) == container()["args"]
    env = " ".join(arg for kw, arg in final_stage() if kw == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    labels = " ".join(arg for kw, arg in final_stage() if kw == "LABEL")
    assert "org.opencontainers.image.title" in labels
    assert "org.opencontainers.image.source" in labels


def test_build_context_excludes_virtualenv_caches_and_git() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache"} <= ignored
