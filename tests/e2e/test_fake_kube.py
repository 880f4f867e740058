"""The fake API server, driven through the real ``kubernetes`` client.

These tests pin the behaviours opsbot relies on (see
/work/shared/docs/kubernetes-facts.md): Status errors, RBAC messages, selectors,
pagination, patch flavours, controllers, watch semantics, logs and faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from pydantic import ValidationError

from tests.support.fake_kube import DEFAULT_USER, FakeKubeError, FakeKubeServer, builders

END = object()


class RawWatch:
    """Reads a ``_preload_content=False`` watch on a thread, one decoded event per line."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.resp = func(*args, watch=True, _preload_content=False, **kwargs)
        self.events: queue.Queue[Any] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for line in iter_resp_lines(self.resp):
                if line:
                    self.events.put(json.loads(line))
        except BaseException as exc:  # the test inspects how the stream ended
            self.error = exc
        finally:
            self.events.put(END)

    def next(self, timeout: float = 5.0) -> Any:
        return self.events.get(timeout=timeout)

    def take(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _ in range(n):
            ev = self.next(timeout)
            assert ev is not END, f"stream ended after {out}"
            out.append(ev)
        return out

    def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next(max(deadline - time.monotonic(), 0.01))
            assert ev is not END, "stream ended"
            if pred(ev):
                return dict(ev)

    def wait_end(self, timeout: float = 5.0) -> list[Any]:
        seen: list[Any] = []
        while True:
            ev = self.next(timeout)
            if ev is END:
                return seen
            seen.append(ev)

    def close(self) -> None:
        if self.thread.is_alive():
            # close() alone would wait for the reader thread's buffered read: shut the socket first.
            with contextlib.suppress(Exception):
                self.resp.shutdown()
            self.thread.join(5)
        self.resp.close()
        self.resp.release_conn()


@pytest.fixture
def server() -> Iterator[FakeKubeServer]:
    with FakeKubeServer(bookmark_interval=60.0) as srv:
        yield srv


@pytest.fixture
def api(server: FakeKubeServer) -> Iterator[client.ApiClient]:
    api_client = server.api_client()
    yield api_client
    api_client.close()


@pytest.fixture
def core(api: client.ApiClient) -> Any:  # the generated API is Optional-typed throughout
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: client.ApiClient) -> Any:
    return client.AppsV1Api(api)


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body or "")
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["metadata"] == {}
    assert body["code"] == exc.status
    return body


# ---------------------------------------------------------------- basics


def test_kubeconfig_discovery_and_version(server: FakeKubeServer, tmp_path: Path) -> None:
    path = server.write_kubeconfig(tmp_path / "kubeconfig", context="ops")
    api_client = config.new_client_from_config(str(path), context="ops")
    try:
        info = client.VersionApi(api_client).get_code()
        assert info.git_version == "v1.36.0" and info.minor == "36"
        assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]
        groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
        assert {"apps", "batch", "authorization.k8s.io"} <= groups
        names = {r.name for r in client.AppsV1Api(api_client).get_api_resources().resources}
        assert {"deployments", "deployments/scale", "deployments/status"} <= names
        assert server.requests[-1].user == DEFAULT_USER
        assert server.requests[-1].headers["authorization"] == f"Bearer {server.token}"
    finally:
        api_client.close()
    bad = server.api_client(token="nope")
    try:
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(bad).list_namespace()
        assert exc.value.status == 401
    finally:
        bad.close()


