"""Install artefacts: kustomize manifests, Containerfile and Slack app manifest.

manifests/ is a base (the bot) plus optional kustomize Components:

    manifests/kustomization.yaml          default install = base/ (components commented out)
    manifests/base/                       the bot
    manifests/components/<name>/          operate, releases, cluster-wide, impersonation, monitoring
    manifests/overlays/everything/        base + every component (worked example)

Everything here runs offline: Kubernetes objects are validated against the JSON
schemas bundled with kubernetes-validate (strict mode: unknown fields fail). The
Prometheus Operator's ServiceMonitor has no bundled schema; it gets a structural
test instead. Rendering tests use a kustomize v5 (`kustomize`, or the one embedded
in `kubectl`) and skip when there is none.
"""

from __future__ import annotations

import configparser
import functools
import importlib.metadata
import inspect
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import opsbot
from opsbot.commands.catalog import build_registry
from opsbot.config import load_settings, parse_settings
from opsbot.doctor.release_needs import FOLLOW_UP
from opsbot.doctor.requirements import ALERT_DETAIL_METHODS, WATCHED, cluster_requirements, commands_kube_uses
from opsbot.health import STALE_AFTER_SECONDS
from opsbot.policy.settings import Group
from opsbot.ports import ApiCall, api_calls, lease_api_calls

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
BASE = MANIFESTS / "base"
COMPONENTS = MANIFESTS / "components"
OPERATE = COMPONENTS / "operate"
CLUSTER_WIDE = COMPONENTS / "cluster-wide"
IMPERSONATION = COMPONENTS / "impersonation"
MONITORING = COMPONENTS / "monitoring"
ALERTMANAGER = COMPONENTS / "alertmanager"
RELEASES = COMPONENTS / "releases"
HA = COMPONENTS / "ha"
EVERYTHING = MANIFESTS / "overlays" / "everything"
CONTAINERFILE = ROOT / "Containerfile"
SLACK_APP_MANIFEST = ROOT / "slack-app-manifest.yaml"
EXAMPLE_SECRET = BASE / "secret.example.yaml"
CONFIG_FILE = BASE / "config.yaml"
EVERYTHING_CONFIG_FILE = EVERYTHING / "config.yaml"

# What `kubectl apply -k` is pointed at; components are only ever included.
ENTRY_POINTS = (MANIFESTS, BASE, EVERYTHING)
COMPONENT_DIRS = (OPERATE, RELEASES, CLUSTER_WIDE, IMPERSONATION, MONITORING, ALERTMANAGER, HA)
# Objects each component adds to a build (HA's fifth file patches the base's Deployment).
ADDED_OBJECTS = {HA: 4}
FLUX_NAMESPACE = "flux-system"

# Newest Kubernetes minor kubernetes-validate 1.37 ships schemas for.
KUBERNETES_VERSION = "1.37"

OPSBOT_NAMESPACE = "opsbot"
SERVICE_ACCOUNT = "opsbot"
SLACK_SECRET = "opsbot-slack"
CONFIG_MAP = "opsbot-config"
CONFIG_PATH = "/etc/opsbot/config.yaml"
HEALTH_PORT = 8080

# Measured by bench/memory.py (the bot as its own process, 10,000 realistic pods + 500 nodes):
# peak RSS watching them and answering 20 concurrent `pods -A` / `status -A` from the caches,
# and the peak when those 20 are listed live (watch.cache off).
MEASURED_PEAK_MIB = 119
MEASURED_LIVE_PEAK_MIB = 146
# Measured by bench/replicas.py: peak RSS of each of three replicas (ha, Redis) at 10,000 pods + 500 nodes.
MEASURED_REPLICA_PEAK_MIB = 131

# YAML files under manifests/ that are not Kubernetes objects applied by kustomize.
# (deployment-patch.yaml: a strategic merge patch, validated once rendered into the Deployment.)
NOT_KUBERNETES_OBJECTS = {"kustomization.yaml", "config.yaml", "secret.example.yaml", "deployment-patch.yaml"}
CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
# Custom resources: kubernetes-validate bundles no schema for them.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}

KUSTOMIZATION = ("kustomize.config.k8s.io/v1beta1", "Kustomization")
COMPONENT = ("kustomize.config.k8s.io/v1alpha1", "Component")


Doc = dict[str, Any]


def load_docs(path: Path) -> list[Doc]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert all(isinstance(doc, dict) for doc in docs), path
    return docs


def load_one(path: Path) -> Doc:
    docs = load_docs(path)
    assert len(docs) == 1, path
    return docs[0]


def kustomization(directory: Path) -> Doc:
    return load_one(directory / "kustomization.yaml")


def kubernetes_files() -> list[Path]:
    return sorted(p for p in MANIFESTS.rglob("*.yaml") if p.name not in NOT_KUBERNETES_OBJECTS)


def kustomization_files() -> list[Path]:
    return sorted(MANIFESTS.rglob("kustomization.yaml"))


def rel(path: Path) -> str:
    return str(path.relative_to(MANIFESTS)) or "."


def validate(doc: Doc) -> None:
    """Strict schema validation; custom resources get the structural checks they can."""
    if (doc.get("apiVersion"), doc.get("kind")) in CUSTOM_KINDS:
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}, doc
        assert doc["metadata"]["name"]
        assert isinstance(doc["spec"], dict) and doc["spec"]
        return
    version = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert version == KUBERNETES_VERSION


def included_dirs(kustomization_dir: Path) -> list[str]:
    """`resources` and `components` entries of a kustomization, in order."""
    k = kustomization(kustomization_dir)
    return [*k.get("resources", []), *k.get("components", [])]


def resources_of(kustomization_dir: Path) -> list[tuple[Path, Doc]]:
    """Objects a kustomization installs, before transformers (recursing into bases and components)."""
    found: list[tuple[Path, Doc]] = []
    for entry in included_dirs(kustomization_dir):
        target = (kustomization_dir / entry).resolve()
        if target.is_dir():
            found.extend(resources_of(target))
        else:
            found.extend((target, doc) for doc in load_docs(target))
    return found


def docs_of(kustomization_dir: Path) -> list[Doc]:
    return [doc for _, doc in resources_of(kustomization_dir)]


def base_resources() -> list[Doc]:
    return docs_of(BASE)


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


def pod_labels() -> dict[str, str]:
    labels: dict[str, str] = deployment()["spec"]["template"]["metadata"]["labels"]
    return labels


def container() -> Doc:
    containers = pod_spec()["containers"]
    assert len(containers) == 1
    only: Doc = containers[0]
    return only


