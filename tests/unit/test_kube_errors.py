"""A Forbidden from the API server names the manifest that grants what is missing."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from opsbot.kube.errors import translate


def forbidden(verb: str, resource: str, group: str, namespace: str) -> ApiException:
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = json.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "reason": "Forbidden",
            "code": 403,
            "message": f'{resource} "web" is forbidden: User "system:serviceaccount:opsbot:opsbot" '
            f'cannot {verb} resource "{resource}" in API group "{group}" in the namespace "{namespace}"',
        }
    )
    return exc


@pytest.mark.parametrize(
    ("verb", "resource", "group", "manifest"),
    [
        ("patch", "deployments/scale", "apps", "manifests/components/operate/"),
        ("patch", "deployments", "apps", "manifests/components/operate/"),
        ("list", "pods", "", "manifests/base/role.yaml"),
        ("get", "pods/log", "", "manifests/base/role.yaml"),
    ],
)
def test_a_refused_write_points_at_the_operate_component_and_a_read_at_the_base_role(
    verb: str, resource: str, group: str, manifest: str
) -> None:
    error = translate(forbidden(verb, resource, group, "web"), cluster="prod", what="x", namespace="web")
    assert f"may not *{verb}* `{resource}`" in str(error)
    assert f"(see {manifest})" in str(error)


@pytest.mark.parametrize("resource", ["nodes", "pods"])
def test_a_refused_cluster_wide_read_points_at_the_cluster_wide_component(resource: str) -> None:
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = json.dumps(
        {
            "kind": "Status",
            "reason": "Forbidden",
            "code": 403,
            "message": f'{resource} is forbidden: User "system:serviceaccount:opsbot:opsbot" cannot list '
            f'resource "{resource}" in API group "" at the cluster scope',
        }
    )
    message = str(translate(exc, cluster="prod", what=resource, namespace=None))
    assert "manifests/components/cluster-wide/" in message
    assert "Role" not in message.replace("ClusterRole", "")