def test_crud_not_found_conflict(server: FakeKubeServer, core: Any, apps: Any) -> None:
    created = core.create_namespaced_pod("default", builders.pod("p1", labels={"app": "x"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    # A client-created pod is scheduled and started by the fake kubelet.
    stored = server.get("pods", "default", "p1")
    assert stored is not None and stored["status"]["phase"] == "Running"
    assert stored["spec"]["nodeName"] == "node-1"

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod("default", builders.pod("p1"))
    body = status_of(exc.value)
    assert exc.value.status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'pods "p1" already exists'

    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("nope", "default")
    body = status_of(exc.value)
    assert body["reason"] == "NotFound" and body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "pods"}

    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment("web", "default")
    body = status_of(exc.value)
    assert body["message"] == 'deployments.apps "web" not found'
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod("missing-ns", builders.pod("p1", "missing-ns"))
    assert status_of(exc.value)["message"] == 'namespaces "missing-ns" not found'

    # PUT with a stale resourceVersion conflicts; with the current one it succeeds.
    stale = core.read_namespaced_pod("p1", "default")
    server.patch("pods", "default", "p1", {"metadata": {"labels": {"touched": "yes"}}})
    stale.metadata.labels = {"app": "y"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_pod("p1", "default", stale)
    body = status_of(exc.value)
    assert exc.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on pods "p1": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    fresh = core.read_namespaced_pod("p1", "default")
    fresh.metadata.labels = {"app": "y"}
    replaced = core.replace_namespaced_pod("p1", "default", fresh)
    assert int(replaced.metadata.resource_version) > int(fresh.metadata.resource_version)

    # A no-op write keeps the resourceVersion (no new watch event either).
    again = core.patch_namespaced_pod("p1", "default", {"metadata": {"labels": {"app": "y"}}})
    assert again.metadata.resource_version == replaced.metadata.resource_version

    # Invalid objects get a 422 with field causes.
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod("default", {"metadata": {"name": "Bad_Name"}, "spec": {"containers": []}})
    body = status_of(exc.value)
    assert exc.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name"')

    # Pods come back from DELETE as the object (graceful: deletionTimestamp set) ...
    deleted = core.delete_namespaced_pod("p1", "default")
    assert deleted.metadata.name == "p1" and deleted.metadata.deletion_timestamp is not None
    assert server.get("pods", "default", "p1") is None
    # ... deployments as a Status.
    server.add_deployment("default", "web")
    result = apps.delete_namespaced_deployment("web", "default")
    result_dict = result if isinstance(result, dict) else result.to_dict()
    assert result_dict["status"] == "Success" and result_dict["details"]["name"] == "web"
    assert server.list("replicasets", "default") == [] and server.list("pods", "default") == []

    # Control API raises the same errors.
    with pytest.raises(FakeKubeError) as ferr:
        server.delete("pods", "default", "p1")
    assert ferr.value.code == 404


def test_models_accept_every_kind(server: FakeKubeServer, api: client.ApiClient) -> None:
    """Everything the fake returns passes the client's (strict, pydantic) models."""
    core: Any = client.CoreV1Api(api)
    apps: Any = client.AppsV1Api(api)
    batch: Any = client.BatchV1Api(api)
    server.add_node("node-1")
    server.add_node("node-2", ready=False)
    server.add_deployment("default", "web", replicas=2)
    server.create(builders.statefulset("db", replicas=2))
    server.create(builders.daemonset("agent"))
    server.create(builders.job("backup", succeeded=1))
    pod = server.create(builders.pod("crash", containers=("app", "sidecar")))
    server.apply_status("pods", "default", "crash", builders.crashloop_status(pod))
    transformers: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = [
        ("oom", builders.oomkilled_status),
        ("pull", builders.image_pull_backoff_status),
        ("cfg", builders.create_container_config_error_status),
        ("evicted", builders.evicted_status),
    ]
    for name, fn in transformers:
        p = server.create(builders.pod(name))
        server.apply_status("pods", "default", name, fn(p))
    server.create(builders.event("default", pod, "BackOff", "Back-off restarting failed container"))
    server.create(builders.event("default", ("Node", "node-2", "u-1"), "NodeNotReady", "Node is not ready"))
    server.set_node_ready("node-1", False, reason="NodeStatusUnknown")

    assert len(core.list_pod_for_all_namespaces().items) >= 9
    nodes = {n.metadata.name: n for n in core.list_node().items}
    ready = {c.type: c for c in nodes["node-1"].status.conditions}["Ready"]
    assert ready.status == "Unknown" and ready.reason == "NodeStatusUnknown"
    assert {t.key for t in nodes["node-1"].spec.taints} == {"node.kubernetes.io/unreachable"}
    assert len(core.list_event_for_all_namespaces().items) == 2
    assert {d.metadata.name for d in apps.list_deployment_for_all_namespaces().items} == {"web"}
    assert len(apps.list_replica_set_for_all_namespaces().items) == 1
    sts = apps.read_namespaced_stateful_set("db", "default")
    assert sts.status.ready_replicas == 2
    assert {p.metadata.name for p in core.list_namespaced_pod("default", label_selector="app=db").items} == {
        "db-0",
        "db-1",
    }
    ds = apps.read_namespaced_daemon_set("agent", "kube-system")
    assert ds.status.desired_number_scheduled == 2
    assert batch.read_namespaced_job("backup", "default").status.succeeded == 1
    crash = core.read_namespaced_pod("crash", "default")
    st = {c.name: c for c in crash.status.container_statuses}
    assert st["app"].state.waiting.reason == "CrashLoopBackOff"
    assert st["app"].state.waiting.message.startswith(
        "back-off 2m40s restarting failed container=app pod=crash_"
    )
    assert st["app"].last_state.terminated.exit_code == 1 and st["app"].restart_count == 5
    assert st["sidecar"].ready is True
    oom = core.read_namespaced_pod("oom", "default").status.container_statuses[0]
    assert oom.last_state.terminated.reason == "OOMKilled" and oom.last_state.terminated.exit_code == 137
    pull = core.read_namespaced_pod("pull", "default").status
    assert pull.phase == "Pending" and pull.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
    evicted = core.read_namespaced_pod("evicted", "default").status
    assert evicted.phase == "Failed" and evicted.reason == "Evicted"
    assert evicted.message.startswith("The node was low on resource: memory.")

    # Known client wart (as with a real server): pods/binding answers 201 with a Status,
    # which the generated V1Binding model rejects after the write happened.
    server.create(builders.pod("unbound", node=None, phase="Pending"))
    with pytest.raises(ValidationError):
        core.create_namespaced_pod_binding(
            "unbound",
            "default",
            {"metadata": {"name": "unbound"}, "target": {"kind": "Node", "name": "node-1"}},
        )
    assert server.requests[-1].status == 201
    assert server.get("pods", "default", "unbound")["spec"]["nodeName"] == "node-1"  # type: ignore[index]


# ---------------------------------------------------------------- RBAC & impersonation


def test_forbidden_messages_and_access_reviews(
    server: FakeKubeServer, api: client.ApiClient, core: Any, apps: Any
) -> None:
    server.add_namespace("web")
    server.add_deployment("web", "web")
    server.deny("patch", "deployments/scale", namespace="web")
    server.deny("list", "pods")

    with pytest.raises(ApiException) as exc:
        apps.patch_namespaced_deployment_scale("web", "web", {"spec": {"replicas": 3}})
    body = status_of(exc.value)
    assert exc.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'deployments.apps "web" is forbidden: User "system:serviceaccount:opsbot:opsbot" cannot patch '
        'resource "deployments/scale" in API group "apps" in the namespace "web"'
    )
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    # The rule covers the subresource only: patching the deployment itself is allowed.
    apps.patch_namespaced_deployment("web", "web", {"spec": {"replicas": 2}})
    assert len(server.list("pods", "web")) == 2

    with pytest.raises(ApiException) as exc:
        core.list_pod_for_all_namespaces()
    assert status_of(exc.value)["message"] == (
        'pods is forbidden: User "system:serviceaccount:opsbot:opsbot" cannot list resource "pods" '
        'in API group "" at the cluster scope'
    )

    authz: Any = client.AuthorizationV1Api(api)

    def review(**attrs: str) -> bool:
        result = authz.create_self_subject_access_review({"spec": {"resourceAttributes": attrs}})
        return bool(result.status.allowed)

    assert not review(
        verb="patch", group="apps", resource="deployments", subresource="scale", namespace="web"
    )
    assert review(verb="patch", group="apps", resource="deployments", subresource="scale", namespace="other")
    assert review(verb="get", resource="pods", namespace="web")
    assert [(w.method, w.status) for w in server.writes()] == [("PATCH", 403), ("PATCH", 200)]  # no reviews

    server.allow_all()
    assert core.list_pod_for_all_namespaces().items


def test_impersonation_is_recorded_and_user_deny_applies(server: FakeKubeServer, core: Any) -> None:
    server.create(builders.pod("p1"))
    server.deny("delete", "pods", user="slack:U123")
    http = urllib3.PoolManager()
    headers = urllib3.HTTPHeaderDict(
        {"Authorization": f"Bearer {server.token}", "Impersonate-User": "slack:U123"}
    )
    headers.add("Impersonate-Group", "oncall")
    headers.add("Impersonate-Group", "sre")
    resp = http.request("DELETE", f"{server.url}/api/v1/namespaces/default/pods/p1", headers=headers)
    assert resp.status == 403
    assert json.loads(resp.data)["message"] == (
        'pods "p1" is forbidden: User "slack:U123" cannot delete resource "pods" in API group "" '
        'in the namespace "default"'
    )
    rec = server.requests[-1]
    assert rec.user == "slack:U123" and rec.status == 403
    assert rec.groups == ("oncall", "sre", "system:authenticated")
    assert rec.headers["impersonate-user"] == "slack:U123"
    assert rec.headers["impersonate-group"] == "oncall, sre"

    # Through the client, with impersonation as default headers; other users are unaffected.
    other = server.api_client()
    other.set_default_header("Impersonate-User", "slack:U999")
    try:
        client.CoreV1Api(other).delete_namespaced_pod("p1", "default")
    finally:
        other.close()
    assert server.writes()[-1].user == "slack:U999"

    server.deny("impersonate", "users", name="root")
    resp = http.request(
        "GET",
        f"{server.url}/api/v1/pods",
        headers={"Authorization": f"Bearer {server.token}", "Impersonate-User": "root"},
    )
    assert resp.status == 403
    assert json.loads(resp.data)["message"] == (
        'users "root" is forbidden: User "system:serviceaccount:opsbot:opsbot" cannot impersonate '
        'resource "users" in API group "" at the cluster scope'
    )


# ---------------------------------------------------------------- selectors & pagination


def test_label_and_field_selectors(server: FakeKubeServer, core: Any) -> None:
    server.create(builders.pod("a", labels={"app": "web", "tier": "fe"}, node="n1"))
    server.create(builders.pod("b", labels={"app": "web", "tier": "be"}, node="n2"))
    server.create(builders.pod("c", labels={"app": "db"}, node="n2", phase="Pending"))
    server.create(builders.pod("d", "other", labels={"app": "web"}, node="n1"))

    def names(**kw: Any) -> list[str]:
        return [p.metadata.name for p in core.list_pod_for_all_namespaces(**kw).items]

    assert names(label_selector="app=web") == ["a", "b", "d"]
    assert names(label_selector="app==web,tier=fe") == ["a"]
    assert names(label_selector="tier!=fe") == ["b", "c", "d"]
    assert names(label_selector="tier in (fe, be)") == ["a", "b"]
    assert names(label_selector="app notin (web)") == ["c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c", "d"]
    assert names(field_selector="status.phase=Pending") == ["c"]
    assert names(field_selector="spec.nodeName=n1,metadata.namespace!=other") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(label_selector="app=web", field_selector="spec.nodeName==n2") == ["b"]

    with pytest.raises(ApiException) as exc:
        core.list_pod_for_all_namespaces(label_selector="app in (web")
    assert exc.value.status == 400 and status_of(exc.value)["reason"] == "BadRequest"
    with pytest.raises(ApiException) as exc:
        core.list_pod_for_all_namespaces(field_selector="spec.foo=bar")
    assert status_of(exc.value)["message"] == "field label not supported: spec.foo"

    pod = server.get("pods", "default", "a")
    assert pod is not None
    server.create(builders.event("default", pod, "BackOff", "back-off", type="Warning"))
    server.create(builders.event("default", pod, "Pulled", "pulled", type="Normal"))
    server.create(builders.event("other", ("Pod", "d", "uid-d"), "BackOff", "back-off"))
    events = core.list_namespaced_event(
        "default",
        field_selector=f"involvedObject.name=a,involvedObject.uid={pod['metadata']['uid']},type=Warning",
    )
    assert [e.reason for e in events.items] == ["BackOff"]
    all_backoffs = core.list_event_for_all_namespaces(field_selector="reason=BackOff,involvedObject.kind=Pod")
    assert len(all_backoffs.items) == 2
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_event("default", field_selector="spec.nodeName=n1")
    assert status_of(exc.value)["message"] == "field label not supported: spec.nodeName"


def test_pagination_with_limit_and_continue(server: FakeKubeServer, core: Any) -> None:
    server.create_many(builders.pod(f"p{i:02d}", labels={"even": str(i % 2 == 0).lower()}) for i in range(25))
    page = core.list_namespaced_pod("default", limit=10)
    rv = page.metadata.resource_version
    seen = [p.metadata.name for p in page.items]
    assert page.metadata.remaining_item_count == 15 and page.metadata._continue
    while page.metadata._continue:
        page = core.list_namespaced_pod("default", limit=10, _continue=page.metadata._continue)
        assert page.metadata.resource_version == rv
        seen += [p.metadata.name for p in page.items]
    assert seen == [f"p{i:02d}" for i in range(25)]

    first = core.list_namespaced_pod("default", limit=5, label_selector="even=true")
    assert [p.metadata.name for p in first.items] == ["p00", "p02", "p04", "p06", "p08"]
    rest = core.list_namespaced_pod(
        "default", limit=50, label_selector="even=true", _continue=first.metadata._continue
    )
    assert len(rest.items) == 8 and not rest.metadata._continue

    with pytest.raises(ApiException) as exc:
        core.list_namespaced_pod("default", limit=5, _continue="garbage!")
    assert exc.value.status == 400


# ---------------------------------------------------------------- patches & controllers


def test_rollout_restart_creates_new_replicaset_and_pods(
    server: FakeKubeServer, core: Any, apps: Any
) -> None:
    server.add_node("node-a")
    server.add_node("node-b")
    server.add_deployment("default", "web", replicas=3)
    old_rs = apps.list_namespaced_replica_set("default").items
    assert len(old_rs) == 1 and old_rs[0].metadata.owner_references[0].controller is True
    old_pods = {p.metadata.name for p in core.list_namespaced_pod("default").items}
    assert all(name.startswith(old_rs[0].metadata.name + "-") for name in old_pods)
    assert {p.spec.node_name for p in core.list_namespaced_pod("default").items} == {"node-a", "node-b"}

    restarted = apps.patch_namespaced_deployment(
        "web",
        "default",
        {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-05-01T10:00:00Z"}}
                }
            }
        },
    )
    assert restarted.metadata.generation == 2
    assert server.writes()[-1].content_type == "application/strategic-merge-patch+json"

    rss = {r.metadata.name: r for r in apps.list_namespaced_replica_set("default").items}
    assert len(rss) == 2
    new_name = next(n for n in rss if n != old_rs[0].metadata.name)
    assert rss[old_rs[0].metadata.name].spec.replicas == 0
    assert rss[new_name].spec.replicas == 3
    assert rss[new_name].metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert rss[new_name].metadata.labels["pod-template-hash"] == new_name.rsplit("-", 1)[1]
    assert len(new_name.rsplit("-", 1)[1]) == 10

    pods = core.list_namespaced_pod("default").items
    assert len(pods) == 3 and not ({p.metadata.name for p in pods} & old_pods)
    for p in pods:
        assert p.metadata.owner_references[0].name == new_name
        assert p.metadata.annotations["kubectl.kubernetes.io/restartedAt"] == "2026-05-01T10:00:00Z"
        assert p.status.phase == "Running" and p.status.container_statuses[0].ready

    dep = apps.read_namespaced_deployment("web", "default")
    assert dep.status.observed_generation == 2
    assert (dep.status.replicas, dep.status.updated_replicas, dep.status.ready_replicas) == (3, 3, 3)
    conds = {c.type: c for c in dep.status.conditions}
    assert conds["Available"].status == "True"
    assert conds["Progressing"].reason == "NewReplicaSetAvailable"
    assert conds["Progressing"].message == f'ReplicaSet "{new_name}" has successfully progressed.'

    # Strategic merge merges containers by name and env by name: an existing variable is
    # replaced, a new one appended, the others kept.
    before = server.get("deployments", "default", "web")["spec"]["template"]["spec"]["containers"][0]["env"]  # type: ignore[index]
    assert [variable["name"] for variable in before] == ["POD_NAMESPACE", "LOG_LEVEL"]
    patch_env = [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "A", "value": "1"}]
    apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": patch_env}]}}}}
    )
    tpl = server.get("deployments", "default", "web")["spec"]["template"]["spec"]  # type: ignore[index]
    assert tpl["containers"][0]["image"] == "nginx:1.27" and tpl["containers"][0]["env"] == [
        before[0],
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "A", "value": "1"},
    ]
    assert len(server.list("replicasets", "default")) == 3