def network_policies() -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in base_resources() if doc["kind"] == "NetworkPolicy"}


def network_policy() -> Doc:
    """Ingress to the health port; egress to DNS and Slack."""
    return network_policies()["opsbot"]


def apiserver_policy() -> Doc:
    """Egress to the API server."""
    return network_policies()["opsbot-apiserver"]


def config() -> Doc:
    return load_one(CONFIG_FILE)


def namespace_transformer() -> Doc:
    transformers = [yaml.safe_load(t) for t in kustomization(BASE).get("transformers", [])]
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


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity)
    assert match, f"use a binary-suffixed quantity, not {quantity!r}"
    return int(match[1]) * units[match[2]]


def port_rules(rules: Iterable[Doc]) -> set[tuple[str, int]]:
    return {(port["protocol"], port["port"]) for rule in rules for port in rule.get("ports", [])}


def slack_manifest() -> Doc:
    return load_one(SLACK_APP_MANIFEST)


# --- rendering with kustomize v5 (skipped without one) --------------------------


def _major(version: str) -> int:
    match = re.search(r"v?(\d+)\.\d+", version)
    return int(match[1]) if match else 0


@functools.cache
def kustomize_command() -> tuple[str, ...] | None:
    """`kustomize build`, or `kubectl kustomize` when its embedded kustomize is v5+."""
    if shutil.which("kustomize"):
        result = subprocess.run(
            ["kustomize", "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode == 0 and _major(result.stdout) >= 5:
            return ("kustomize", "build")
    # `make test` puts one beside the virtualenv's Python (scripts/fetch_kubectl.py).
    beside_python = Path(sys.executable).parent / "kubectl"
    kubectl = shutil.which("kubectl") or (str(beside_python) if beside_python.exists() else None)
    if kubectl:
        result = subprocess.run(
            [kubectl, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode == 0:
            embedded = json.loads(result.stdout).get("kustomizeVersion", "")
            if _major(embedded) >= 5:
                return (kubectl, "kustomize")
    return None


@pytest.fixture
def kustomize() -> tuple[str, ...]:
    command = kustomize_command()
    if command is None:
        pytest.skip("no kustomize v5 (kustomize, or kubectl >= 1.27) installed")
    return command


def render(command: tuple[str, ...], directory: Path) -> list[Doc]:
    result = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert rendered
    return rendered


def by_kind(docs: list[Doc]) -> dict[str, list[Doc]]:
    grouped: dict[str, list[Doc]] = {}
    for doc in docs:
        grouped.setdefault(doc["kind"], []).append(doc)
    return grouped


def component_combinations() -> list[tuple[Path, ...]]:
    return [
        combo
        for size in range(len(COMPONENT_DIRS) + 1)
        for combo in itertools.combinations(COMPONENT_DIRS, size)
    ]


def combination_id(combo: tuple[Path, ...]) -> str:
    return "+".join(p.name for p in combo) or "base-only"


# --- Kubernetes schema validation ------------------------------------------


def test_kubernetes_validate_ships_schemas_for_the_target_version() -> None:
    versions = kubernetes_validate.utils.all_versions()
    assert any(v.startswith(KUBERNETES_VERSION + ".") for v in versions)


@pytest.mark.parametrize("path", kubernetes_files(), ids=rel)
def test_every_manifest_document_validates_against_the_kubernetes_schema(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path} has no documents"
    for doc in docs:
        validate(doc)


def test_only_the_service_monitor_lacks_a_bundled_schema() -> None:
    """Everything but the Prometheus Operator's CRD goes through strict schema validation."""
    custom = [doc for doc in all_resources() if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS]
    assert [(d["kind"], d["metadata"]["name"]) for d in custom] == [("ServiceMonitor", "opsbot")]
    with pytest.raises(kubernetes_validate.utils.SchemaNotFoundError):
        kubernetes_validate.validate(custom[0], KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: rel(p.parent))
def test_every_kustomization_resource_exists_and_is_valid(path: Path) -> None:
    k = load_one(path)
    expected = COMPONENT if path.parent.parent == COMPONENTS else KUSTOMIZATION
    assert (k["apiVersion"], k["kind"]) == expected
    assert k["resources"]
    for entry in k["resources"]:
        target = (path.parent / entry).resolve()
        assert target.exists(), f"{path}: resource {entry} does not exist"
        if target.is_dir():
            assert (k["apiVersion"], k["kind"]) == KUSTOMIZATION, f"{path}: a component includes {entry}"
            target_k = kustomization(target)
            assert (target_k["apiVersion"], target_k["kind"]) == KUSTOMIZATION, f"{path}: {entry}"
            continue
        assert target.name not in NOT_KUBERNETES_OBJECTS, f"{path}: {entry} must not be a resource"
        for doc in load_docs(target):
            validate(doc)
    for entry in k.get("components", []):
        target = (path.parent / entry).resolve()
        assert target.parent == COMPONENTS, f"{path}: component {entry} is not under manifests/components/"
        target_k = kustomization(target)
        assert (target_k["apiVersion"], target_k["kind"]) == COMPONENT, f"{path}: {entry}"
    for generator in k.get("configMapGenerator", []):
        for entry in generator.get("files", []):
            source = entry.split("=", 1)[-1]
            assert (path.parent / source).is_file(), f"{path}: generator file {source} missing"


@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: rel(p.parent))
def test_no_kustomization_includes_a_directory_containing_itself(path: Path) -> None:
    # kustomize rejects this ("cycle detected: candidate root ... contains
    # visited root ..."), e.g. an add-on inside the base with `resources: [../]`.
    for entry in included_dirs(path.parent):
        target = (path.parent / entry).resolve()
        assert target not in path.parent.resolve().parents, f"{path}: {entry}"
        assert target != path.parent.resolve(), f"{path}: {entry}"


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
    for entry_point in ENTRY_POINTS:
        assert not any(doc["kind"] == "Secret" for doc in docs_of(entry_point)), entry_point
    assert "kubectl" in EXAMPLE_SECRET.read_text()
    assert "create secret generic" in EXAMPLE_SECRET.read_text()


def test_generated_config_map_is_valid() -> None:
    generators = kustomization(BASE)["configMapGenerator"]
    assert [g["name"] for g in generators] == [CONFIG_MAP]
    assert generators[0]["files"] == ["config.yaml"]
    assert "behavior" not in generators[0]
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP, "namespace": OPSBOT_NAMESPACE},
        "data": {"config.yaml": CONFIG_FILE.read_text()},
    }
    validate(config_map)


# --- layout: default install, base, components, overlay ------------------------------


def test_default_install_is_the_base_with_every_component_commented_out() -> None:
    root = kustomization(MANIFESTS)
    assert root["resources"] == ["base"]
    assert "components" not in root
    # Uncommenting the example lines yields a kustomization enabling every component.
    text = (MANIFESTS / "kustomization.yaml").read_text()
    uncommented = re.sub(r"^# ?((?:components:|\s+- components/).*)$", r"\1", text, flags=re.M)
    enabled = yaml.safe_load(uncommented)["components"]
    assert enabled == [f"components/{d.name}" for d in COMPONENT_DIRS]
    assert all((MANIFESTS / entry).resolve() in COMPONENT_DIRS for entry in enabled)


def test_components_directory_holds_exactly_the_optional_parts() -> None:
    assert sorted(p for p in COMPONENTS.iterdir()) == sorted(COMPONENT_DIRS)


@pytest.mark.parametrize("directory", COMPONENT_DIRS, ids=lambda p: p.name)
def test_each_optional_part_is_a_component_with_only_its_own_files(directory: Path) -> None:
    k = kustomization(directory)
    assert (k["apiVersion"], k["kind"]) == COMPONENT
    # Its objects only: never the base, no other component, no generators.
    assert all("/" not in entry and (directory / entry).is_file() for entry in k["resources"])
    # Only HA changes a base object: its Deployment (replicas, spread, the downward API).
    allowed = {"apiVersion", "kind", "resources", "labels"} | ({"patches"} if directory == HA else set())
    assert set(k) <= allowed, sorted(k)
    # Documented how to enable it from the default entry point.
    assert re.search(
        rf"^#\s+- components/{directory.name}$", (directory / "kustomization.yaml").read_text(), re.M
    )


@pytest.mark.parametrize("directory", COMPONENT_DIRS, ids=lambda p: p.name)
def test_component_objects_name_their_namespace_or_are_cluster_scoped(directory: Path) -> None:
    """The base's namespace transformer never reaches a component's objects: they name
    opsbot's namespace, or (RBAC in the workloads' namespaces) a watched one, like the base's Role."""
    watched = set(config()["watch"]["namespaces"])
    for doc in docs_of(directory):
        if doc["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in doc["metadata"], doc["metadata"]
        elif doc["kind"] in {"Role", "RoleBinding"}:
            # The release follow-up reads Flux's objects where Flux keeps them.
            # The leases live in opsbot's own namespace.
            allowed = {FLUX_NAMESPACE} if directory == RELEASES else {OPSBOT_NAMESPACE} if directory == HA else watched
            assert doc["metadata"]["namespace"] in allowed, doc["metadata"]
        else:
            assert doc["metadata"]["namespace"] == OPSBOT_NAMESPACE, doc["metadata"]


def test_everything_overlay_is_the_base_with_every_component_but_the_writes() -> None:
    """Its config turns impersonation on: writes run as the Slack user, so no operate component;
    Alertmanager needs its own config section and Secret, so it is left to its component."""
    overlay = kustomization(EVERYTHING)
    assert (overlay["apiVersion"], overlay["kind"]) == KUSTOMIZATION
    assert [(EVERYTHING / entry).resolve() for entry in overlay["resources"]] == [BASE]
    components = [(EVERYTHING / entry).resolve() for entry in overlay["components"]]
    # Not HA either: it needs the shared (Redis) store, configured by hand.
    assert components == [d for d in COMPONENT_DIRS if d not in (OPERATE, ALERTMANAGER, HA)]
    assert load_settings(EVERYTHING_CONFIG_FILE).impersonation.roles is None  # every role


def test_everything_overlay_config_is_the_base_config_with_impersonation_enabled() -> None:
    (generator,) = kustomization(EVERYTHING)["configMapGenerator"]
    assert generator == {
        "name": CONFIG_MAP,
        "namespace": OPSBOT_NAMESPACE,
        "behavior": "replace",
        "files": ["config.yaml"],
    }
    overlay_config = load_one(EVERYTHING_CONFIG_FILE)
    assert overlay_config == {**config(), "impersonation": {"enabled": True}}
    assert load_settings(EVERYTHING_CONFIG_FILE).impersonation.enabled is True


# --- rendering ------------------------------------------------------------------------


@pytest.mark.parametrize("directory", ENTRY_POINTS, ids=rel)
def test_kustomize_build_renders_valid_labelled_objects(kustomize: tuple[str, ...], directory: Path) -> None:
    rendered = render(kustomize, directory)
    for doc in rendered:
        validate(doc)
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "opsbot"
    kinds = by_kind(rendered)
    assert "Secret" not in kinds
    assert len(kinds["Deployment"]) == 1
    assert sorted(d["metadata"]["name"] for d in kinds["NetworkPolicy"]) == ["opsbot", "opsbot-apiserver"]


def test_default_install_renders_exactly_the_base(kustomize: tuple[str, ...]) -> None:
    assert render(kustomize, MANIFESTS) == render(kustomize, BASE)


def test_rendered_base_puts_opsbot_objects_in_its_namespace_and_rbac_in_watched_ones(
    kustomize: tuple[str, ...],
) -> None:
    kinds = by_kind(render(kustomize, BASE))
    watched = set(config()["watch"]["namespaces"])
    for kind in ("Role", "RoleBinding"):
        assert {d["metadata"]["namespace"] for d in kinds[kind]} == watched
    for kind in ("ServiceAccount", "Deployment", "ConfigMap", "NetworkPolicy", "PersistentVolumeClaim"):
        assert {d["metadata"]["namespace"] for d in kinds[kind]} == {OPSBOT_NAMESPACE}, kind
    assert not set(kinds) & {"ClusterRole", "ClusterRoleBinding", "Service", "ServiceMonitor"}
    # The generated ConfigMap gets a content hash; the Deployment must follow it.
    (config_map,) = kinds["ConfigMap"]
    assert config_map["metadata"]["name"].startswith(CONFIG_MAP + "-")
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == config()
    (rendered_deployment,) = kinds["Deployment"]
    volumes = rendered_deployment["spec"]["template"]["spec"]["volumes"]
    config_volume = next(v for v in volumes if v["name"] == "config")
    assert config_volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert rendered_deployment["spec"]["selector"] == deployment()["spec"]["selector"]
    assert {d["metadata"]["name"]: d["spec"] for d in kinds["NetworkPolicy"]} == {
        name: doc["spec"] for name, doc in network_policies().items()
    }


@pytest.mark.parametrize("combo", component_combinations(), ids=combination_id)
def test_any_combination_of_components_renders_in_one_build(
    kustomize: tuple[str, ...], combo: tuple[Path, ...], tmp_path: Path
) -> None:
    """What a user gets by uncommenting any subset of components in manifests/kustomization.yaml."""
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    root = kustomization(MANIFESTS)
    if combo:
        root["components"] = [f"components/{d.name}" for d in combo]
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(root))

    rendered = render(kustomize, copy)
    for doc in rendered:
        validate(doc)
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "opsbot"
        if doc["kind"] not in CLUSTER_SCOPED_KINDS:
            assert doc["metadata"].get("namespace"), (
                f"{doc['kind']} {doc['metadata']['name']} has no namespace"
            )
    kinds = by_kind(rendered)
    cluster_roles = {d["metadata"]["name"] for d in kinds.get("ClusterRole", [])}
    expected_roles = {"opsbot-cluster-read"} if CLUSTER_WIDE in combo else set()
    expected_roles |= {"opsbot-impersonate"} if IMPERSONATION in combo else set()
    assert cluster_roles == expected_roles
    assert {d["roleRef"]["name"] for d in kinds.get("ClusterRoleBinding", [])} == expected_roles
    assert ("impersonate" in json.dumps(rendered)) == (IMPERSONATION in combo)
    monitored = MONITORING in combo
    assert sorted(d["metadata"]["name"] for d in kinds.get("Service", [])) == (
        (["opsbot-alertmanager"] if ALERTMANAGER in combo else []) + (["opsbot-metrics"] if monitored else [])
    )
    assert len(kinds.get("ServiceMonitor", [])) == int(monitored)
    # The base is untouched by any component.
    base_objects = {(d["kind"], d["metadata"]["name"]) for d in render(kustomize, BASE)}
    assert base_objects <= {(d["kind"], d["metadata"]["name"]) for d in rendered}
    assert len(rendered) == len(base_objects) + sum(ADDED_OBJECTS.get(d, 2) for d in combo)
    (rendered_deployment,) = kinds["Deployment"]
    assert rendered_deployment["spec"]["replicas"] == (3 if HA in combo else 1)


def test_everything_overlay_renders_base_components_and_its_own_config(kustomize: tuple[str, ...]) -> None:
    kinds = by_kind(render(kustomize, EVERYTHING))
    assert {d["metadata"]["name"] for d in kinds["ClusterRole"]} == {
        "opsbot-cluster-read",
        "opsbot-impersonate",
    }
    assert len(kinds["ServiceMonitor"]) == 1
    (config_map,) = kinds["ConfigMap"]
    assert config_map["metadata"]["namespace"] == OPSBOT_NAMESPACE
    assert config_map["metadata"]["name"].startswith(CONFIG_MAP + "-")
    assert yaml.safe_load(config_map["data"]["config.yaml"])["impersonation"] == {"enabled": True}
    (rendered_deployment,) = kinds["Deployment"]
    volumes = rendered_deployment["spec"]["template"]["spec"]["volumes"]
    config_volume = next(v for v in volumes if v["name"] == "config")
    assert config_volume["configMap"]["name"] == config_map["metadata"]["name"]


# --- kustomization / namespaces ---------------------------------------------


def test_opsbot_objects_go_to_the_opsbot_namespace_and_rbac_stays_in_watched_ones() -> None:
    base = kustomization(BASE)
    # A top-level `namespace:` would overwrite the Role's/RoleBinding's namespace.
    assert "namespace" not in base
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


@pytest.mark.parametrize("directory", (BASE, *COMPONENT_DIRS), ids=rel)
def test_kustomization_labels_everything_without_touching_selectors(directory: Path) -> None:
    labels = kustomization(directory)["labels"]
    assert labels == [{"pairs": {"app.kubernetes.io/name": "opsbot"}, "includeSelectors": False}]


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
        # `impersonate` only in the opt-in impersonation component (checked below).
        refused = forbidden_verbs - {"impersonate"} if path.parent == IMPERSONATION else forbidden_verbs
        for (_group, resource), verbs in grants(role).items():
            # Leader election creates its Lease (components/ha), in opsbot's namespace only.
            allowed = {"create"} if path.parent == HA and resource == "leases" else set()
            assert not verbs & (refused - allowed), (role["metadata"]["name"], resource)
            assert resource not in forbidden_resources, role["metadata"]["name"]


# -- what the code needs, derived from its declarations ---------------------------------
# Every command declares the KubePort methods it calls (CommandSpec.kube), every KubePort
# method its RBAC rule (@requires in opsbot/ports.py), and the doctor lists what the alert
# watches and alert details use: the Roles below must grant exactly that.

Grants = dict[tuple[str, str], set[str]]


def _path(call: ApiCall) -> str:
    return f"{call.resource}/{call.subresource}" if call.subresource else call.resource


def grants_of(calls: Iterable[ApiCall]) -> Grants:
    found: Grants = {}
    for call in calls:
        found.setdefault((call.group, _path(call)), set()).add(call.verb)
    return found


def command_calls(group: Group, *, everywhere: bool | None = None) -> list[ApiCall]:
    """The API calls of the commands in `group` (only their `everywhere` uses, or only the others)."""
    specs = {spec.name: spec for spec in build_registry().specs()}
    return [
        call
        for name, uses in commands_kube_uses().items()
        if specs[name].group is group
        for use in uses
        if everywhere is None or use.everywhere == everywhere
        for call in api_calls()[use.method]
    ]


def alert_calls() -> list[ApiCall]:
    """The watches (list + watch) and the alert details."""
    watches = [
        ApiCall(verb, c.resource, c.group, c.subresource, c.cluster_scoped)
        for c in WATCHED.values()
        for verb in (c.verb, "watch")
    ]
    details = [call for method in ALERT_DETAIL_METHODS for call in api_calls()[method]]
    return [*watches, *details]


def needed_namespaced_reads() -> Grants:
    """Per watched namespace: the read commands (not their all-namespace uses), the watches
    and the alert details."""
    calls = [*command_calls(Group.READ, everywhere=False), *alert_calls()]
    return grants_of(call for call in calls if not call.cluster_scoped)


def needed_writes() -> Grants:
    return grants_of(command_calls(Group.WRITE))


def needed_cluster_reads() -> Grants:
    """The same reads in every namespace, plus the cluster-scoped and all-namespace ones."""
    return grants_of([*command_calls(Group.READ), *alert_calls()])


def roles_in(directory: Path, kind: str) -> list[Doc]:
    return [doc for doc in docs_of(directory) if doc["kind"] == kind]


def test_every_command_that_touches_a_cluster_is_a_read_or_a_write() -> None:
    specs = {spec.name: spec for spec in build_registry().specs()}
    assert {specs[name].group for name in commands_kube_uses()} == {Group.READ, Group.WRITE}
    writes = command_calls(Group.WRITE)
    assert writes and not any(call.cluster_scoped for call in writes)
    assert command_calls(Group.WRITE, everywhere=True) == []


def test_role_grants_only_what_the_commands_need() -> None:
    """The base Role: reads only, exactly what the read commands, watches and alert details call."""
    roles = roles_in(BASE, "Role")
    assert roles
    for role in roles:
        assert grants(role) == needed_namespaced_reads(), role["metadata"]
        assert not {verb for verbs in grants(role).values() for verb in verbs} - {"get", "list", "watch"}
    # Namespaced Roles live in the base (reads), the operate component (writes), leader
    # election's leases (ha) and the Flux reads (releases) only.
    assert [doc for doc in all_resources() if doc["kind"] == "Role"] == [
        *roles,
        *roles_in(HA, "Role"),
        *roles_in(OPERATE, "Role"),
        *roles_in(RELEASES, "Role"),
    ]


def test_operate_component_grants_exactly_what_the_write_commands_need() -> None:
    (role,) = roles_in(OPERATE, "Role")
    assert role["metadata"]["name"] == "opsbot-operate"
    assert grants(role) == needed_writes()
    assert "update" not in json.dumps(role["rules"])
    (binding,) = roles_in(OPERATE, "RoleBinding")
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "opsbot-operate",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": OPSBOT_NAMESPACE}
    ]
    # It says plainly what the grants imply.
    text = (OPERATE / "kustomization.yaml").read_text()
    assert "every Secret" in text and "outage" in text and "policy.bindings" in text


