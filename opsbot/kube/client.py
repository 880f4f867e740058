"""The one place opsbot calls the Kubernetes API for commands.

Responses are read raw (`_preload_content=False`) and decoded with orjson
(`opsbot.kube.calls`): building the generated pydantic models costs 10-30x more CPU per
object, and commands need a few fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s

from opsbot.core.rows import DeploymentRow, NodeRow, PodRow, deployment_row, node_row, pod_row
from opsbot.errors import NotFoundError
from opsbot.kube.calls import ApiCalls
from opsbot.kube.impersonation import ImpersonatingApiClient
from opsbot.kube.rows import RowSource
from opsbot.ports import Identity, KubeObject


class KubeClient(ApiCalls):
    """KubePort for one cluster, over the official client's ApiClient."""

    def __init__(
        self,
        cluster: str,
        api_client: k8s.ApiClient,
        *,
        timeout: float,
        identity: Identity | None = None,
        rows: RowSource | None = None,
    ) -> None:
        super().__init__(cluster, timeout=timeout, identity=identity)
        # Cached rows answer only for opsbot's own identity: an impersonated request must
        # meet the person's RBAC, which only the API server knows.
        self._cached = rows if identity is None else None
        self.api_client = api_client
        calls = api_client if identity is None else ImpersonatingApiClient(api_client, identity)
        self._core = k8s.CoreV1Api(calls)
        self._apps = k8s.AppsV1Api(calls)
        self._authz = k8s.AuthorizationV1Api(calls)
        self._authn = k8s.AuthenticationV1Api(calls)
        self._version = k8s.VersionApi(calls)
        self._custom = k8s.CustomObjectsApi(calls)
        self._coordination = k8s.CoordinationV1Api(calls)

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
        return KubeClient(
            self._cluster, self.api_client, timeout=self._timeout, identity=self.identity
        )

    # KubePort ----------------------------------------------------------

    def pod_rows(
        self, namespace: str | None, *, selector: str | None = None, node: str | None = None
    ) -> list[PodRow]:
        cached = self._cached.pod_rows(self._cluster, namespace, selector) if self._cached else None
        if cached is not None:
            return [row for row in cached if row.node == node] if node else cached
        pages = self._scoped_pages(
            self._core.list_pod_for_all_namespaces,
            self._core.list_namespaced_pod,
            namespace,
            what="pods",
            label_selector=selector,
            field_selector=f"spec.nodeName={node}" if node else None,
        )
        return [pod_row(pod) for page in pages for pod in page]

    def deployment_rows(self, namespace: str | None, *, selector: str | None = None) -> list[DeploymentRow]:
        cached = self._cached.deployment_rows(self._cluster, namespace, selector) if self._cached else None
        if cached is not None:
            return cached
        pages = self._scoped_pages(
            self._apps.list_deployment_for_all_namespaces,
            self._apps.list_namespaced_deployment,
            namespace,
            what="deployments",
            label_selector=selector,
        )
        return [deployment_row(deployment) for page in pages for deployment in page]

    def node_rows(self) -> list[NodeRow]:
        cached = self._cached.node_rows(self._cluster) if self._cached else None
        if cached is not None:
            return cached
        return [
            node_row(node)
            for page in self._pages(self._core.list_node, what="nodes", namespace=None)
            for node in page
        ]

    def list_pods(
        self, namespace: str | None, *, selector: str | None = None, field_selector: str | None = None
    ) -> list[KubeObject]:
        return self._scoped_items(
            self._core.list_pod_for_all_namespaces,
            self._core.list_namespaced_pod,
            namespace,
            what="pods",
            label_selector=selector,
            field_selector=field_selector,
        )

    def get_pod(self, namespace: str, name: str) -> KubeObject:
        return self._json(
            self._core.read_namespaced_pod, name, namespace, what=f"pod `{name}`", namespace=namespace
        )

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
            self._core.read_namespaced_pod_log,
            name,
            namespace,
            what=f"logs of pod `{name}`",
            namespace=namespace,
            container=container,
            tail_lines=tail_lines,
            previous=previous or None,
            since_seconds=since_seconds,
            limit_bytes=limit_bytes,
            timestamps=timestamps or None,
        )
        return data.decode("utf-8", "replace")

    def list_deployments(self, namespace: str | None, *, selector: str | None = None) -> list[KubeObject]:
        return self._scoped_items(
            self._apps.list_deployment_for_all_namespaces,
            self._apps.list_namespaced_deployment,
            namespace,
            what="deployments",
            label_selector=selector,
        )

    def get_deployment(self, namespace: str, name: str) -> KubeObject:
        return self._json(
            self._apps.read_namespaced_deployment,
            name,
            namespace,
            what=f"deployment `{name}`",
            namespace=namespace,
        )

    def list_statefulsets(self, namespace: str) -> list[KubeObject]:
        return self._items(
            self._apps.list_namespaced_stateful_set, namespace, what="statefulsets", namespace=namespace
        )

    def list_daemonsets(self, namespace: str) -> list[KubeObject]:
        return self._items(
            self._apps.list_namespaced_daemon_set, namespace, what="daemonsets", namespace=namespace
        )

    def list_replicasets(self, namespace: str, *, selector: str | None = None) -> list[KubeObject]:
        return self._items(
            self._apps.list_namespaced_replica_set,
            namespace,
            what="replicasets",
            namespace=namespace,
            label_selector=selector,
        )

    def list_nodes(self) -> list[KubeObject]:
        return self._items(self._core.list_node, what="nodes", namespace=None)

    def get_node(self, name: str) -> KubeObject:
        return self._json(self._core.read_node, name, what=f"node `{name}`", namespace=None)

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[KubeObject]:
        return self._scoped_items(
            self._core.list_event_for_all_namespaces,
            self._core.list_namespaced_event,
            namespace,
            what="events",
            field_selector=field_selector,
        )

    def get_scale(self, namespace: str, name: str) -> KubeObject:
        return self._json(
            self._apps.read_namespaced_deployment_scale,
            name,
            namespace,
            what=f"deployment `{name}`",
            namespace=namespace,
        )

    def scale_deployment(
        self, namespace: str, name: str, replicas: int, *, dry_run: bool = False
    ) -> KubeObject:
        return self._json(
            self._apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            {"spec": {"replicas": replicas}},
            what=f"deployment `{name}`",
            namespace=namespace,
            dry_run="All" if dry_run else None,
        )

    def restart_deployment(
        self, namespace: str, name: str, at: datetime, *, dry_run: bool = False
    ) -> KubeObject:
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {
            "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}
        }
        return self._json(
            self._apps.patch_namespaced_deployment,
            name,
            namespace,
            patch,
            what=f"deployment `{name}`",
            namespace=namespace,
            dry_run="All" if dry_run else None,
        )

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
        return self._json(
            self._apps.patch_namespaced_deployment,
            name,
            namespace,
            patch,
            what=f"deployment `{name}`",
            namespace=namespace,
            dry_run="All" if dry_run else None,
            _content_type="application/strategic-merge-patch+json",
        )

    def json_patch_deployment(
        self, namespace: str, name: str, operations: list[dict[str, Any]], *, dry_run: bool = False
    ) -> KubeObject:
        return self._json(
            self._apps.patch_namespaced_deployment,
            name,
            namespace,
            operations,
            what=f"deployment `{name}`",
            namespace=namespace,
            dry_run="All" if dry_run else None,
            _content_type="application/json-patch+json",
        )

    def get_flux_kustomization(self, namespace: str, name: str) -> KubeObject:
        return self._json(
            self._custom.get_namespaced_custom_object,
            "kustomize.toolkit.fluxcd.io",
            "v1",
            namespace,
            "kustomizations",
            name,
            what=f"Flux Kustomization `{name}`",
            namespace=namespace,
        )

    def get_flux_helmrelease(self, namespace: str, name: str) -> KubeObject:
        return self._json(
            self._custom.get_namespaced_custom_object,
            "helm.toolkit.fluxcd.io",
            "v2",
            namespace,
            "helmreleases",
            name,
            what=f"Flux HelmRelease `{name}`",
            namespace=namespace,
        )

    # leader election (LeasePort) -------------------------------------------

    def get_lease(self, namespace: str, name: str) -> KubeObject | None:
        try:
            return self._json(
                self._coordination.read_namespaced_lease,
                name,
                namespace,
                what=f"lease `{name}`",
                namespace=namespace,
            )
        except NotFoundError:
            return None

    def create_lease(self, namespace: str, lease: KubeObject) -> KubeObject:
        name = str((lease.get("metadata") or {}).get("name", ""))
        return self._json(
            self._coordination.create_namespaced_lease,
            namespace,
            lease,
            what=f"lease `{name}`",
            namespace=namespace,
        )

    def replace_lease(self, namespace: str, name: str, lease: KubeObject) -> KubeObject:
        return self._json(
            self._coordination.replace_namespaced_lease,
            name,
            namespace,
            lease,
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
        return self._json(self._version.get_code, what="the server version", namespace=None)

    def whoami(self) -> str | None:
        """The user name these credentials authenticate as (SelfSubjectReview); None before 1.28."""
        try:
            review = self._json(
                self._authn.create_self_subject_review,
                k8s.V1SelfSubjectReview(),
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
        attributes = k8s.V1ResourceAttributes(
            verb=verb,
            group=group,
            resource=resource,
            subresource=subresource or None,
            namespace=namespace or None,
            name=name or None,
        )
        review = self._json(
            self._authz.create_self_subject_access_review,
            k8s.V1SelfSubjectAccessReview(
                spec=k8s.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
            ),
            what=f"an access review of {verb} {resource}",
            namespace=namespace,
        )
        return bool((review.get("status") or {}).get("allowed"))