def test_scale_subresource_and_pod_replacement(server: FakeKubeServer, core: Any, apps: Any) -> None:
    server.add_deployment("default", "api", replicas=2)
    scale = apps.patch_namespaced_deployment_scale("api", "default", {"spec": {"replicas": 5}})
    assert scale.kind == "Scale" and scale.spec.replicas == 5 and scale.status.selector == "app=api"
    assert len(core.list_namespaced_pod("default", label_selector="app=api").items) == 5

    current = apps.read_namespaced_deployment_scale("api", "default")
    assert current.status.replicas == 5
    before = sorted(server.list("pods", "default"), key=lambda p: int(p["metadata"]["resourceVersion"]))
    current.spec.replicas = 2
    apps.replace_namespaced_deployment_scale("api", "default", current)
    remaining = {p["metadata"]["name"] for p in server.list("pods", "default")}
    assert remaining == {p["metadata"]["name"] for p in before[:2]}  # the newest were removed
    with pytest.raises(ApiException) as exc:
        apps.replace_namespaced_deployment_scale("api", "default", current)  # stale resourceVersion
    assert exc.value.status == 409
    with pytest.raises(ApiException) as exc:
        apps.patch_namespaced_deployment_scale("api", "default", {"spec": {"replicas": -1}})
    assert exc.value.status == 422

    # Deleting an owned pod makes the ReplicaSet create a replacement.
    victim = sorted(remaining)[0]
    core.delete_namespaced_pod(victim, "default")
    after = {p["metadata"]["name"] for p in server.list("pods", "default")}
    assert len(after) == 2 and victim not in after

    # An evicted pod stays (Failed) and is replaced at once by a new Pending pod.
    pod = server.get("pods", "default", sorted(after)[0])
    assert pod is not None
    server.apply_status("pods", "default", pod["metadata"]["name"], builders.evicted_status(pod))
    phases = sorted(p["status"]["phase"] for p in server.list("pods", "default"))
    assert phases == ["Failed", "Pending", "Running"]
    dep = server.get("deployments", "default", "api")
    assert dep is not None and dep["status"]["readyReplicas"] == 1