def test_cluster_wide_component_grants_the_reads_in_every_namespace() -> None:
    """The `everywhere` uses (nodes, the pods on a node), `-A`, all-namespace watches, and the
    namespaced reads for namespaces without a Role of their own: nothing more."""
    (cluster_role,) = roles_in(CLUSTER_WIDE, "ClusterRole")
    assert grants(cluster_role) == needed_cluster_reads()
    assert grants_of(command_calls(Group.READ, everywhere=True)).keys() <= grants(cluster_role).keys()


def test_every_permission_the_doctor_can_ask_for_is_granted_by_a_manifest() -> None:
    """Anything check-config may find missing has a manifest that grants it."""
    admin_everywhere = parse_settings(
        {
            "clusters": {"prod": {"in_cluster": True}},
            "alerts": {"default_channel": "C0ALERTS01"},
            "channels": {"C0WEB00001": {"namespace": "default"}},
            "policy": {"bindings": [{"role": "admin", "users": ["U0ADMIN01"]}]},
        }
    )
    namespaced = grants(the("Role", docs_of(BASE)))
    for key, verbs in grants(the("Role", docs_of(OPERATE))).items():
        namespaced.setdefault(key, set()).update(verbs)
    cluster_wide = grants(the("ClusterRole", docs_of(CLUSTER_WIDE)))
    for permission in cluster_requirements(admin_everywhere, "prod").permissions:
        key = (permission.group, permission.resource_path)
        granted = namespaced if permission.namespace is not None else cluster_wide
        assert permission.verb in granted.get(key, set()), permission


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
    for entry_point in (MANIFESTS, BASE):
        kinds = {doc["kind"] for doc in docs_of(entry_point)}
        assert not kinds & {"ClusterRole", "ClusterRoleBinding"}, entry_point


