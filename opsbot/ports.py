"""The small boundaries the core talks to. Implementations live in kube/, slack/, store/.

Objects cross these boundaries as plain JSON dicts exactly as the API server sends
them: cheap to decode, easy to build in tests, and no generated model classes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, Protocol, TypeVar

from opsbot.core.kubeobjects import KubeObject as KubeObject  # the vocabulary lives in core
from opsbot.core.rows import DeploymentRow, NodeRow, PodRow

_Method = TypeVar("_Method", bound=Callable[..., Any])
_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class ApiCall:
    """One RBAC permission a Kubernetes API request needs."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    cluster_scoped: bool = False


def requires(*calls: ApiCall) -> Callable[[_Method], _Method]:
    """Declares, on a `KubePort` method, the RBAC permissions the request it sends needs.

    The doctor's SelfSubjectAccessReviews and the manifests' Role test read them from
    here (`api_calls`), so a new client call is declared once, beside its signature.
    """

    def mark(method: _Method) -> _Method:
        method.__dict__["opsbot_api_calls"] = calls
        return method

    return mark


@dataclass(frozen=True)
class Identity:
    """Whom the cluster should see instead of opsbot's own credentials (Kubernetes
    impersonation): every call carries `Impersonate-User: user` and one
    `Impersonate-Group` header per group, so the cluster's RBAC has the last word."""

    user: str
    groups: tuple[str, ...] = ()


class KubePort(Protocol):
    """Blocking calls to one cluster; each has a timeout and raises opsbot KubeErrors."""

    @property
    def cluster(self) -> str: ...

    @requires(ApiCall("list", "pods"))
    def list_pods(
        self, namespace: str | None, *, selector: str | None = None, field_selector: str | None = None
    ) -> list[KubeObject]: ...

    @requires(ApiCall("list", "pods"))
    def pod_rows(
        self, namespace: str | None, *, selector: str | None = None, node: str | None = None
    ) -> list[PodRow]:
        """What `pods` shows of each pod: from the watch cache when one covers the namespace,
        else a paged list turned into rows page by page (no whole decoded list is kept)."""
        ...

    @requires(ApiCall("list", "deployments", "apps"))
    def deployment_rows(self, namespace: str | None, *, selector: str | None = None) -> list[DeploymentRow]: ...

    @requires(ApiCall("list", "nodes", cluster_scoped=True))
    def node_rows(self) -> list[NodeRow]: ...

    def cached(self, method: str, namespace: str | None) -> bool:
        """Would `method` (`pod_rows`, `deployment_rows`, `node_rows`) for `namespace` (None: all)
        be answered from a current watch cache right now, without calling the API?"""
        ...

    @requires(ApiCall("get", "pods"))
    def get_pod(self, namespace: str, name: str) -> KubeObject: ...

    @requires(ApiCall("get", "pods", subresource="log"))
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
        """`timestamps`: each line starts with its RFC 3339 time and a space (as the kubelet
        writes it), so the lines of several pods can be merged in order."""
        ...

    @requires(ApiCall("list", "deployments", "apps"))
    def list_deployments(self, namespace: str | None, *, selector: str | None = None) -> list[KubeObject]: ...

    @requires(ApiCall("get", "deployments", "apps"))
    def get_deployment(self, namespace: str, name: str) -> KubeObject: ...

    @requires(ApiCall("list", "statefulsets", "apps"))
    def list_statefulsets(self, namespace: str) -> list[KubeObject]:
        """Apps that are StatefulSets (not watched: few per namespace, read when asked)."""
        ...

    @requires(ApiCall("list", "daemonsets", "apps"))
    def list_daemonsets(self, namespace: str) -> list[KubeObject]:
        """Apps that are DaemonSets (not watched: few per namespace, read when asked)."""
        ...

    @requires(ApiCall("list", "replicasets", "apps"))
    def list_replicasets(self, namespace: str, *, selector: str | None = None) -> list[KubeObject]: ...

    @requires(ApiCall("list", "nodes", cluster_scoped=True))
    def list_nodes(self) -> list[KubeObject]: ...

    @requires(ApiCall("get", "nodes", cluster_scoped=True))
    def get_node(self, name: str) -> KubeObject: ...

    @requires(ApiCall("list", "events"))
    def list_events(
        self, namespace: str | None, *, field_selector: str | None = None
    ) -> list[KubeObject]: ...

    @requires(ApiCall("get", "deployments", "apps", "scale"))
    def get_scale(self, namespace: str, name: str) -> KubeObject: ...

    # Also planned with dryRun=All (commands.server_dry_run): same verb, same permission.
    @requires(ApiCall("patch", "deployments", "apps", "scale"))
    def scale_deployment(
        self, namespace: str, name: str, replicas: int, *, dry_run: bool = False
    ) -> KubeObject:
        """Patch the scale subresource; returns the Scale. `dry_run`: server-side dry run
        (`dryRun=All`): admission runs, nothing is stored."""
        ...

    @requires(ApiCall("patch", "deployments", "apps"))
    def restart_deployment(
        self, namespace: str, name: str, at: datetime, *, dry_run: bool = False
    ) -> KubeObject:
        """Stamp the pod template like `kubectl rollout restart`; returns the Deployment.
        `dry_run`: server-side dry run, nothing is stored."""
        ...

    # Delivery (opsbot.releases): direct promote / rollback, and following Flux.
    @requires(ApiCall("patch", "deployments", "apps"))
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
        """Set one container's image like `kubectl set image` (a strategic merge patch of
        that container, matched by name), and in the same patch the given labels of the
        Deployment and of its pod template (the version label, so it does not go stale);
        returns the Deployment."""
        ...

    @requires(ApiCall("patch", "deployments", "apps"))
    def json_patch_deployment(
        self, namespace: str, name: str, operations: list[dict[str, Any]], *, dry_run: bool = False
    ) -> KubeObject:
        """Apply an RFC 6902 JSON patch (`kubectl rollout undo` replaces `/spec/template`);
        returns the Deployment."""
        ...

    @requires(ApiCall("get", "kustomizations", "kustomize.toolkit.fluxcd.io"))
    def get_flux_kustomization(self, namespace: str, name: str) -> KubeObject:
        """A Flux `Kustomization` (kustomize.toolkit.fluxcd.io/v1) with its status."""
        ...

    @requires(ApiCall("get", "helmreleases", "helm.toolkit.fluxcd.io"))
    def get_flux_helmrelease(self, namespace: str, name: str) -> KubeObject:
        """A Flux `HelmRelease` (helm.toolkit.fluxcd.io/v2) with its status."""
        ...