def test_merge_patch_and_json_patch(server: FakeKubeServer, core: Any, apps: Any) -> None:
    server.add_deployment("default", "web", labels={"app": "web"})
    apps.patch_namespaced_deployment(
        "web",
        "default",
        {"metadata": {"labels": {"team": "ops"}, "annotations": {"a": "1"}}},
        _content_type="application/merge-patch+json",
    )
    assert server.writes()[-1].content_type == "application/merge-patch+json"
    dep = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"metadata": {"labels": {"team": None}}},
        _content_type="application/merge-patch+json",
    )
    assert dep.metadata.labels == {"app": "web"} and dep.metadata.annotations["a"] == "1"

    # A merge patch replaces lists wholesale.
    dep = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}},
        _content_type="application/merge-patch+json",
    )
    assert dep.spec.template.spec.containers[0].image == "nginx:1.28"
    assert dep.spec.template.spec.containers[0].termination_message_path == "/dev/termination-log"

    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 2},
        {"op": "add", "path": "/metadata/labels/tier", "value": "fe"},
        {"op": "remove", "path": "/metadata/annotations/a"},
    ]
    dep = apps.patch_namespaced_deployment("web", "default", ops)
    assert server.writes()[-1].content_type == "application/json-patch+json"
    assert dep.spec.replicas == 2 and dep.metadata.labels["tier"] == "fe"
    assert "a" not in (dep.metadata.annotations or {})
    assert len(server.list("pods", "default")) == 2
    with pytest.raises(ApiException) as exc:
        apps.patch_namespaced_deployment(
            "web", "default", [{"op": "test", "path": "/spec/replicas", "value": 9}]
        )
    assert exc.value.status == 422 and status_of(exc.value)["reason"] == "Invalid"
    # Status written through the main resource is ignored, through /status it sticks.
    core.patch_namespaced_pod(
        server.list("pods", "default")[0]["metadata"]["name"], "default", {"status": {"phase": "Failed"}}
    )
    assert {p["status"]["phase"] for p in server.list("pods", "default")} == {"Running"}