def test_cluster_wide_component_only_adds_read_only_cluster_rbac_for_opsbot() -> None:
    docs = resources_of(CLUSTER_WIDE)
    assert sorted(doc["kind"] for _, doc in docs) == ["ClusterRole", "ClusterRoleBinding"]

    cluster_role = the("ClusterRole", [doc for _, doc in docs])
    assert cluster_role["metadata"]["name"] == "opsbot-cluster-read"
    assert not {verb for verbs in grants(cluster_role).values() for verb in verbs} - {"get", "list", "watch"}

    binding = the("ClusterRoleBinding", [doc for _, doc in docs])
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "opsbot-cluster-read",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": OPSBOT_NAMESPACE}
    ]


def test_impersonate_is_granted_only_by_the_impersonation_component() -> None:
    granting = {
        path.relative_to(MANIFESTS)
        for path, role in rbac_roles_by_file()
        if any("impersonate" in verbs for verbs in grants(role).values())
    }
    assert granting == {Path("components/impersonation/clusterrole.yaml")}
    for directory in (MANIFESTS, BASE, CLUSTER_WIDE, MONITORING):
        for doc in docs_of(directory):
            assert "impersonate" not in json.dumps(doc), (directory, doc["metadata"])


def test_impersonation_component_only_lets_opsbot_impersonate_users_and_its_groups() -> None:
    docs = resources_of(IMPERSONATION)
    assert sorted(doc["kind"] for _, doc in docs) == ["ClusterRole", "ClusterRoleBinding"]
    assert all(path.parent == IMPERSONATION for path, _ in docs), "never includes the base"

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
    assert "impersonation.enabled: true" in (IMPERSONATION / "kustomization.yaml").read_text()


