"""A test "Flux": applies what the GitOps repository says to fake clusters.

It reads the fleet layout (`gitops_fixtures`) at a commit with PyYAML (independently of
opsbot's own readers) and does what Flux's controllers would, on each cluster's
FakeKubeServer: set the Deployments' images and version labels, patch the HelmRelease's
chart version, and write Flux's status — Kustomization `Ready` and
`lastAppliedRevision: main@sha1:<sha>`, HelmRelease `Ready` and
`history[0].chartVersion`.

Event-driven: `FakeFlux.watch()` subscribes to the GitServer, so a push over HTTP (or a
`server.commit`) is applied before the push returns; pushes over file:// bypass the
server, so a test calls `reconcile()` (or `start_polling()` with a short interval,
stopped by `stop()`). Per cluster, `mode` picks a variant:

    "apply"         Flux applies and the rollout completes
    "fail-rollout"  Flux applies, the new pods crash, the rollout sticks (ProgressDeadlineExceeded),
                    health checks fail
    "never"         Flux never applies (suspended): status stays at the old revision

    flux = FakeFlux(server, {"stage": stage_kube, "prod": prod_kube})
    flux.install(); flux.watch()
    flux.mode["prod"] = "fail-rollout"
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from tests.support import gitops_fixtures as fleet
from tests.support.fake_kube import FakeKubeServer, builders
from tests.support.git_server import GitServer

Mode = Literal["apply", "fail-rollout", "never"]
FLUX_NS = "flux-system"
PODINFO_IMAGE = "ghcr.io/stefanprodan/podinfo"
_KS_LABELS = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": FLUX_NS}


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def desired(server: GitServer, cluster: str, commit: str) -> dict[str, dict[str, str]]:
    """Deployment → container → image, and the podinfo chart version, as the repo says."""
    values = _docs(server.read(f"apps/{cluster}/podinfo-values.yaml", commit))[0]
    chart = str(values["spec"]["chart"]["spec"]["version"])
    kustomization = _docs(server.read(f"apps/{cluster}/kustomization.yaml", commit))[0]
    tags = {str(i["name"]): str(i["newTag"]) for i in kustomization.get("images") or [] if "newTag" in i}
    worker = next(
        d for d in _docs(server.read(f"apps/{cluster}/worker.yaml", commit)) if d["kind"] == "Deployment"
    )
    return {
        "podinfo": {"podinfo": f"{PODINFO_IMAGE}:{chart}", "#version": chart},
        "web": {"web": f"{fleet.WEB_IMAGE}:{tags[fleet.WEB_IMAGE]}", "#version": tags[fleet.WEB_IMAGE]},
        "worker": {str(c["name"]): str(c["image"]) for c in worker["spec"]["template"]["spec"]["containers"]},
    }


def _condition(ctype: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": builders.rfc3339(),
    }


class FakeFlux:
    """See the module docstring."""

    def __init__(self, server: GitServer, clusters: Mapping[str, FakeKubeServer]) -> None:
        self.server = server
        self.clusters = dict(clusters)
        self.mode: dict[str, Mode] = dict.fromkeys(self.clusters, "apply")
        self.applied: dict[str, str] = {}
        self.errors: list[BaseException] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # -- set-up ------------------------------------------------------------------------

    def install(self) -> None:
        """Flux objects and the apps on every cluster, at the repository's head."""
        head = self.server.head()
        for cluster, kube in self.clusters.items():
            if not kube.list("nodes"):
                kube.add_node("node-1")
            for namespace in (FLUX_NS, *fleet.NAMESPACES.values()):
                if kube.get("namespaces", None, namespace) is None:
                    kube.add_namespace(namespace)
            kube.create(
                {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "metadata": {"name": "apps", "namespace": FLUX_NS},
                    "spec": {"interval": "10m0s", "path": f"./apps/{cluster}", "prune": True},
                }
            )
            want = desired(self.server, cluster, head)
            kube.create(
                {
                    "apiVersion": "helm.toolkit.fluxcd.io/v2",
                    "kind": "HelmRelease",
                    "metadata": {"name": "podinfo", "namespace": "podinfo", "labels": dict(_KS_LABELS)},
                    "spec": {"chart": {"spec": {"chart": "podinfo", "version": want["podinfo"]["#version"]}}},
                }
            )
            for app, containers in want.items():
                images = [{"name": n, "image": i} for n, i in containers.items() if not n.startswith("#")]
                main = next(c["image"] for c in images if c["name"] == app)
                kube.create(
                    builders.deployment(app, fleet.NAMESPACES[app], replicas=2, image=main, containers=images)
                )
            self._apply(cluster, head)

    def watch(self) -> None:
        """Apply every new head as soon as the git server sees it (event-driven)."""
        self.server.subscribe(self._on_commit)

    def _on_commit(self, sha: str) -> None:
        try:
            self.reconcile(sha)
        except BaseException as exc:  # reported by the test through `errors`
            self.errors.append(exc)

    def start_polling(self, interval: float = 0.02) -> None:
        """Poll the branch head from a thread (for pushes over file://); `stop()` ends it."""
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                head = self.server.head()
                if any(self.applied.get(c) != head for c in self.clusters):
                    self._on_commit(head)

        self._poller = threading.Thread(target=loop, name="fake-flux", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None

    # -- reconcile ---------------------------------------------------------------------

    def reconcile(self, sha: str | None = None) -> None:
        """Apply commit `sha` (default: the head) on every cluster per its mode."""
        commit = sha or self.server.head()
        with self._lock:
            for cluster in self.clusters:
                if self.mode[cluster] != "never" and self.applied.get(cluster) != commit:
                    self._apply(cluster, commit)

    def _apply(self, cluster: str, commit: str) -> None:
        kube = self.clusters[cluster]
        failing = self.mode[cluster] == "fail-rollout"
        want = desired(self.server, cluster, commit)
        for app, containers in want.items():
            namespace = fleet.NAMESPACES[app]
            deployment = kube.get("deployments", namespace, app)
            assert deployment is not None
            version = containers.get("#version")
            labels = {**_KS_LABELS, **({"app.kubernetes.io/version": version} if version else {})}
            template_containers = [
                {**c, "image": containers.get(c["name"], c["image"])}
                for c in deployment["spec"]["template"]["spec"]["containers"]
            ]
            if failing:  # the new version's pods crash: its rollout never becomes available
                kube.world.crashing_images.update(
                    c["image"] for c in template_containers if c not in deployment["spec"]["template"]["spec"]["containers"]
                )
            kube.patch(
                "deployments",
                namespace,
                app,
                {
                    "metadata": {"labels": labels},
                    "spec": {"template": {"spec": {"containers": template_containers}}},
                },
            )
            changed = template_containers != deployment["spec"]["template"]["spec"]["containers"]
            if failing and changed:
                current = kube.get("deployments", namespace, app)
                assert current is not None
                kube.apply_status("deployments", namespace, app, builders.rollout_stuck_status(current))
        self._helmrelease(kube, want["podinfo"]["#version"], failed=failing)
        self._kustomization(kube, commit, failed=failing)
        self.applied[cluster] = commit

    @staticmethod
    def _helmrelease(kube: FakeKubeServer, version: str, *, failed: bool) -> None:
        release = kube.patch(
            "helmreleases", "podinfo", "podinfo", {"spec": {"chart": {"spec": {"version": version}}}}
        )
        status = release.get("status") or {}
        history = list(status.get("history") or [])
        if history and history[0].get("chartVersion") == version and not failed:
            return
        for entry in history:
            if entry.get("status") == "deployed":
                entry["status"] = "superseded"
        now = builders.rfc3339()
        history.insert(
            0,
            {
                "chartName": "podinfo",
                "chartVersion": version,
                "appVersion": version,
                "name": "podinfo",
                "namespace": "podinfo",
                "version": len(history) + 1,
                "status": "failed" if failed else "deployed",
                "firstDeployed": now,
                "lastDeployed": now,
            },
        )
        ready = (
            _condition(
                "Ready",
                "False",
                "UpgradeFailed",
                f"Helm upgrade failed for release podinfo/podinfo with chart podinfo@{version}: context deadline exceeded",
            )
            if failed
            else _condition(
                "Ready",
                "True",
                "UpgradeSucceeded",
                f"Helm upgrade succeeded for release podinfo/podinfo.v{len(history)} with chart podinfo@{version}",
            )
        )
        kube.apply_status(
            "helmreleases",
            "podinfo",
            "podinfo",
            {
                "observedGeneration": release["metadata"]["generation"],
                "history": history[:5],
                "conditions": [
                    ready,
                    _condition("Released", ready["status"], ready["reason"], ready["message"]),
                ],
            },
        )

    @staticmethod
    def _kustomization(kube: FakeKubeServer, commit: str, *, failed: bool) -> None:
        revision = f"main@sha1:{commit}"
        current = kube.get("kustomizations", FLUX_NS, "apps")
        assert current is not None
        status: dict[str, Any] = {
            "observedGeneration": current["metadata"]["generation"],
            "lastAttemptedRevision": revision,
        }
        if failed:
            status["conditions"] = [
                _condition(
                    "Ready",
                    "False",
                    "HealthCheckFailed",
                    "health check failed after 5m0s: timeout waiting for: [Deployment/web/web status: 'InProgress']",
                )
            ]
        else:
            status["lastAppliedRevision"] = revision
            status["conditions"] = [
                _condition("Ready", "True", "ReconciliationSucceeded", f"Applied revision: {revision}")
            ]
        kube.apply_status("kustomizations", FLUX_NS, "apps", status)