def test_dry_run_does_not_store_or_notify(server: FakeKubeServer, core: Any, apps: Any) -> None:
    server.add_deployment("default", "web")
    rv = server.resource_version
    created = apps.create_namespaced_deployment("default", builders.deployment("tmp"), dry_run="All")
    assert created.metadata.name == "tmp" and created.metadata.uid
    patched = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 4}}, dry_run="All")
    assert patched.spec.replicas == 4
    scaled = apps.patch_namespaced_deployment_scale(
        "web", "default", {"spec": {"replicas": 7}}, dry_run="All"
    )
    assert scaled.spec.replicas == 7
    dep = apps.read_namespaced_deployment("web", "default")
    dep.spec.replicas = 9
    assert apps.replace_namespaced_deployment("web", "default", dep, dry_run="All").spec.replicas == 9
    core.delete_namespaced_pod(
        server.list("pods", "default")[0]["metadata"]["name"], "default", dry_run="All"
    )
    assert server.resource_version == rv
    assert server.get("deployments", "default", "tmp") is None
    stored = server.get("deployments", "default", "web")
    assert stored is not None and stored["spec"]["replicas"] == 1
    assert len(server.list("pods", "default")) == 1


# ---------------------------------------------------------------- watches


def test_list_then_watch_receives_later_changes(server: FakeKubeServer, core: Any) -> None:
    server.create(builders.pod("before"))
    listed = core.list_pod_for_all_namespaces()
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    w = watch.Watch()

    def run() -> None:
        try:
            for ev in w.stream(
                core.list_pod_for_all_namespaces, resource_version=listed.metadata.resource_version
            ):
                events.put(ev)
        except Exception as exc:  # Watch.stop() shuts the socket under the reader
            events.put({"type": "CLOSED", "error": exc})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    server.wait_for_watches(1)
    pod = server.create(builders.pod("after"))
    server.apply_status("pods", "default", "after", builders.crashloop_status(pod))
    server.delete("pods", "default", "after")

    got = [events.get(timeout=5) for _ in range(4)]
    assert [(e["type"], e["object"].metadata.name) for e in got] == [
        ("ADDED", "after"),
        ("MODIFIED", "after"),
        ("MODIFIED", "after"),  # graceful deletion sets deletionTimestamp first
        ("DELETED", "after"),
    ]
    assert isinstance(got[0]["object"], client.V1Pod)
    assert got[1]["object"].status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"
    assert got[2]["object"].metadata.deletion_timestamp is not None
    rvs = [int(e["object"].metadata.resource_version) for e in got]
    assert rvs == sorted(rvs) and rvs[0] > int(listed.metadata.resource_version)
    w.stop()
    thread.join(5)
    assert not thread.is_alive()
    server.wait_for_watches(0)