def test_base_config_leaves_impersonation_off() -> None:
    # The base install has no `impersonate` grant, so its config must not ask for it.
    assert not (config().get("impersonation") or {}).get("enabled", False)


# --- NetworkPolicy -----------------------------------------------------------------


PRIVATE_IPV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"]
NODELOCAL_DNS = "169.254.20.10/32"


def all_egress() -> list[Doc]:
    return [rule for policy in network_policies().values() for rule in policy["spec"].get("egress", [])]


def test_network_policies_select_the_bot_pod_in_the_opsbot_namespace() -> None:
    assert sorted(network_policies()) == ["opsbot", "opsbot-apiserver"]
    for policy in network_policies().values():
        assert "namespace" not in policy["metadata"], "filled in by the base's namespace transformer"
        selector = policy["spec"]["podSelector"]
        assert set(selector) == {"matchLabels"}
        assert selector["matchLabels"] == deployment()["spec"]["selector"]["matchLabels"]
        assert selector["matchLabels"].items() <= pod_labels().items()


def test_network_policy_restricts_ingress_and_egress() -> None:
    assert sorted(network_policy()["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    # The API server policy only adds egress; it must not open ingress.
    assert apiserver_policy()["spec"]["policyTypes"] == ["Egress"]
    assert "ingress" not in apiserver_policy()["spec"]


def test_network_policy_lets_only_prometheus_in_and_only_to_the_health_port() -> None:
    ingress = network_policy()["spec"]["ingress"]
    assert ingress == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": HEALTH_PORT}],
        }
    ]
    health = next(p for p in container()["ports"] if p["name"] == "health")
    assert health["containerPort"] == HEALTH_PORT
    assert load_settings(CONFIG_FILE).health.port == HEALTH_PORT
    text = (BASE / "networkpolicy.yaml").read_text()
    assert "kubelet" in text and "probes" in text


