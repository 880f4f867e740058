"""Can opsbot read what its watches need? Asked once per cluster by `check-config`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opsbot.config import Settings
from opsbot.errors import ForbiddenError, KubeError
from opsbot.kube.client import ClusterDirectory, KubeClient


@dataclass(frozen=True)
class CheckLine:
    level: Literal["ok", "warning", "error"]
    text: str


def _probe(kube: KubeClient, resource: str, namespace: str | None) -> None:
    """A one-item list: the cheapest request that needs the same `list` permission as the watch."""
    if resource == "pods":
        kube.list_pods(namespace, field_selector="metadata.name=opsbot-access-check")
    elif resource == "deployments":
        kube.list_deployments(namespace, selector="opsbot.io/access-check=1")
    else:
        kube.list_nodes_page(limit=1)


def check_watch_access(settings: Settings, *, environ_kubeconfig: str | None) -> list[CheckLine]:
    lines: list[CheckLine] = []
    directory = ClusterDirectory(settings.clusters, environ_kubeconfig=environ_kubeconfig)
    scopes: list[str | None] = list(settings.watch.namespaces) if settings.watch.namespaces else [None]
    try:
        for cluster in directory.names():
            try:
                kube = directory.get(cluster)
            except KubeError as exc:
                lines.append(CheckLine("error", f"cluster {cluster}: {exc}"))
                continue
            for resource in ("pods", "deployments", "nodes"):
                for namespace in [None] if resource == "nodes" else scopes:
                    where = f"in namespace {namespace}" if namespace else "in all namespaces"
                    if resource == "nodes":
                        where = "(cluster-scoped)"
                    try:
                        _probe(kube, resource, namespace)
                        lines.append(CheckLine("ok", f"cluster {cluster}: can list/watch {resource} {where}"))
                    except ForbiddenError:
                        fix = (
                            "apply manifests/cluster-wide/ for node alerts and `nodes`; node watches are skipped"
                            if resource == "nodes" or namespace is None
                            else "add a Role + RoleBinding in that namespace (see manifests/role.yaml)"
                        )
                        level: Literal["warning", "error"] = "warning" if resource == "nodes" else "error"
                        lines.append(
                            CheckLine(level, f"cluster {cluster}: may not list {resource} {where}: {fix}")
                        )
                    except KubeError as exc:
                        lines.append(CheckLine("error", f"cluster {cluster}: {exc}"))
                        break
    finally:
        directory.close()
    return lines