def test_raw_watch_resume_replays_missed_events(server: FakeKubeServer, core: Any) -> None:
    server.create(builders.pod("p0"))
    rv = server.resource_version
    server.create(builders.pod("p1"))
    server.patch("pods", "default", "p0", {"metadata": {"labels": {"x": "1"}}})
    server.delete("pods", "default", "p1")
    raw = RawWatch(core.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=1)
    seen = raw.wait_end()
    assert raw.error is None  # timeoutSeconds ends the stream cleanly
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [
        ("ADDED", "p1"),
        ("MODIFIED", "p0"),
        ("MODIFIED", "p1"),
        ("DELETED", "p1"),
    ]
    assert "kind" in seen[0]["object"] and seen[0]["object"]["apiVersion"] == "v1"
    raw.close()

    # Without a resourceVersion: synthetic ADDED for the current state, then live events;
    # label selectors turn objects leaving the filter into DELETED.
    raw = RawWatch(core.list_namespaced_pod, "default", label_selector="x=1")
    first = raw.next()
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "p0")
    server.wait_for_watches(1)
    server.patch("pods", "default", "p0", {"metadata": {"labels": {"x": "2"}}})
    ev = raw.next()
    assert (ev["type"], ev["object"]["metadata"]["labels"]["x"]) == ("DELETED", "2")
    raw.close()


