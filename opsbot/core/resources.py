"""The Kubernetes resources opsbot watches, described once (pure data).

The watch (``opsbot.kube.watch``) reads from here which path to list and watch and
whether its cache keeps a projection; the alert pipeline which kind of
subject an event is about; the doctor which list/watch permissions the watches need.
Pure code (alerts, doctor) imports it; it imports nothing of opsbot's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FLUX_RESOURCES",
    "RESOURCES",
    "ResourceName",
    "WatchEventType",
    "WatchedResource",
]

ResourceName = Literal["pods", "nodes", "deployments", "jobs", "cronjobs", "events", "kustomizations", "helmreleases"]
"""A watched resource, by its plural name (as in the API path and RBAC rules)."""

WatchEventType = Literal["ADDED", "MODIFIED", "DELETED", "SYNCED", "FORBIDDEN"]
"""What a watch hands over: a change of one object, the end of a (re)list, or the
watch being refused for good (403)."""


@dataclass(frozen=True)
class WatchedResource:
    """One resource a watch can follow: what it is and where the API serves it
    (``/api/v1/pods``, ``/apis/apps/v1/namespaces/NS/deployments``: see ``opsbot.kube.rest``)."""

    name: ResourceName  # also the plural in its path
    kind: str  # the object's kind, e.g. "Pod"
    api_version: str  # e.g. "v1", "apps/v1"
    namespaced: bool  # False: cluster-scoped (nodes)
    projected: bool  # the watch cache keeps only the projection the detectors read of `old`

    @property
    def group(self) -> str:
        """The API group ("" for the core group), as RBAC rules name it."""
        group, _, _version = self.api_version.rpartition("/")
        return group


RESOURCES: Mapping[ResourceName, WatchedResource] = {
    resource.name: resource
    for resource in (
        WatchedResource(
            name="pods",
            kind="Pod",
            api_version="v1",
            namespaced=True,
            projected=True,
        ),
        WatchedResource(
            name="nodes",
            kind="Node",
            api_version="v1",
            namespaced=False,
            projected=True,
        ),
        WatchedResource(
            name="deployments",
            kind="Deployment",
            api_version="apps/v1",
            namespaced=True,
            projected=True,
        ),
        WatchedResource(
            name="jobs",
            kind="Job",
            api_version="batch/v1",
            namespaced=True,
            projected=True,
        ),
        WatchedResource(
            name="cronjobs",
            kind="CronJob",
            api_version="batch/v1",
            namespaced=True,
            projected=True,
        ),
        WatchedResource(
            name="events",
            kind="Event",
            api_version="v1",
            namespaced=True,
            projected=False,  # cached whole: what an event says is its whole body
        ),
        # Flux objects, watched on clusters that receive releases through GitOps (the
        # release follow-up reads their status: applied revision, Ready, history).
        WatchedResource(
            name="kustomizations",
            kind="Kustomization",
            api_version="kustomize.toolkit.fluxcd.io/v1",
            namespaced=True,
            projected=False,
        ),
        WatchedResource(
            name="helmreleases",
            kind="HelmRelease",
            api_version="helm.toolkit.fluxcd.io/v2",
            namespaced=True,
            projected=False,
        ),
    )
}

FLUX_RESOURCES: Mapping[str, ResourceName] = {
    "Kustomization": "kustomizations",
    "HelmRelease": "helmreleases",
}
"""A Flux object's kind → its watched resource."""
