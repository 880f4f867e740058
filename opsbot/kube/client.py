"""The one place opsbot calls the Kubernetes API for commands.

Requests go by path (`opsbot.kube.rest`: the official ApiClient without its generated API
classes, which cost ~25 MiB of imports and a pydantic validator per method). Responses are
read raw and decoded with orjson (`opsbot.kube.calls`): building the generated pydantic
models costs 10-30x more CPU per object, and commands need a few fields. Lists are read
page by page, each page turned into rows at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.api_client import ApiClient

from opsbot.core.resources import ResourceName
from opsbot.core.rows import DeploymentRow, NodeRow, PodRow, deployment_row, node_row, pod_row
from opsbot.errors import NotFoundError
from opsbot.kube import rest
from opsbot.kube.calls import ApiCalls
from opsbot.kube.rows import RowSource
from opsbot.ports import Identity, KubeObject

# The reads a watch cache may answer, and of which resource.
CACHED_READS: Mapping[str, ResourceName] = {"pod_rows": "pods", "deployment_rows": "deployments", "node_rows": "nodes"}
LEASES = "coordination.k8s.io/v1"


class KubeClient(ApiCalls):
    """KubePort for one cluster, over the official client's ApiClient."""

    def __init__(
        self,
        cluster: str,
        api_client: ApiClient,
        *,
        timeout: float,
        identity: Identity | None = None,
        rows: RowSource | None = None,
    ) -> None:
        super().__init__(cluster, api_client, timeout=timeout, identity=identity)
        # Cached rows answer only for opsbot's own identity: an impersonated request must
        # meet the person's RBAC, which only the API server knows.
        self._cached = rows if identity is None else None

    @property
    def cluster(self) -> str:
        return self._cluster

    def with_identity(self, identity: Identity | None) -> KubeClient:
        """A view of this client whose every call impersonates `identity`.

        Cheap (no new connection pool: it shares this client's ApiClient); build one per
        request. `None` gives this client back.
        """
        if identity is None or identity == self.identity:
            return self
        return KubeClient(self._cluster, self.api_client, timeout=self._timeout, identity=identity)

    def uncached(self) -> KubeClient:
        """This client listing live even where a watch cache could answer (tests, benchmarks)."""
        return KubeClient(self._cluster, self.api_client, timeout=self._timeout, identity=self.identity)

    # KubePort ----------------------------------------------------------

    def cached(self, method: str, namespace: str | None) -> bool:
        resource = CACHED_READS.get(method)
        if resource is None or self._cached is None:
            return False
        return self._cached.covers(self._cluster, resource, None if resource == "nodes" else namespace)

    def pod_rows(
        self, namespace: str | None, *, selector: str | None = None, node: str | None = None
    ) -> list[PodRow]:
        cached = self._cached.pod_rows(self._cluster, namespace, selector) if self._cached else None
        if cached is not None:
            return [row for row in cached if row.node == node] if node else cached
        path = rest.collection("v1", "pods", namespace)
        return self._rows(
            path,
            pod_row,
            what="pods",
            namespace=namespace,
            labelSelector=selector,
            fieldSelector=f"spec.nodeName={node}" if node else None,
        )

    def deployment_rows(self, namespace: str | None, *, selector: str | None = None) -> list[DeploymentRow]:
        cached = self._cached.deployment_rows(self._cluster, namespace, selector) if self._cached else None
        if cached is not None:
            return cached
        path = rest.collection("apps/v1", "deployments", namespace)
        return self._rows(path, deployment_row, what="deployments", namespace=namespace, labelSelector=selector)

    def node_rows(self) -> list[NodeRow]:
        cached = self._cached.node_rows(self._cluster) if self._cached else None
        if cached is not None:
            return cached
        return self._rows(rest.collection("v1", "nodes"), node_row, what="nodes", namespace=None)

    def list_pods(
        self, namespace: str | None, *, selector: str | None = None, field_selector: str | None = None
    ) -> list[KubeObject]:
        return self._items(
            rest.collection("v1", "pods", namespace),
            what="pods",
            namespace=namespace,
            labelSelector=selector,
            fieldSelector=field_selector,
        )

    def get_pod(self, namespace: str, name: str) -> KubeObject:
        return self._get(rest.item("v1", "pods", namespace, name), what=f"pod `{name}`", namespace=namespace)

    def read_pod_log(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None,
        tail_lines: int | None,
        previous: bool,
        since_seconds: int | None,
        limit_bytes: int | None,
        timestamps: bool = False,
    ) -> str:
        data = self._raw(
            "GET",
            rest.item("v1", "pods", namespace, name, "log"),
            what=f"logs of pod `{name}`",
            namespace=namespace,
            accept="*/*",
            query={
                "container": container,
                "tailLines": tail_lines,
                "previous": previous or None,
                "sinceSeconds": since_seconds,
                "limitBytes": limit_bytes,
                "timestamps": timestamps or None,
            },
        )
        return data.decode("utf-8", "replace")

    def list_deployments(self, namespace: str | None, *, selector: str | None = None) -> list[KubeObject]:
        return self._items(
            rest.collection("apps/v1", "deployments", namespace),
            what="deployments",
            namespace=namespace,
            labelSelector=selector,
        )

    def get_deployment(self, namespace: str, name: str) -> KubeObject:
        return self._get(
            rest.item("apps/v1", "deployments", namespace, name), what=f"deployment `{name}`", namespace=namespace
        )

    def list_statefulsets(self, namespace: str) -> list[KubeObject]:
        return self._items(
            rest.collection("apps/v1", "statefulsets", namespace), what="statefulsets", namespace=namespace
        )

    def list_daemonsets(self, namespace: str) -> list[KubeObject]:
        return self._items(
            rest.collection("apps/v1", "daemonsets", namespace), what="daemonsets", namespace=namespace
        )

    def list_replicasets(self, namespace: str, *, selector: str | None = None) -> list[KubeObject]:
        return self._items(
            rest.collection("apps/v1", "replicasets", namespace),
            what="replicasets",
            namespace=namespace,
            labelSelector=selector,
        )

    def list_nodes(self) -> list[KubeObject]:
        return self._items(rest.collection("v1", "nodes"), what="nodes", namespace=None)

    def get_node(self, name: str) -> KubeObject:
        return self._get(rest.item("v1", "nodes", None, name), what=f"node `{name}`", namespace=None)

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[KubeObject]:
        return self._items(
            rest.collection("v1", "events", namespace),
            what="events",
            namespace=namespace,
            fieldSelector=field_selector,
        )

    def get_scale(self, namespace: str, name: str) -> KubeObject:
        return self._get(
            rest.item("apps/v1", "deployments", namespace, name, "scale"),
            what=f"deployment `{name}`",
            namespace=namespace,
        )

    def _patch_deployment(
        self,
        namespace: str,
        name: str,
        patch: Any,
        content_type: str,
        *,
        dry_run: bool,
        subresource: str = "",
    ) -> KubeObject:
        return self._json(
            "PATCH",
            rest.item("apps/v1", "deployments", namespace, name, subresource),
            what=f"deployment `{name}`",
            namespace=namespace,
            query={"dryRun": "All" if dry_run else None},
            body=patch,
            content_type=content_type,
        )

    def scale_deployment(
        self, namespace: str, name: str, replicas: int, *, dry_run: bool = False
    ) -> KubeObject:
        return self._patch_deployment(
            namespace,
            name,
            {"spec": {"replicas": replicas}},
            rest.STRATEGIC_MERGE_PATCH,
            dry_run=dry_run,
            subresource="scale",
        )

    def restart_deployment(
        self, namespace: str, name: str, at: datetime, *, dry_run: bool = False
    ) -> KubeObject:
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {
            "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}
        }
        return self._patch_deployment(namespace, name, patch, rest.STRATEGIC_MERGE_PATCH, dry_run=dry_run)

    def set_deployment_image(
        self,
        namespace: str,
        name: str,
        container: str,
        image: str,
        *,
        labels: Mapping[str, str] | None = None,
        template_labels: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> KubeObject:
        template: dict[str, Any] = {"spec": {"containers": [{"name": container, "image": image}]}}
        if template_labels:
            template["metadata"] = {"labels": dict(template_labels)}
        patch: dict[str, Any] = {"spec": {"template": template}}
        if labels:
            patch["metadata"] = {"labels": dict(labels)}
        return self._patch_deployment(namespace, name, patch, rest.STRATEGIC_MERGE_PATCH, dry_run=dry_run)

    def json_patch_deployment(
        self, namespace: str, name: str, operations: list[dict[str, Any]], *, dry_run: bool = False
    ) -> KubeObject:
        return self._patch_deployment(namespace, name, operations, rest.JSON_PATCH, dry_run=dry_run)

    def get_flux_kustomization(self, namespace: str, name: str) -> KubeObject:
        return self._get(
            rest.item("kustomize.toolkit.fluxcd.io/v1", "kustomizations", namespace, name),
            what=f"Flux Kustomization `{name}`",
            namespace=namespace,
        )

    def get_flux_helmrelease(self, namespace: str, name: str) -> KubeObject:
        return self._get(
            rest.item("helm.toolkit.fluxcd.io/v2", "helmreleases", namespace, name),
            what=f"Flux HelmRelease `{name}`",
            namespace=namespace,
        )

    # leader election (LeasePort) -------------------------------------------

    def get_lease(self, namespace: str, name: str) -> KubeObject | None:
        try:
            return self._get(rest.item(LEASES, "leases", namespace, name), what=f"lease `{name}`", namespace=namespace)
        except NotFoundError:
            return None

    def create_lease(self, namespace: str, lease: KubeObject) -> KubeObject:
        name = str((lease.get("metadata") or {}).get("name", ""))
        return self._json(
            "POST",
            rest.collection(LEASES, "leases", namespace),
            body=lease,
            what=f"lease `{name}`",
            namespace=namespace,
        )

    def replace_lease(self, namespace: str, name: str, lease: KubeObject) -> KubeObject:
        return self._json(
            "PUT",
            rest.item(LEASES, "leases", namespace, name),
            body=lease,
            what=f"lease `{name}`",
            namespace=namespace,
        )

    # self-checks (`opsbot check-config`) ----------------------------------

    @property
    def server(self) -> str:
        """The API server's URL (no credentials in it)."""
        return str(self.api_client.configuration.host)

    def server_version(self) -> KubeObject:
        """GET /version: the cheapest request that proves the API server answers."""
        return self._get("/version/", what="the server version", namespace=None)

    def whoami(self) -> str | None:
        """The user name these credentials authenticate as (SelfSubjectReview); None before 1.28."""
        try:
            review = self._json(
                "POST",
                rest.collection("authentication.k8s.io/v1", "selfsubjectreviews"),
                body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                what="a self subject review",
                namespace=None,
            )
        except NotFoundError:
            return None
        user = ((review.get("status") or {}).get("userInfo") or {}).get("username")
        return str(user) if user else None

    def can_i(
        self,
        verb: str,
        resource: str,
        *,
        group: str = "",
        subresource: str = "",
        namespace: str | None = None,
        name: str = "",
    ) -> bool:
        """May these credentials do it? One SelfSubjectAccessReview: asks, changes nothing.

        ``namespace=None``: cluster-scoped, or across all namespaces for a namespaced resource.
        """
        attributes = {
            "verb": verb,
            "group": group,
            "resource": resource,
            "subresource": subresource or None,
            "namespace": namespace or None,
            "name": name or None,
        }
        review = self._json(
            "POST",
            rest.collection("authorization.k8s.io/v1", "selfsubjectaccessreviews"),
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {k: v for k, v in attributes.items() if v is not None}},
            },
            what=f"an access review of {verb} {resource}",
            namespace=namespace,
        )
        return bool((review.get("status") or {}).get("allowed"))