def test_compacted_resource_version_gives_410(server: FakeKubeServer, core: Any) -> None:
    server.create(builders.pod("p0"))
    old_rv = server.resource_version
    server.create(builders.pod("p1"))
    server.compact()
    current = server.resource_version
    raw = RawWatch(core.list_pod_for_all_namespaces, resource_version=old_rv)
    seen = raw.wait_end()
    assert raw.error is None
    assert seen == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {old_rv} ({current})",
                "reason": "Expired",
                "code": 410,
            },
        }
    ]
    raw.close()
    with pytest.raises(ApiException) as exc:
        for _ in watch.Watch().stream(core.list_pod_for_all_namespaces, resource_version=old_rv):
            pass
    assert exc.value.status == 410

    # Watching from the current resourceVersion still works after compaction.
    raw = RawWatch(core.list_pod_for_all_namespaces, resource_version=current, timeout_seconds=1)
    server.wait_for_watches(1)
    server.create(builders.pod("p2"))
    assert raw.next()["object"]["metadata"]["name"] == "p2"
    raw.close()

    with FakeKubeServer(gone_as_http_status=True) as strict:
        strict.create(builders.pod("p0"))
        rv = strict.resource_version
        strict.create(builders.pod("p1"))
        strict.compact()
        api_client = strict.api_client()
        try:
            with pytest.raises(ApiException) as exc:
                client.CoreV1Api(api_client).list_pod_for_all_namespaces(
                    watch=True, resource_version=rv, _preload_content=False
                )
            assert exc.value.status == 410 and status_of(exc.value)["reason"] == "Expired"
        finally:
            api_client.close()


def test_bookmarks_on_demand_and_periodic(server: FakeKubeServer, core: Any) -> None:
    server.create(builders.pod("p0"))
    raw = RawWatch(
        core.list_pod_for_all_namespaces, resource_version=server.resource_version, allow_watch_bookmarks=True
    )
    server.wait_for_watches(1)
    server.create(builders.event("default", ("Pod", "p0", "u"), "Pulled", "pulled", type="Normal"))
    server.send_bookmarks()
    ev = raw.next()
    assert ev == {
        "type": "BOOKMARK",
        "object": {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": server.resource_version},
        },
    }
    raw.close()

    with FakeKubeServer(bookmark_interval=0.05) as fast:
        api_client = fast.api_client()
        try:
            periodic = RawWatch(client.CoreV1Api(api_client).list_node, allow_watch_bookmarks=True)
            assert periodic.next()["type"] == "BOOKMARK"
            periodic.close()
            plain = RawWatch(client.CoreV1Api(api_client).list_node, timeout_seconds=1)
            assert plain.wait_end() == []  # no bookmarks unless allowed
            plain.close()
        finally:
            api_client.close()


def test_drop_watches_and_many_concurrent_streams(server: FakeKubeServer, core: Any) -> None:
    rv = server.resource_version
    streams = [RawWatch(core.list_pod_for_all_namespaces, resource_version=rv) for _ in range(20)]
    # A client that never reads must not hold up anyone else.
    stalled = core.list_pod_for_all_namespaces(watch=True, resource_version=rv, _preload_content=False)
    server.wait_for_watches(21)
    server.create_many(builders.pod(f"bulk-{i}", labels={"pad": "x" * 60}) for i in range(1500))
    for s in streams:
        assert s.take(1500)[-1]["object"]["metadata"]["name"] == "bulk-1499"

    server.drop_watches()
    for s in streams:
        assert s.wait_end() == []
        assert isinstance(s.error, urllib3.exceptions.ProtocolError)  # cut, not finished
        s.close()
    stalled.close()  # the server only notices once its blocked write fails
    server.wait_for_watches(0)

    clean = RawWatch(core.list_namespaced_pod, "kube-system")
    server.wait_for_watches(1)
    server.drop_watches(clean=True)
    assert clean.wait_end() == [] and clean.error is None
    clean.close()


async def test_control_api_from_an_event_loop(server: FakeKubeServer, core: Any) -> None:
    raw = await asyncio.to_thread(RawWatch, core.list_namespaced_pod, "default")
    await asyncio.to_thread(server.wait_for_watches, 1)
    server.create(builders.pod("from-loop"))  # control calls are quick and thread-safe
    event = await asyncio.to_thread(raw.next)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "from-loop")
    await asyncio.to_thread(raw.close)


# ---------------------------------------------------------------- logs


