"""The small boundaries the core talks to. Implementations live in kube/, slack/, store/.

Objects cross these boundaries as plain JSON dicts exactly as the API server sends
them: cheap to decode, easy to build in tests, and no generated model classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

KubeObject = dict[str, Any]


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

    def list_pods(
        self, namespace: str | None, *, selector: str | None = None, field_selector: str | None = None
    ) -> list[KubeObject]: ...

    def get_pod(self, namespace: str, name: str) -> KubeObject: ...

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
    ) -> str: ...

    def list_deployments(self, namespace: str | None, *, selector: str | None = None) -> list[KubeObject]: ...

    def get_deployment(self, namespace: str, name: str) -> KubeObject: ...

    def list_replicasets(self, namespace: str, *, selector: str | None = None) -> list[KubeObject]: ...

    def list_nodes(self) -> list[KubeObject]: ...

    def get_node(self, name: str) -> KubeObject: ...

    def list_events(
        self, namespace: str | None, *, field_selector: str | None = None
    ) -> list[KubeObject]: ...

    def get_scale(self, namespace: str, name: str) -> KubeObject: ...

    def scale_deployment(
        self, namespace: str, name: str, replicas: int, *, dry_run: bool = False
    ) -> KubeObject:
        """Patch the scale subresource; returns the Scale. `dry_run`: server-side dry run
        (`dryRun=All`): admission runs, nothing is stored."""
        ...

    def restart_deployment(
        self, namespace: str, name: str, at: datetime, *, dry_run: bool = False
    ) -> KubeObject:
        """Stamp the pod template like `kubectl rollout restart`; returns the Deployment.
        `dry_run`: server-side dry run, nothing is stored."""
        ...


class KubeDirectory(Protocol):
    """Finds the client for a named cluster."""

    def names(self) -> list[str]: ...

    def get(self, cluster: str, *, identity: Identity | None = None) -> KubePort:
        """The client for `cluster`; with `identity`, every call impersonates it."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


Document = dict[str, Any]


class Store(Protocol):
    """Persistence for incidents and mutes (JSON documents with a few indexed columns,
    so models evolve without migrations). Must survive a kill -9."""

    def put_incident(self, incident_id: str, key: str, state: str, channel: str, data: Document) -> None: ...

    def incidents(self, *, state: str | None = None) -> list[Document]: ...

    def incident(self, incident_id: str) -> Document | None: ...

    def put_mute(self, mute_id: str, pattern: str, until: float, data: Document) -> None: ...

    def delete_mute(self, mute_id: str) -> bool: ...

    def mutes(self, *, now: float) -> list[Document]: ...

    def close(self) -> None: ...
