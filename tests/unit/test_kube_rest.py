"""Paths opsbot calls the Kubernetes API by (opsbot.kube.rest), as the API server serves them."""

from __future__ import annotations

from opsbot.core.resources import RESOURCES
from opsbot.kube import rest


def test_core_and_group_paths() -> None:
    assert rest.collection("v1", "pods") == "/api/v1/pods"
    assert rest.collection("v1", "pods", "web") == "/api/v1/namespaces/web/pods"
    assert rest.collection("apps/v1", "deployments") == "/apis/apps/v1/deployments"
    assert rest.item("apps/v1", "deployments", "web", "api", "scale") == "/apis/apps/v1/namespaces/web/deployments/api/scale"
    assert rest.item("v1", "nodes", None, "node-1") == "/api/v1/nodes/node-1"
    assert rest.item("v1", "pods", "web", "api-0", "log") == "/api/v1/namespaces/web/pods/api-0/log"


def test_names_are_quoted_whole() -> None:
    assert rest.item("v1", "pods", "a/b", "c?d") == "/api/v1/namespaces/a%2Fb/pods/c%3Fd"


def test_every_watched_resource_has_its_paths() -> None:
    paths = {name: rest.collection(r.api_version, name) for name, r in RESOURCES.items()}
    assert paths == {
        "pods": "/api/v1/pods",
        "nodes": "/api/v1/nodes",
        "deployments": "/apis/apps/v1/deployments",
        "events": "/api/v1/events",
        "jobs": "/apis/batch/v1/jobs",
        "cronjobs": "/apis/batch/v1/cronjobs",
        "kustomizations": "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations",
        "helmreleases": "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
    }
