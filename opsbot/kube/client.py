"""The one place opsbot calls the Kubernetes API for commands.

Responses are read raw (`_preload_content=False`) and decoded with orjson:
building the generated pydantic models costs 10-30x more CPU per object, and commands need
a few fields. Every call has a timeout; every failure leaves here as an opsbot
KubeError whose message names the object, the namespace and the cluster.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from opsbot.config import ClusterSettings
from opsbot.errors import (
    ClusterUnreachableError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    KubeError,
    KubeTimeoutError,
    NotFoundError,
    TemporaryKubeError,
    UnauthorizedError,
)
from opsbot.ports import Identity, KubeObject

_FORBIDDEN = re.compile(
    r'(?:User "(?P<user>[^"]*)" )?'
    r'cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"'
    r'(?: in the namespace "(?P<namespace>[^"]+)"| at the cluster scope)?'
)


def _status_message(exc: ApiException) -> tuple[str, str]:
    """(reason, message) from a Status body, tolerating non-JSON bodies."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.startswith("{"):
        try:
            status = json.loads(body)
            return str(status.get("reason", "")), str(status.get("message", ""))
        except ValueError:
            pass
    return str(exc.reason or ""), (body if isinstance(body, str) else "")[:300]


def translate(
    exc: Exception, *, cluster: str, what: str, namespace: str | None, impersonating: str | None = None
) -> KubeError:
    """Map a client-library failure to an opsbot error a person can act on.

    `impersonating`: the user the call impersonated. A Forbidden naming that user is the
    cluster's RBAC refusing the *person*, not opsbot's service account, and says so.
    """
    where = f" in namespace `{namespace}`" if namespace else ""
    place = f"{where} on cluster `{cluster}`"
    if isinstance(exc, ApiException):
        reason, message = _status_message(exc)
        status = exc.status or 0
        if status == 404:
            return NotFoundError(f"{what} not found{place}.", cluster=cluster)
        if status == 403:
            found = _FORBIDDEN.search(message)
            if found:
                group = f" (API group `{found['group']}`)" if found["group"] else ""
                scope = (
                    f"in namespace `{found['namespace']}`" if found["namespace"] else "at the cluster scope"
                )
                if impersonating is not None and found["user"] == impersonating:
                    return ForbiddenError(
                        f"the cluster's RBAC does not allow you (User `{impersonating}`: opsbot acts "
                        f"as you on this cluster) to *{found['verb']}* `{found['resource']}`{group} "
                        f"{scope} on cluster `{cluster}`. Ask a cluster admin to grant it to "
                        f"`{impersonating}` or one of your groups (a RoleBinding or ClusterRoleBinding).",
                        cluster=cluster,
                    )
                if found["verb"] == "impersonate":
                    return ForbiddenError(
                        f"opsbot's service account may not *impersonate* `{found['resource']}` on "
                        f"cluster `{cluster}`, but impersonation is enabled in opsbot's config: apply "
                        f"manifests/components/impersonation/ (and list your groups there) "
                        f"or turn impersonation off.",
                        cluster=cluster,
                    )
                # Writes come from the opt-in operate component, reads from the base Role.
                where = (
                    "manifests/components/operate/"
                    if found["verb"] in ("patch", "update")
                    else "manifests/base/role.yaml"
                )
                return ForbiddenError(
                    f"opsbot's service account may not *{found['verb']}* `{found['resource']}`{group} "
                    f"{scope} on cluster `{cluster}`. Grant it in opsbot's Role "
                    f"(see {where}) or use a namespace it covers.",
                    cluster=cluster,
                )
            return ForbiddenError(f"forbidden{place}: {message[:300]}", cluster=cluster)
        if status == 401:
            return UnauthorizedError(
                f"cluster `{cluster}` rejected opsbot's credentials "
                "(check its service account or kubeconfig).",
                cluster=cluster,
            )
        if status == 409:
            return ConflictError(f"conflict on {what}{place}: {message[:300]}", cluster=cluster)
        if status in (400, 422):
            return InvalidRequestError(f"{message[:500] or reason}{place}.", cluster=cluster)
        if status == 0:
            return ClusterUnreachableError(
                f"cluster `{cluster}` could not be reached ({reason[:200]}).", cluster=cluster
            )
        if status == 504 or reason == "Timeout":
            return KubeTimeoutError(f"cluster `{cluster}` timed out on {what}.", cluster=cluster)
        return TemporaryKubeError(
            f"cluster `{cluster}` answered {status} {reason} for {what}: {message[:200]}", cluster=cluster
        )
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # NewConnectionError subclasses ConnectTimeoutError, but "refused" is not "slow".
    if isinstance(exc, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError)):
        return ClusterUnreachableError(
            f"cluster `{cluster}` is unreachable (connection refused).", cluster=cluster
        )
    if isinstance(
        exc, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError, TimeoutError)
    ):
        return KubeTimeoutError(f"cluster `{cluster}` did not answer in time ({what}).", cluster=cluster)
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return ClusterUnreachableError(
            f"cluster `{cluster}` is unreachable ({type(exc).__name__}).", cluster=cluster
        )
    raise exc