def test_network_policy_allows_dns_to_kube_dns_and_nodelocal_dnscache_over_udp_and_tcp() -> None:
    dns_rules = [rule for rule in all_egress() if {("UDP", 53), ("TCP", 53)} & port_rules([rule])]
    assert dns_rules == [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                },
                {"ipBlock": {"cidr": NODELOCAL_DNS}},
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]


def test_network_policy_allows_egress_only_to_dns_the_api_server_and_slack() -> None:
    egress = all_egress()
    assert port_rules(egress) == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 6443)}
    for rule in egress:
        assert rule.get("ports"), f"a rule without ports allows every port: {rule}"
        assert rule.get("to"), f"a rule without `to` allows every address: {rule}"
        assert all("endPort" not in port for port in rule["ports"])
        listed = [(port["protocol"], port["port"]) for port in rule["ports"]]
        assert len(listed) == len(set(listed)), f"a port listed twice: {rule}"
    # Slack: HTTPS to public addresses only - no path to in-cluster/in-VPC services or metadata.
    (slack,) = network_policy()["spec"]["egress"][1:]
    assert slack == {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [*PRIVATE_IPV4, "169.254.0.0/16"]}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    # The API server: its own policy, to private addresses only until narrowed.
    assert apiserver_policy()["spec"]["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in PRIVATE_IPV4],
            "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}],
        }
    ]
    # Nothing but the API server rule reaches 6443; no rule anywhere allows every address.
    assert all(("TCP", 6443) not in port_rules([r]) for r in network_policy()["spec"]["egress"])
    for rule in egress:
        for peer in rule["to"]:
            if "ipBlock" in peer and peer["ipBlock"]["cidr"] in ("0.0.0.0/0", "::/0"):
                assert peer["ipBlock"].get("except"), rule


def commented_patches() -> list[Doc]:
    """The `patches:` example in manifests/kustomization.yaml, uncommented."""
    lines = (MANIFESTS / "kustomization.yaml").read_text().splitlines()
    start = lines.index("# patches:")
    block: list[str] = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:] if line.startswith("# ") else line[1:])
    patches: list[Doc] = yaml.safe_load("\n".join(block))["patches"]
    return patches


def test_the_documented_patches_narrow_the_api_server_and_prometheus_rules(
    kustomize: tuple[str, ...], tmp_path: Path
) -> None:
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    root = kustomization(MANIFESTS)
    root["patches"] = commented_patches()
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(root))
    policies = {d["metadata"]["name"]: d for d in render(kustomize, copy) if d["kind"] == "NetworkPolicy"}
    assert policies["opsbot-apiserver"]["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.0.0.10/32"}}], "ports": [{"protocol": "TCP", "port": 6443}]}
    ]
    (ingress,) = policies["opsbot"]["spec"]["ingress"]
    assert ingress["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "observability"}
    }
    assert ingress["ports"] == [{"protocol": "TCP", "port": HEALTH_PORT}]
    # The rest is unchanged.
    assert policies["opsbot"]["spec"]["egress"] == network_policy()["spec"]["egress"]


def test_network_policy_documents_cni_support_and_how_to_narrow_its_rules() -> None:
    text = (BASE / "networkpolicy.yaml").read_text()
    assert "CNI" in text
    assert "kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes" in text
    assert "NodeLocal DNSCache" in text and "169.254.20.10" in text
    assert "proxy" in text
    assert "manifests/kustomization.yaml" in text


def test_readme_says_what_the_network_policy_allows() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("NetworkPolicy") :]
    for fact in ("169.254.20.10", "opsbot-apiserver", "6443", "monitoring", "kubelet", "patches:"):
        assert fact in section, fact


# --- monitoring component ------------------------------------------------------------


def metrics_service() -> Doc:
    return the("Service", docs_of(MONITORING))


def service_monitor() -> Doc:
    return the("ServiceMonitor", docs_of(MONITORING))


def test_monitoring_component_adds_only_a_metrics_service_and_a_service_monitor() -> None:
    assert sorted(doc["kind"] for doc in docs_of(MONITORING)) == ["Service", "ServiceMonitor"]
    for name in ("kustomization.yaml", "servicemonitor.yaml"):
        assert "Prometheus Operator" in (MONITORING / name).read_text(), name


def test_metrics_service_targets_the_bot_pods_health_port() -> None:
    service = metrics_service()
    spec = service["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"].items() <= pod_labels().items()
    assert spec["selector"] == deployment()["spec"]["selector"]["matchLabels"]
    (port,) = spec["ports"]
    assert port["name"] == "metrics"
    assert port["protocol"] == "TCP"
    assert port["targetPort"] == "health"
    container_ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    # The target is a named container port the NetworkPolicy lets in.
    ingress_ports = port_rules(network_policy()["spec"]["ingress"])
    assert ("TCP", container_ports[port["targetPort"]]) in ingress_ports


