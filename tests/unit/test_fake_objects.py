"""The fake API server's objects are as heavy as a real cluster's, so benchmarks do not flatter the bot.

A field trial against kube-apiserver v1.36 measured ~6 KB of JSON per pod, 2 KB of it
`metadata.managedFields`. These tests pin the shapes that make up that weight (and print
the sizes with `pytest -s`); the benchmarks (bench/memory.py) print them too.
"""

from __future__ import annotations

import orjson

from tests.support.fake_kube import FakeKubeServer, builders


def size(value: object) -> int:
    return len(orjson.dumps(value))


def deployment_pod() -> builders.Obj:
    return builders.pod(
        "web-7d4b9c8f6d-x2x7q",
        "web",
        labels={"app": "web", builders.TEMPLATE_HASH_LABEL: "7d4b9c8f6d"},
        owner={"kind": "ReplicaSet", "name": "web-7d4b9c8f6d"},
        image="registry.example.com/web/web:1.4.0",
        created="2026-05-01T10:00:00Z",
    )


def test_a_deployment_pod_weighs_what_a_real_one_does() -> None:
    pod = deployment_pod()
    meta, spec, status = pod["metadata"], pod["spec"], pod["status"]
    whole, managed = size(pod), size(meta["managedFields"])
    print(f"\npod: {whole} bytes of JSON, managedFields {managed}")
    assert 5_500 <= whole <= 8_000
    assert 1_500 <= managed <= 3_000
    # Who wrote what: the ReplicaSet controller its metadata and spec, the kubelet the status.
    managers = [(entry["manager"], entry.get("subresource")) for entry in meta["managedFields"]]
    assert managers == [("kube-controller-manager", None), ("kubelet", "status")]
    assert '"f:containers"' in orjson.dumps(meta["managedFields"][0]["fieldsV1"]).decode()
    assert meta["generateName"] == "web-7d4b9c8f6d-"
    # Admission: the service account token volume, mounted in every container; default tolerations.
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["projected"]["sources"]) == 3
    assert all(
        {"name": volume["name"], "readOnly": True, "mountPath": builders.SERVICE_ACCOUNT_MOUNT} in c["volumeMounts"]
        for c in spec["containers"]
    )
    assert {t["key"] for t in spec["tolerations"]} == {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    }
    (app,) = spec["containers"]
    assert app["ports"] and app["resources"]["requests"] and app["livenessProbe"] and app["readinessProbe"]
    # The kubelet's status: timestamps on every condition, IPs, QoS, full container statuses.
    assert all({"lastProbeTime", "lastTransitionTime"} <= set(c) for c in status["conditions"])
    assert status["hostIPs"] and status["podIPs"] and status["qosClass"] == "Burstable"
    (container,) = status["containerStatuses"]
    assert {"imageID", "containerID", "started", "lastState", "resources", "user", "volumeMounts"} <= set(container)


def test_the_api_server_stores_pods_as_admitted_and_keeps_their_managed_fields() -> None:
    with FakeKubeServer(controllers=False) as kube:
        kube.create(deployment_pod())
        kube.create(builders.pod("bare", "web"))
        stored = kube.get("pods", "web", "web-7d4b9c8f6d-x2x7q")
        bare = kube.get("pods", "web", "bare")
    assert stored is not None and bare is not None
    assert stored["metadata"]["managedFields"] == deployment_pod()["metadata"]["managedFields"]
    assert stored["spec"]["volumes"] == deployment_pod()["spec"]["volumes"]  # admission is idempotent
    assert bare["metadata"]["managedFields"][0]["manager"] == "kubectl-create"


def test_controller_made_pods_are_as_heavy_as_built_ones() -> None:
    with FakeKubeServer() as kube:
        kube.add_node("node-1")
        kube.add_deployment("web", "web", replicas=2)
        pods = kube.list("pods", "web")
    assert len(pods) == 2
    for pod in pods:
        assert [entry["manager"] for entry in pod["metadata"]["managedFields"]] == [
            "kube-controller-manager",
            "kubelet",
        ]
        assert pod["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
        assert size(pod) >= 5_000


def test_a_node_carries_the_kubelets_image_list() -> None:
    node = builders.node("node-001")
    status = node["status"]
    print(f"\nnode: {size(node)} bytes of JSON, status.images {size(status['images'])}")
    assert len(status["images"]) == 40
    assert all(len(image["names"]) == 2 and image["sizeBytes"] > 0 for image in status["images"])
    assert size(status["images"]) > size(node) / 2  # the bulk of a node, and never read by opsbot
    assert {"allocatable", "capacity", "daemonEndpoints", "nodeInfo", "conditions", "runtimeHandlers"} <= set(status)
    assert [entry["manager"] for entry in node["metadata"]["managedFields"]] == [
        "kubelet",
        "kube-controller-manager",
        "kubelet",
    ]


def test_a_deployment_carries_managed_fields_and_the_last_applied_configuration() -> None:
    deployment = builders.deployment("web", "web", replicas=3)
    meta = deployment["metadata"]
    applied = orjson.loads(meta["annotations"][builders.LAST_APPLIED])
    assert applied["spec"]["replicas"] == 3 and applied["metadata"]["name"] == "web"
    assert meta["managedFields"][0]["manager"] == "kubectl-client-side-apply"
    status = builders.deployment_status(deployment)
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)
    degraded = builders.deployment_status(deployment, available=1)
    assert degraded["unavailableReplicas"] == 2
