"""What following releases needs from a cluster, derived from `releases:` (pure).

With releases configured, opsbot watches (list + watch) the Deployments of the
configured apps in their namespaces, reads each Deployment once when a change starts
(`get`) and the failing pods when it fails (`list pods`); on a GitOps cluster it also
watches and reads the Flux objects it waits for (Kustomization / HelmRelease), in their
own namespaces. The promote / rollback commands' own calls are the commands' (their
`CommandSpec.kube`), checked with the other commands.
"""

from __future__ import annotations

from typing import Literal

from opsbot.config import Settings
from opsbot.core.resources import FLUX_RESOURCES, RESOURCES, ResourceName
from opsbot.ports import ApiCall, api_calls
from opsbot.releases.targets import flux_objects

FOLLOW_UP = "release follow-up"
RELEASES_COMPONENT = "manifests/components/releases/"
# The release tracker's own reads (opsbot.releases.tracker).
FOLLOW_METHODS = ("get_deployment", "pod_rows")
FLUX_METHODS = {"Kustomization": "get_flux_kustomization", "HelmRelease": "get_flux_helmrelease"}

Need = tuple[ApiCall, str, Literal["error", "warning"], str]
"""(permission, namespace, severity, verb override or '')."""


def _watch(resource: ResourceName, namespace: str, severity: Literal["error", "warning"]) -> list[Need]:
    watched = RESOURCES[resource]
    call = ApiCall("list", watched.name, watched.group)
    return [(call, namespace, severity, ""), (call, namespace, severity, "watch")]


def release_needs(settings: Settings, cluster: str) -> list[Need]:
    """Every permission the follow-up needs on `cluster` (none without `releases:`)."""
    releases = settings.releases
    if not releases.configured:
        return []
    needs: list[Need] = []
    for namespace in releases.namespaces():
        needs.extend(_watch("deployments", namespace, "error"))
        for method in FOLLOW_METHODS:
            needs.extend((call, namespace, "error", "") for call in api_calls()[method])
    for ref in flux_objects(releases, cluster):
        needs.extend(_watch(FLUX_RESOURCES[ref.kind], ref.namespace, "warning"))
        needs.extend((call, ref.namespace, "warning", "") for call in api_calls()[FLUX_METHODS[ref.kind]])
    return needs