def test_service_monitor_scrapes_the_metrics_service_every_30_seconds() -> None:
    monitor = service_monitor()
    service = metrics_service()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"] == OPSBOT_NAMESPACE
    spec = monitor["spec"]
    assert set(spec) == {"selector", "namespaceSelector", "endpoints"}
    # Selects the Service by its labels, and only it (not e.g. anything named opsbot).
    selector = spec["selector"]
    assert set(selector) == {"matchLabels"}
    assert selector["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert "app.kubernetes.io/component" in selector["matchLabels"]
    assert spec["namespaceSelector"] == {"matchNames": [service["metadata"]["namespace"]]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert "targetPort" not in endpoint, "deprecated; scrape by the Service's port name"
    assert endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "30s"
    assert endpoint.get("scheme", "http") == "http"
    if "scrapeTimeout" in endpoint:
        assert int(endpoint["scrapeTimeout"].removesuffix("s")) < 30


# --- Deployment ---------------------------------------------------------------


def test_deployment_runs_one_worker_replaced_with_recreate() -> None:
    spec = deployment()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()


def test_termination_grace_period_outlasts_the_bots_graceful_shutdown() -> None:
    """SIGKILL must not cut the drain of in-flight commands and the outbox flush short."""
    from opsbot.app import Bot  # here: a heavy import only this test needs

    drain = inspect.signature(Bot.stop).parameters["grace"].default
    outbox_flush = 5.0  # Bot.stop: outbox.close(timeout=5.0)
    assert isinstance(drain, float)
    assert pod_spec()["terminationGracePeriodSeconds"] >= drain + outbox_flush + 10


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
    assert security["fsGroupChangePolicy"] == "OnRootMismatch"
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
    assert resources["requests"] == {"cpu": "50m", "memory": "144Mi"}
    assert resources["limits"] == {"memory": "256Mi"}


def test_memory_request_covers_the_measured_peak_and_the_limit_leaves_headroom() -> None:
    resources = container()["resources"]
    request = mebibytes(resources["requests"]["memory"])
    limit = mebibytes(resources["limits"]["memory"])
    assert request >= 1.2 * MEASURED_PEAK_MIB
    assert limit >= 2 * MEASURED_PEAK_MIB
    assert limit >= 1.5 * MEASURED_LIVE_PEAK_MIB
    assert limit > request


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
    assert c["ports"] == [{"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_startup_probe_gates_liveness_so_a_slow_start_is_not_killed() -> None:
    c = container()
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60
    # Liveness and readiness begin only after the startup probe succeeded.
    assert "initialDelaySeconds" not in c["livenessProbe"]
    assert "initialDelaySeconds" not in c["readinessProbe"]


def test_liveness_restarts_only_after_the_heartbeat_stayed_stale_for_several_periods() -> None:
    liveness = container()["livenessProbe"]
    assert liveness["failureThreshold"] >= 3
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > STALE_AFTER_SECONDS
    assert liveness["timeoutSeconds"] < liveness["periodSeconds"]


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
    """No scope the code does not call (equality with the doctor's table is in
    tests/unit/test_doctor_requirements.py); in particular none for DMs it never opens or
    reactions it never adds."""
    scopes = slack_manifest()["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    assert not set(scopes) & {"im:read", "im:write", "reactions:write", "chat:write.public", "channels:join"}
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


# --- the image `make image` builds is the image the manifests run ----------------------

CONSTRAINTS = ROOT / "constraints.txt"


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """`make` in the project, outside any make running these tests."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def build_stage() -> list[Instruction]:
    return containerfile_stages()[0]


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version and ";" not in line, f"not an exact pin: {line!r}"
        found[canonicalize_name(name)] = version
    return found


def test_make_image_builds_the_tag_the_manifests_run_with_the_package_version() -> None:
    result = make("-n", "image", "ENGINE=podman")
    assert result.returncode == 0, result.stderr
    (command,) = [line for line in result.stdout.splitlines() if " build " in line]
    words = command.split()
    assert words[:2] == ["podman", "build"]
    assert words[words.index("-t") + 1] == container()["image"]
    assert words[words.index("-f") + 1] == "Containerfile"
    assert f"VERSION={opsbot.__version__}" in words
    assert container()["image"].endswith(f":{opsbot.__version__}")
    # `push` pushes that very tag.
    pushed = make("-n", "push", "ENGINE=podman").stdout.splitlines()[-1]
    assert pushed == f"podman push {container()['image']}"


def test_make_image_without_a_container_engine_says_so_in_one_line() -> None:
    result = make("image", "ENGINE=")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "neither podman nor docker is installed" in lines[0], result.stderr


def test_containerfile_version_label_is_the_package_version() -> None:
    final = dict(final_stage())
    assert final["ARG"] == f"VERSION={opsbot.__version__}"
    labels = " ".join(arg for kw, arg in final_stage() if kw == "LABEL")
    assert 'org.opencontainers.image.version="${VERSION}"' in labels


def test_containerfile_and_make_install_with_the_constraints_file() -> None:
    copies = " ".join(arg for kw, arg in build_stage() if kw == "COPY")
    assert "constraints.txt" in copies.split()
    (wheel,) = [arg for kw, arg in build_stage() if kw == "RUN" and "pip wheel" in arg]
    assert "--constraint constraints.txt" in wheel
    # The Makefile's virtualenv: every pip install of it is constrained, and a changed
    # constraints.txt rebuilds it.
    result = make("-n", "-W", "constraints.txt", ".venv/.installed")
    assert result.returncode == 0, result.stderr
    installs = [line for line in result.stdout.splitlines() if "pip install" in line]
    assert len(installs) == 2 and all("--constraint constraints.txt" in line for line in installs)
    assert "\nlock:" in (ROOT / "Makefile").read_text()


def test_constraints_pin_every_declared_dependency_within_its_range() -> None:
    pinned = pins()
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    declared = parser["options"]["install_requires"].split("\n")
    for extra in ("test", "otel", "sentry"):
        declared += parser["options.extras_require"][extra].split("\n")
    for line in filter(None, (d.strip() for d in declared)):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not pinned in constraints.txt (run `make lock`)"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (line, pinned[name])
    assert "opsbot" not in pinned


def test_the_virtualenv_make_built_has_exactly_the_pinned_versions() -> None:
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not running in the project's .venv")
    for name, version in pins().items():
        assert importlib.metadata.version(name) == version, name


def test_containerfile_exposes_the_health_port() -> None:
    exposed = [arg for kw, arg in final_stage() if kw == "EXPOSE"]
    assert exposed == [str(HEALTH_PORT)]
    assert "future" not in CONTAINERFILE.read_text()


def test_the_documented_images_override_points_the_deployment_elsewhere(
    kustomize: tuple[str, ...], tmp_path: Path
) -> None:
    lines = (MANIFESTS / "kustomization.yaml").read_text().splitlines()
    block = []
    for line in lines[lines.index("# images:") :]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    images = yaml.safe_load("\n".join(block))["images"]
    assert images[0]["name"] == container()["image"].rsplit(":", 1)[0]
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    root = kustomization(MANIFESTS)
    root["images"] = images
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(root))
    (rendered,) = [d for d in render(kustomize, copy) if d["kind"] == "Deployment"]
    (rendered_container,) = rendered["spec"]["template"]["spec"]["containers"]
    assert rendered_container["image"] == f"{images[0]['newName']}:{images[0]['newTag']}"


# --- alertmanager component ------------------------------------------------------------


def test_alertmanager_component_exposes_the_receiver_port_to_alertmanager_only() -> None:
    """The receiver's routes live on the health port (opsbot.health routes); the Service and the
    policy follow the config's port, and the kustomization's example URL the code's path."""
    from opsbot.alertmanager.receiver import STATUS_PATH, WEBHOOK_PATH

    service = the("Service", docs_of(ALERTMANAGER))
    assert service["spec"]["selector"] == deployment()["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [{"name": "receiver", "protocol": "TCP", "port": HEALTH_PORT, "targetPort": "health"}]
    policy = the("NetworkPolicy", docs_of(ALERTMANAGER))
    assert policy["spec"]["podSelector"] == network_policy()["spec"]["podSelector"]
    alertmanager_pods = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}},
    }
    assert policy["spec"]["ingress"] == [{"from": [alertmanager_pods], "ports": [{"protocol": "TCP", "port": HEALTH_PORT}]}]
    assert policy["spec"]["egress"] == [{"to": [alertmanager_pods], "ports": [{"protocol": "TCP", "port": 9093}]}]
    text = (ALERTMANAGER / "kustomization.yaml").read_text()
    assert f"opsbot-alertmanager.opsbot.svc:{HEALTH_PORT}{WEBHOOK_PATH}" in text
    assert STATUS_PATH in text


def test_alertmanager_secrets_come_from_optional_secret_key_refs_named_in_the_code() -> None:
    from opsbot.alertmanager.secrets import API_TOKEN_ENV, WEBHOOK_TOKEN_ENV
    from opsbot.alertmanager.settings import DEFAULT_SIGNAL_SECRET_ENV

    env = {e["name"]: e for e in container()["env"]}
    keys = {WEBHOOK_TOKEN_ENV: "webhook-token", DEFAULT_SIGNAL_SECRET_ENV: "signal-secret", API_TOKEN_ENV: "api-token"}
    for name, key in keys.items():
        assert env[name]["valueFrom"] == {
            "secretKeyRef": {"name": "opsbot-alertmanager", "key": key, "optional": True}
        }, name
        assert f"--from-literal={key}=" in (ALERTMANAGER / "kustomization.yaml").read_text() or key == "api-token"


def test_the_release_follow_up_is_granted_by_the_base_role_and_the_releases_component() -> None:
    """With releases configured, check-config asks for the Deployment watch in the apps'
    namespaces (the base Role) and the Flux objects in flux-system (components/releases)."""
    with_releases = parse_settings(
        {
            "clusters": {"prod": {"in_cluster": True}},
            "alerts": {"enabled": False},
            "releases": {
                "repositories": {"fleet": {"url": "https://git.example.com/org/fleet.git"}},
                "defaults": {"layout": "helm-chart", "path": "apps/{cluster}/{app}-values.yaml"},
                "apps": {"podinfo": {"namespace": "default"}},
                "clusters": {"prod": {"repository": "fleet", "flux": {"kind": "Kustomization", "name": "apps"}}},
            },
        }
    )
    needs = [p for p in cluster_requirements(with_releases, "prod").permissions if FOLLOW_UP in p.needed_by]
    assert {(p.verb, p.resource, p.namespace) for p in needs} >= {
        ("watch", "deployments", "default"),
        ("get", "deployments", "default"),
        ("list", "pods", "default"),
        ("watch", "kustomizations", FLUX_NAMESPACE),
        ("get", "kustomizations", FLUX_NAMESPACE),
    }
    namespaced = grants(the("Role", docs_of(BASE)))
    flux = grants(the("Role", docs_of(RELEASES)))
    for permission in needs:
        granted = flux if permission.namespace == FLUX_NAMESPACE else namespaced
        assert permission.verb in granted.get((permission.group, permission.resource_path), set()), permission


def test_ha_component_grants_exactly_the_lease_calls_in_opsbots_namespace() -> None:
    """Least privilege: what LeasePort declares (get, create, update on leases), in opsbot's
    namespace only, bound to opsbot's ServiceAccount."""
    role = the("Role", docs_of(HA))
    assert role["metadata"]["namespace"] == OPSBOT_NAMESPACE
    assert grants(role) == grants_of(call for calls in lease_api_calls().values() for call in calls)
    binding = the("RoleBinding", docs_of(HA))
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": OPSBOT_NAMESPACE}]


def test_ha_component_runs_three_spread_replicas_with_a_disruption_budget_and_their_identity(
    kustomize: tuple[str, ...], tmp_path: Path
) -> None:
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    root = kustomization(MANIFESTS)
    root["components"] = ["components/ha"]
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(root))
    kinds = by_kind(render(kustomize, copy))
    (rendered,) = kinds["Deployment"]
    spec = rendered["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    pod = spec["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    # The address advertised to the other replicas (ha.advertise_url's default).
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["OPSBOT_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "opsbot-redis", "key": "url"}
    assert env["OPSBOT_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "SLACK_BOT_TOKEN" in env  # merged into the base's list, not replacing it
    resources = pod["containers"][0]["resources"]
    assert mebibytes(resources["requests"]["memory"]) >= 1.2 * MEASURED_REPLICA_PEAK_MIB
    assert mebibytes(resources["limits"]["memory"]) >= 2 * MEASURED_REPLICA_PEAK_MIB
    assert resources["requests"]["cpu"] == "50m"  # the base's, kept by the merge
    state = next(v for v in pod["volumes"] if v["name"] == "state")
    assert "emptyDir" in state and "persistentVolumeClaim" not in state
    (budget,) = kinds["PodDisruptionBudget"]
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    policies = {d["metadata"]["name"] for d in kinds["NetworkPolicy"]}
    assert policies == {"opsbot", "opsbot-apiserver", "opsbot-replicas"}


def test_ha_component_lets_the_replicas_reach_each_others_health_port_and_nothing_else() -> None:
    """A replica not running the Alertmanager loops forwards to the one that does, at
    http://$POD_IP:<health port>: in from and out to opsbot's own pods, on that port only."""
    policy = the("NetworkPolicy", docs_of(HA))
    assert policy["metadata"] == {"name": "opsbot-replicas", "namespace": OPSBOT_NAMESPACE}
    assert policy["spec"]["podSelector"] == network_policy()["spec"]["podSelector"]
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    replicas = {"podSelector": {"matchLabels": deployment()["spec"]["selector"]["matchLabels"]}}
    health = [{"protocol": "TCP", "port": HEALTH_PORT}]
    assert policy["spec"]["ingress"] == [{"from": [replicas], "ports": health}]
    assert policy["spec"]["egress"] == [{"to": [replicas], "ports": health}]
    patch = (HA / "deployment-patch.yaml").read_text()
    assert "POD_IP" in patch and "status.podIP" in patch