class _ImpersonatingApiClient(k8s.ApiClient):
    """The base ApiClient (same configuration, REST client and connection pool) adding
    Kubernetes impersonation headers to every request it sends.

    Not through the generated methods' `_headers`: the client turns header parameters
    into a plain dict, so only one `Impersonate-Group` would survive, while Kubernetes
    wants one header per group. Here they go to urllib3 as an HTTPHeaderDict, which
    sends each value as its own header line. (Through a plain-HTTP proxy urllib3 merges
    them into one comma-joined value; the API server then sees one unknown group, which
    fails closed.)
    """

    def __init__(self, base: k8s.ApiClient, identity: Identity) -> None:
        # No super().__init__(): that would build another REST client and pool.
        self.__dict__.update(base.__dict__)
        self._impersonation = impersonation_headers(identity)

    def call_api(
        self,
        method: Any,
        url: Any,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        headers = urllib3.HTTPHeaderDict()
        for key, value in (header_params or {}).items():
            if not key.lower().startswith("impersonate-"):
                headers.add(key, value)
        for key, value in self._impersonation:
            headers.add(key, value)
        return super().call_api(
            method, url, headers, body=body, post_params=post_params, _request_timeout=_request_timeout
        )


def impersonation_headers(identity: Identity) -> tuple[tuple[str, str], ...]:
    """`Impersonate-User` plus one `Impersonate-Group` per (distinct) group."""
    groups = tuple(dict.fromkeys(identity.groups))
    return (("Impersonate-User", identity.user), *(("Impersonate-Group", group) for group in groups))


class KubeClient:
    """KubePort for one cluster, over the official client's ApiClient."""

    def __init__(
        self,
        cluster: str,
        api_client: k8s.ApiClient,
        *,
        timeout: float,
        identity: Identity | None = None,
    ) -> None:
        self._cluster = cluster
        self.api_client = api_client
        self.identity = identity
        self._request_seconds = timeout
        calls = api_client if identity is None else _ImpersonatingApiClient(api_client, identity)
        self._core = k8s.CoreV1Api(calls)
        self._apps = k8s.AppsV1Api(calls)
        self._authz = k8s.AuthorizationV1Api(calls)
        self._authn = k8s.AuthenticationV1Api(calls)
        self._version = k8s.VersionApi(calls)
        self._timeout = (min(5.0, timeout), timeout)

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
        return KubeClient(self._cluster, self.api_client, timeout=self._request_seconds, identity=identity)

    # helpers -----------------------------------------------------------

    def _raw(
        self, call: Callable[..., Any], *args: Any, what: str, namespace: str | None, **kwargs: Any
    ) -> bytes:
        try:
            response = call(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            try:
                data: bytes = response.data
            finally:
                response.release_conn()
            return data
        except KubeError:
            raise
        except Exception as exc:
            raise translate(
                exc,
                cluster=self._cluster,
                what=what,
                namespace=namespace,
                impersonating=self.identity.user if self.identity else None,
            ) from None

    def _json(
        self, call: Callable[..., Any], *args: Any, what: str, namespace: str | None, **kwargs: Any
    ) -> KubeObject:
        data = self._raw(call, *args, what=what, namespace=namespace, **kwargs)
        decoded = orjson.loads(data)
        if not isinstance(decoded, dict):
            raise TemporaryKubeError(
                f"cluster `{self._cluster}` sent an unexpected answer for {what}.", cluster=self._cluster
            )
        return decoded

    def _items(
        self, call: Callable[..., Any], *args: Any, what: str, namespace: str | None, **kwargs: Any
    ) -> list[KubeObject]:
        items: list[KubeObject] = []
        token: str | None = None
        while True:
            page = self._json(
                call, *args, what=what, namespace=namespace, limit=500, _continue=token, **kwargs
            )
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return items

    # KubePort ----------------------------------------------------------

    def _scoped_items(
        self,
        everywhere: Callable[..., Any],
        namespaced: Callable[..., Any],
        namespace: str | None,
        *,
        what: str,
        **kwargs: Any,
    ) -> list[KubeObject]:
        """A list in one namespace, or across all of them when `namespace` is None."""
        if namespace is None:
            return self._items(everywhere, what=what, namespace=None, **kwargs)
        return self._items(namespaced, namespace, what=what, namespace=namespace, **kwargs)

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


def build_api_client(settings: ClusterSettings, *, environ_kubeconfig: str | None) -> k8s.ApiClient:
    """An ApiClient for one configured cluster (in-cluster or kubeconfig + context)."""
    if settings.in_cluster:
        configuration = k8s.Configuration()
        k8s_config.load_incluster_config(client_configuration=configuration)
    else:
        configuration = k8s.Configuration()
        path = settings.kubeconfig or environ_kubeconfig or "~/.kube/config"
        k8s_config.load_kube_config(
            config_file=path,
            context=settings.context,
            client_configuration=configuration,
            persist_config=False,
        )
    configuration.retries = 1
    return k8s.ApiClient(configuration)


class ClusterDirectory:
    """Named clusters from the config; clients are built on first use and reused."""

    def __init__(
        self, clusters: dict[str, ClusterSettings], *, environ_kubeconfig: str | None = None
    ) -> None:
        self._settings = clusters
        self._environ_kubeconfig = environ_kubeconfig
        self._clients: dict[str, KubeClient] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self._settings)

    def get(self, cluster: str, *, identity: Identity | None = None) -> KubeClient:
        """The cluster's shared client, or (with `identity`) a cheap impersonating view of it."""
        return self._shared(cluster).with_identity(identity)

    def _shared(self, cluster: str) -> KubeClient:
        with self._lock:
            existing = self._clients.get(cluster)
            if existing is not None:
                return existing
            settings = self._settings[cluster]
            try:
                api_client = build_api_client(settings, environ_kubeconfig=self._environ_kubeconfig)
            except Exception as exc:
                raise ClusterUnreachableError(
                    f"cluster `{cluster}` is not usable: {type(exc).__name__}: {str(exc)[:200]}",
                    cluster=cluster,
                ) from None
            client = KubeClient(cluster, api_client, timeout=settings.request_timeout_seconds)
            self._clients[cluster] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.api_client.close()
            self._clients.clear()