def test_pod_logs_and_errors(server: FakeKubeServer, core: Any) -> None:
    server.create(builders.pod("one"))
    server.create(builders.pod("two", containers=("app", "proxy")))
    old = builders.parse_time("2026-01-01T00:00:00Z")
    server.set_log("default", "one", [(old, "ancient"), "line 1", "line 2", "line 3"])
    server.set_log("default", "one", "crashed here\n", previous=True)
    server.set_log("default", "two", "proxy up", container="proxy")

    assert core.read_namespaced_pod_log("one", "default") == "ancient\nline 1\nline 2\nline 3\n"
    assert core.read_namespaced_pod_log("one", "default", tail_lines=2) == "line 2\nline 3\n"
    assert core.read_namespaced_pod_log("one", "default", since_seconds=3600) == "line 1\nline 2\nline 3\n"
    assert core.read_namespaced_pod_log("one", "default", previous=True) == "crashed here\n"
    assert core.read_namespaced_pod_log("one", "default", limit_bytes=4) == "anci"
    stamped = core.read_namespaced_pod_log("one", "default", timestamps=True, tail_lines=1)
    assert stamped.endswith("Z line 3\n") and stamped[:4].isdigit()
    assert core.read_namespaced_pod_log("two", "default", container="proxy") == "proxy up\n"
    assert server.requests[-1].query["container"] == ["proxy"]

    def error(name: str, **kw: Any) -> tuple[int, str]:
        with pytest.raises(ApiException) as exc:
            core.read_namespaced_pod_log(name, "default", **kw)
        return exc.value.status, status_of(exc.value)["message"]

    assert error("two") == (400, "a container name must be specified for pod two, choose one of: [app proxy]")
    assert error("two", container="nope") == (400, "container nope is not valid for pod two")
    assert error("two", container="app", previous=True) == (
        400,
        'previous terminated container "app" in pod "two" not found',
    )
    assert error("ghost") == (404, 'pods "ghost" not found')
    waiting = server.create(builders.pod("waiting", phase="Pending"))
    assert waiting["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    assert error("waiting") == (
        400,
        'container "app" in pod "waiting" is waiting to start: ContainerCreating',
    )
    pulling = server.create(builders.pod("pulling"))
    server.apply_status("pods", "default", "pulling", builders.image_pull_backoff_status(pulling))
    assert error("pulling")[1].endswith("is waiting to start: trying and failing to pull image")

    # A crash-looping container still serves its last run's output.
    crash = server.create(builders.pod("crash"))
    server.set_log("default", "crash", "panic: boom")
    server.apply_status("pods", "default", "crash", builders.crashloop_status(crash))
    assert core.read_namespaced_pod_log("crash", "default") == "panic: boom\n"
    assert core.read_namespaced_pod_log("crash", "default", previous=True) == ""

    # Node unreachable: the API server's kubelet proxy error names the kubelet address.
    server.add_node("node-1")
    server.set_node_ready("node-1", False, reason="NodeStatusUnknown")
    code, message = error("one")
    host_ip = server.get("pods", "default", "one")["status"]["hostIP"]  # type: ignore[index]
    assert code == 500 and f"{host_ip}:10250" in message and "containerLogs/default/one/app" in message


# ---------------------------------------------------------------- faults


def test_fail_next_delay_and_pause(server: FakeKubeServer, core: Any) -> None:
    server.fail_next("GET", r"/api/v1/namespaces/[^/]+/pods$", status=500, times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            core.list_namespaced_pod("default")
        assert exc.value.status == 500 and status_of(exc.value)["reason"] == "InternalError"
    assert core.list_namespaced_pod("default").items == []
    # 429 + Retry-After is retried transparently by the client's urllib3 pool ...
    server.clear_requests()
    server.fail_next("*", r"/pods$", status=429, reason="TooManyRequests")
    assert core.list_pod_for_all_namespaces().items == []
    assert [r.status for r in server.requests] == [429, 200]
    # ... without the header it surfaces as an ApiException.
    server.fail_next("*", r"/pods$", status=429, reason="TooManyRequests", retry_after=None)
    with pytest.raises(ApiException) as exc:
        core.list_pod_for_all_namespaces()
    assert exc.value.status == 429 and status_of(exc.value)["reason"] == "TooManyRequests"

    server.delay(r"/api/v1/nodes$", 2.0)
    with pytest.raises(urllib3.exceptions.MaxRetryError):  # the read timed out before the reply
        core.list_node(_request_timeout=0.2)
    server.delay(r"/api/v1/nodes$", 0)
    assert core.list_node().items == []

    raw = RawWatch(core.list_namespaced_pod, "default")
    server.wait_for_watches(1)
    server.pause()
    assert raw.wait_end() == [] and raw.error is not None
    raw.close()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as down:
        core.list_namespace()
    assert isinstance(down.value.reason, urllib3.exceptions.NewConnectionError)  # refused
    server.create(builders.pod("while-down"))  # state changes survive the outage
    server.resume()
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["while-down"]


# ---------------------------------------------------------------- scale


def test_ten_thousand_pods_are_listed_and_watched(server: FakeKubeServer, core: Any) -> None:
    """Correctness at scale; how fast is bench/watch_throughput's job (bounds here catch hangs)."""
    server.create_many(builders.node(f"node-{i}") for i in range(500))
    server.create_many(
        builders.pod(f"pod-{i}", f"ns-{i % 20}", node=f"node-{i % 500}", labels={"app": f"a{i % 50}"})
        for i in range(10_000)
    )
    core.list_node(_preload_content=False).data  # warm the connection
    started = time.monotonic()
    data = core.list_pod_for_all_namespaces(_preload_content=False).data
    elapsed = time.monotonic() - started
    body = json.loads(data)
    assert len(body["items"]) == 10_000 and body["kind"] == "PodList"
    assert "kind" not in body["items"][0]  # like the real server: items carry no kind/apiVersion
    assert elapsed < 30, f"10k pod list took {elapsed:.2f}s"

    raw = RawWatch(core.list_pod_for_all_namespaces, resource_version=server.resource_version)
    server.wait_for_watches(1)
    server.apply_status("pods", "ns-3", "pod-3", {"phase": "Failed"})
    ev = raw.next()  # queue.Empty if it does not arrive within 5 s
    assert ev["object"]["metadata"]["name"] == "pod-3"
    raw.close()
