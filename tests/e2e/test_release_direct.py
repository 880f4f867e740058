"""Direct promote / rollback through the real Kubernetes client against the fake API server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from opsbot.core.versions import RolloutState, rollout_state, version_of
from opsbot.errors import ForbiddenError, NotFoundError
from opsbot.kube.client import KubeClient
from opsbot.ports import ApiCall, api_calls
from opsbot.releases import direct
from opsbot.releases.errors import PausedDeploymentError, RolloutError, VersionNotAllowedError
from opsbot.releases.rules import VersionRule
from opsbot.releases.undo import REVISION, rollout_history
from tests.support.fake_kube import FakeKubeServer, builders


@pytest.fixture
def client(kube: FakeKubeServer) -> Iterator[KubeClient]:
    api = kube.api_client()
    yield KubeClient("lab", api, timeout=5)
    api.close()


@pytest.fixture
def shop(kube: FakeKubeServer) -> FakeKubeServer:
    kube.add_node("node-1")
    kube.add_namespace("shop")
    kube.add_deployment(
        "shop",
        "web",
        replicas=2,
        containers=[
            {"name": "istio-proxy", "image": "istio/proxyv2:1.22"},
            {"name": "web", "image": "ghcr.io/org/web:1.0.0"},
        ],
    )
    return kube


def image_of(kube: FakeKubeServer, container: str = "web") -> str:
    dep = kube.get("deployments", "shop", "web")
    assert dep is not None
    return str(next(c["image"] for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == container))


def revisions(kube: FakeKubeServer) -> dict[str, str]:
    """ReplicaSet revision → image of its web container."""
    return {
        rs["metadata"]["annotations"][REVISION]: rs["spec"]["template"]["spec"]["containers"][1]["image"]
        for rs in kube.list("replicasets", "shop")
    }


def test_promote_sets_the_main_containers_image_like_kubectl_set_image(
    shop: FakeKubeServer, client: KubeClient
) -> None:
    result = direct.promote(client, "shop", "web", "1.1.0")
    assert (result.old_version, result.new_version, result.container, result.skipped) == (
        "1.0.0",
        "1.1.0",
        "web",
        False,
    )
    assert image_of(shop) == "ghcr.io/org/web:1.1.0"
    assert image_of(shop, "istio-proxy") == "istio/proxyv2:1.22"
    patch = shop.writes()[-1]
    assert patch.method == "PATCH" and patch.content_type.startswith("application/strategic-merge-patch+json")
    assert patch.json() == {
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "ghcr.io/org/web:1.1.0"}]}}}
    }
    assert revisions(shop) == {"1": "ghcr.io/org/web:1.0.0", "2": "ghcr.io/org/web:1.1.0"}
    deployment = shop.get("deployments", "shop", "web")
    assert deployment is not None
    assert rollout_state(deployment).state is RolloutState.OK
    assert version_of(deployment) == "1.1.0"


def test_promote_to_the_running_version_is_skipped(shop: FakeKubeServer, client: KubeClient) -> None:
    shop.clear_requests()
    result = direct.promote(client, "shop", "web", "1.0.0")
    assert result.skipped and shop.writes() == []


def test_promote_respects_the_version_rule(shop: FakeKubeServer, client: KubeClient) -> None:
    with pytest.raises(VersionNotAllowedError):
        direct.promote(client, "shop", "web", "2.0.0", rule=VersionRule(semver="<2"))


def test_rollback_undoes_the_last_promotion_with_a_json_patch(
    shop: FakeKubeServer, client: KubeClient
) -> None:
    direct.promote(client, "shop", "web", "1.1.0")
    direct.promote(client, "shop", "web", "1.2.0")
    result = direct.rollback(client, "shop", "web")
    assert (result.old_version, result.new_version, result.revision) == ("1.2.0", "1.1.0", 2)
    patch = shop.writes()[-1]
    assert patch.content_type.startswith("application/json-patch+json")
    assert [op["path"] for op in patch.json()] == ["/spec/template", "/metadata/annotations"]
    assert builders.TEMPLATE_HASH_LABEL not in patch.json()[0]["value"]["metadata"]["labels"]
    assert image_of(shop) == "ghcr.io/org/web:1.1.0"
    # The controller reuses revision 2's ReplicaSet as the newest revision, like the real one.
    assert revisions(shop) == {
        "1": "ghcr.io/org/web:1.0.0",
        "3": "ghcr.io/org/web:1.2.0",
        "4": "ghcr.io/org/web:1.1.0",
    }
    reused = next(
        rs for rs in shop.list("replicasets", "shop") if rs["metadata"]["annotations"][REVISION] == "4"
    )
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"
    deployment = shop.get("deployments", "shop", "web")
    assert deployment is not None
    assert deployment["metadata"]["annotations"][REVISION] == "4"
    assert [r.version for r in rollout_history(deployment, shop.list("replicasets", "shop"))] == [
        "1.1.0",
        "1.2.0",
        "1.0.0",
    ]


def test_rollback_to_a_given_revision_and_to_the_current_one(
    shop: FakeKubeServer, client: KubeClient
) -> None:
    direct.promote(client, "shop", "web", "1.1.0")
    result = direct.rollback(client, "shop", "web", to_revision=1)
    assert result.new_version == "1.0.0" and image_of(shop) == "ghcr.io/org/web:1.0.0"
    shop.clear_requests()
    again = direct.rollback(client, "shop", "web", to_revision=3)
    assert again.skipped and "already matches revision 3" in again.detail
    assert shop.writes() == []


def test_a_paused_deployment_is_not_rolled_back(shop: FakeKubeServer, client: KubeClient) -> None:
    direct.promote(client, "shop", "web", "1.1.0")
    shop.patch("deployments", "shop", "web", {"spec": {"paused": True}})
    shop.clear_requests()
    with pytest.raises(PausedDeploymentError):
        direct.rollback(client, "shop", "web")
    assert shop.writes() == []


def test_a_paused_deployment_holds_a_template_change_until_resumed(
    shop: FakeKubeServer, client: KubeClient
) -> None:
    shop.patch("deployments", "shop", "web", {"spec": {"paused": True}})
    direct.promote(client, "shop", "web", "1.1.0")
    deployment = shop.get("deployments", "shop", "web")
    assert deployment is not None
    assert len(shop.list("replicasets", "shop")) == 1
    progressing = next(c for c in deployment["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    shop.patch("deployments", "shop", "web", {"spec": {"paused": None}})
    assert revisions(shop)["2"] == "ghcr.io/org/web:1.1.0"


def test_a_deployment_flux_applies_is_refused(shop: FakeKubeServer, client: KubeClient) -> None:
    shop.patch(
        "deployments",
        "shop",
        "web",
        {
            "metadata": {
                "labels": {
                    "kustomize.toolkit.fluxcd.io/name": "apps",
                    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
                }
            }
        },
    )
    with pytest.raises(RolloutError, match="applied by Flux \\(Kustomization flux-system/apps\\)"):
        direct.promote(client, "shop", "web", "1.1.0")


def test_the_app_is_found_by_its_name_label(shop: FakeKubeServer, client: KubeClient) -> None:
    shop.create(
        builders.deployment(
            "storefront-v2",
            "shop",
            labels={"app": "storefront", "app.kubernetes.io/name": "storefront"},
            image="shop/storefront:3",
        )
    )
    result = direct.promote(client, "shop", "storefront", "4")
    assert result.deployment == "storefront-v2"
    with pytest.raises(NotFoundError):
        direct.promote(client, "shop", "nothing", "1")


def test_rbac_is_declared_and_enforced(shop: FakeKubeServer, client: KubeClient) -> None:
    calls = api_calls()
    assert calls["set_deployment_image"] == (ApiCall("patch", "deployments", "apps"),)
    assert calls["json_patch_deployment"] == (ApiCall("patch", "deployments", "apps"),)
    assert calls["get_flux_kustomization"] == (
        ApiCall("get", "kustomizations", "kustomize.toolkit.fluxcd.io"),
    )
    assert calls["get_flux_helmrelease"] == (ApiCall("get", "helmreleases", "helm.toolkit.fluxcd.io"),)
    shop.deny("patch", "deployments", namespace="shop")
    with pytest.raises(ForbiddenError, match=r"may not \*patch\* `deployments`"):
        direct.promote(client, "shop", "web", "1.1.0")


def test_flux_objects_are_read_with_their_status(kube: FakeKubeServer, client: KubeClient) -> None:
    kube.create(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"path": "./apps/lab", "interval": "10m"},
        }
    )
    kube.apply_status("kustomizations", "flux-system", "apps", {"lastAppliedRevision": "main@sha1:abc"})
    got = client.get_flux_kustomization("flux-system", "apps")
    assert got["status"]["lastAppliedRevision"] == "main@sha1:abc"
    assert got["metadata"]["generation"] == 1
    with pytest.raises(NotFoundError, match="Flux HelmRelease `podinfo`"):
        client.get_flux_helmrelease("podinfo", "podinfo")


def test_custom_resources_refuse_strategic_merge_patch_like_the_real_server(kube: FakeKubeServer) -> None:
    kube.create(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "podinfo"},
            "spec": {"chart": {"spec": {"chart": "podinfo", "version": "6.5.2"}}},
        }
    )
    url = f"{kube.url}/apis/helm.toolkit.fluxcd.io/v2/namespaces/podinfo/helmreleases/podinfo"

    def patch(content_type: str, body: object) -> int:
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Authorization": f"Bearer {kube.token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert patch("application/strategic-merge-patch+json", {"spec": {"suspend": True}}) == 415
    assert patch("application/merge-patch+json", {"spec": {"suspend": True}}) == 200
    ops = [{"op": "replace", "path": "/spec/chart/spec/version", "value": "6.6.0"}]
    assert patch("application/json-patch+json", ops) == 200
    release = kube.get("helmreleases", "podinfo", "podinfo")
    assert release is not None
    assert release["spec"]["chart"]["spec"]["version"] == "6.6.0"
    assert release["metadata"]["generation"] == 3
