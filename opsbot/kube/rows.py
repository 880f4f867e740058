"""List commands served from the watch caches: the rows of every pod, deployment and node the
watches keep, when a current watch covers the asked namespace; otherwise the caller lists live."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Protocol

from opsbot.core.resources import ResourceName
from opsbot.core.rows import DeploymentRow, NodeRow, PodRow
from opsbot.core.selectors import matcher


class RowSource(Protocol):
    """Where a client looks before listing live; None: not covered (list live)."""

    def pod_rows(self, cluster: str, namespace: str | None, selector: str | None) -> list[PodRow] | None: ...

    def deployment_rows(
        self, cluster: str, namespace: str | None, selector: str | None
    ) -> list[DeploymentRow] | None: ...

    def node_rows(self, cluster: str) -> list[NodeRow] | None: ...

    def covers(self, cluster: str, resource: ResourceName, namespace: str | None) -> bool:
        """Would a read of `resource` in `namespace` (None: all) be answered now?"""
        ...


class CachingWatch(Protocol):
    """What `WatchedRows` needs of a watch (`opsbot.kube.watch.CachingWatch` is one)."""

    @property
    def cluster(self) -> str: ...

    @property
    def resource(self) -> ResourceName: ...

    @property
    def namespace(self) -> str | None: ...

    @property
    def current(self) -> bool: ...

    @property
    def down_since(self) -> float | None: ...

    def rows(self) -> list[tuple[Any, ...]]: ...


class WatchedRows:
    """The watches' caches as a RowSource. Watches register as they are built."""

    def __init__(self) -> None:
        self._watches: dict[tuple[str, ResourceName], list[CachingWatch]] = {}
        self._lock = threading.Lock()
        self.served = 0  # answers from the caches
        self.missed = 0  # answers that had to list live

    def add(self, watches: Iterable[CachingWatch]) -> None:
        with self._lock:
            for watch in watches:
                self._watches.setdefault((watch.cluster, watch.resource), []).append(watch)

    def pod_rows(self, cluster: str, namespace: str | None, selector: str | None) -> list[PodRow] | None:
        return self._namespaced(cluster, "pods", namespace, selector)

    def deployment_rows(
        self, cluster: str, namespace: str | None, selector: str | None
    ) -> list[DeploymentRow] | None:
        return self._namespaced(cluster, "deployments", namespace, selector)

    def node_rows(self, cluster: str) -> list[NodeRow] | None:
        rows = self._scoped(cluster, "nodes", None)
        return [row for row in rows if isinstance(row, NodeRow)] if rows is not None else None

    def _namespaced(
        self, cluster: str, resource: ResourceName, namespace: str | None, selector: str | None
    ) -> list[Any] | None:
        rows = self._scoped(cluster, resource, namespace)
        if rows is None:
            return None
        wanted = matcher(selector)
        return [row for row in rows if (namespace is None or row.namespace == namespace) and wanted(row.labels)]

    def covers(self, cluster: str, resource: ResourceName, namespace: str | None) -> bool:
        return self._covering(cluster, resource, namespace) is not None

    def _covering(self, cluster: str, resource: ResourceName, namespace: str | None) -> CachingWatch | None:
        """The current watch covering `namespace` (None: all), if any."""
        with self._lock:
            watches = list(self._watches.get((cluster, resource), ()))
        everywhere = [watch for watch in watches if watch.namespace is None]
        covering = everywhere or [watch for watch in watches if namespace is not None and watch.namespace == namespace]
        return covering[0] if covering and covering[0].current else None

    def _scoped(self, cluster: str, resource: ResourceName, namespace: str | None) -> list[Any] | None:
        """The rows of the current watch covering `namespace` (None: all), or None."""
        watch = self._covering(cluster, resource, namespace)
        if watch is None:
            self.missed += 1
            return None
        self.served += 1
        return watch.rows()

    def down_since(self, cluster: str, resource: ResourceName = "deployments") -> float | None:
        """Since when the cluster's watches of `resource` fail to reach it (None: they work,
        or there are none): a cluster known to be down is not asked again by every read."""
        with self._lock:
            watches = list(self._watches.get((cluster, resource), ()))
        moments = [
            watch.down_since for watch in watches if not watch.current and watch.down_since is not None
        ]
        return min(moments) if moments else None
