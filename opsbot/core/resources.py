"""The Kubernetes resources opsbot watches, described once (pure data).

The watch (``opsbot.kube.watch``) reads from here which client API and list method to
call and whether its cache keeps a projection; the alert pipeline which kind of
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
    """One resource a watch can follow: what it is and how the ``kubernetes`` client lists it.

    The client names are strings, so that this table stays importable without the client.
    """

    name: ResourceName
    kind: str  # the object's kind, e.g. "Pod"
    api_version: str  # e.g. "v1", "apps/v1"
    client_api: str  # the kubernetes.client class, e.g. "CoreV1Api"
    list_namespaced: str | None  # its list method for one namespace; None: cluster-scoped
    list_all: str  # its list method across all namespaces (or the cluster-scoped list)
    projected: bool  # the watch cache keeps only the projection the detectors read of `old`
    custom: bool = False  # a custom resource: listed through CustomObjectsApi (group, version, plural)

    @property
    def group(self) -> str:
        """The API group ("" for the core group), as RBAC rules name it."""
        group, _, _version = self.api_version.rpartition("/")
        return group

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def namespaced(self) -> bool:
        return self.list_namespaced is not None


RESOURCES: Mapping[ResourceName, WatchedResource] = {
    resource.name: resource
    for resource in (
        WatchedResource(
            name="pods",
            kind="Pod",
            api_version="v1",
            client_api="CoreV1Api",
            list_namespaced="list_namespaced_pod",
            list_all="list_pod_for_all_namespaces",
            projected=True,
        ),
        WatchedResource(
            name="nodes",
            kind="Node",
            api_version="v1",
            client_api="CoreV1Api",
            list_namespaced=None,
            list_all="list_node",
            projected=True,
        ),
        WatchedResource(
            name="deployments",
            kind="Deployment",
            api_version="apps/v1",
            client_api="AppsV1Api",
            list_namespaced="list_namespaced_deployment",
            list_all="list_deployment_for_all_namespaces",
            projected=True,
        ),
        WatchedResource(
            name="jobs",
            kind="Job",
            api_version="batch/v1",
            client_api="BatchV1Api",
            list_namespaced="list_namespaced_job",
            list_all="list_job_for_all_namespaces",
            projected=True,
        ),
        WatchedResource(
            name="cronjobs",
            kind="CronJob",
            api_version="batch/v1",
            client_api="BatchV1Api",
            list_namespaced="list_namespaced_cron_job",
            list_all="list_cron_job_for_all_namespaces",
            projected=True,
        ),
        WatchedResource(
            name="events",
            kind="Event",
            api_version="v1",
            client_api="CoreV1Api",
            list_namespaced="list_namespaced_event",
            list_all="list_event_for_all_namespaces",
            projected=False,  # cached whole: what an event says is its whole body
        ),
        # Flux objects, watched on clusters that receive releases through GitOps (the
        # release follow-up reads their status: applied revision, Ready, history).
        WatchedResource(
            name="kustomizations",
            kind="Kustomization",
            api_version="kustomize.toolkit.fluxcd.io/v1",
            client_api="CustomObjectsApi",
            list_namespaced="list_namespaced_custom_object",
            list_all="list_cluster_custom_object",
            projected=False,
            custom=True,
        ),
        WatchedResource(
            name="helmreleases",
            kind="HelmRelease",
            api_version="helm.toolkit.fluxcd.io/v2",
            client_api="CustomObjectsApi",
            list_namespaced="list_namespaced_custom_object",
            list_all="list_cluster_custom_object",
            projected=False,
            custom=True,
        ),
    )
}

FLUX_RESOURCES: Mapping[str, ResourceName] = {
    "Kustomization": "kustomizations",
    "HelmRelease": "helmreleases",
}
"""A Flux object's kind → its watched resource."""