_COORDINATION = "coordination.k8s.io"


class LeasePort(Protocol):
    """Leader election with a `coordination.k8s.io/v1` Lease (one per cluster, in opsbot's
    namespace): reads, and writes guarded by resourceVersion (ConflictError when someone else
    wrote first)."""

    @requires(ApiCall("get", "leases", _COORDINATION))
    def get_lease(self, namespace: str, name: str) -> KubeObject | None:
        """The Lease, or None when it does not exist yet."""
        ...

    @requires(ApiCall("create", "leases", _COORDINATION))
    def create_lease(self, namespace: str, lease: KubeObject) -> KubeObject: ...

    @requires(ApiCall("update", "leases", _COORDINATION))
    def replace_lease(self, namespace: str, name: str, lease: KubeObject) -> KubeObject:
        """PUT with the lease's metadata.resourceVersion: 409 (ConflictError) if it moved."""
        ...


def lease_api_calls() -> Mapping[str, tuple[ApiCall, ...]]:
    """Every `LeasePort` method → the permissions its request needs (HA only)."""
    return {
        name: member.__dict__["opsbot_api_calls"]
        for name, member in vars(LeasePort).items()
        if callable(member) and "opsbot_api_calls" in getattr(member, "__dict__", {})
    }


def api_calls() -> Mapping[str, tuple[ApiCall, ...]]:
    """Every `KubePort` method → the permissions its request needs."""
    return {
        name: member.__dict__["opsbot_api_calls"]
        for name, member in vars(KubePort).items()
        if callable(member) and "opsbot_api_calls" in getattr(member, "__dict__", {})
    }


class KubeDirectory(Protocol):
    """Finds the client for a named cluster."""

    def names(self) -> list[str]: ...

    def get(self, cluster: str, *, identity: Identity | None = None) -> KubePort:
        """The client for `cluster`; with `identity`, every call impersonates it."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class RunBlocking(Protocol):
    """Runs a blocking call (e.g. a `KubePort` method) off the event loop, in a bounded pool;
    the arguments are checked against the function's own signature."""

    def __call__(self, function: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> Awaitable[_R]: ...


Document = dict[str, Any]


class ContextStore(Protocol):
    """Saved contexts (`use`): one JSON document per key plus when it was last used
    (epoch seconds). Small on purpose: a Redis backend implements the same four calls."""

    def contexts(self, keys: Sequence[str]) -> list[tuple[Document, float] | None]:
        """(document, last used) or None for each key, in order, read at once (one round trip:
        a command reads the person's and the channel's before it can answer)."""
        ...

    def put_context(self, key: str, data: Document, used_at: float) -> None: ...

    def touch_context(self, key: str, used_at: float) -> None:
        """Mark as used now; nothing when the key is gone."""
        ...

    def delete_context(self, key: str) -> bool: ...


class Store(Protocol):
    """Persistence for incidents and mutes (JSON documents with a few indexed columns,
    so models evolve without migrations). Must survive a kill -9."""

    async def put_incident(self, incident_id: str, key: str, state: str, channel: str, data: Document) -> None: ...

    async def incidents(self, *, state: str | None = None) -> list[Document]: ...

    async def incident(self, incident_id: str) -> Document | None: ...

    async def put_mute(self, mute_id: str, pattern: str, until: float, data: Document) -> None: ...

    async def delete_mute(self, mute_id: str) -> bool: ...

    async def mutes(self, *, now: float) -> list[Document]: ...

    def close(self) -> None: ...
