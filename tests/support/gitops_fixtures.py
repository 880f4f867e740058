"""A Flux-style GitOps repository for two clusters (stage, prod), as files.

Shaped like fluxcd/flux2-kustomize-helm-example plus the two other layouts opsbot edits:

    clusters/<cluster>/apps.yaml          Flux Kustomization `apps` → ./apps/<cluster>
    apps/base/podinfo/helmrelease.yaml    HelmRelease with a semver range (upstream style)
    apps/<cluster>/podinfo-values.yaml    partial HelmRelease pinning `version:`   (helm-chart)
    apps/<cluster>/kustomization.yaml     kustomize `images:` with a Flux marker    (kustomize-image)
    apps/<cluster>/worker.yaml            plain Deployment + Service, two containers (deployment-image)

Versions differ per cluster so a test can tell them apart.
"""

from __future__ import annotations

from opsbot.releases.layouts import FieldTarget, Layout
from opsbot.releases.settings import ReleasesSettings

CLUSTERS = ("stage", "prod")
VERSIONS = {
    "stage": {"podinfo": "6.5.2", "web": "1.4.0", "worker": "2.0.0"},
    "prod": {"podinfo": "6.5.1", "web": "1.3.2", "worker": "1.9.0"},
}
NAMESPACES = {"podinfo": "podinfo", "web": "web", "worker": "worker"}
WEB_IMAGE = "ghcr.io/org/web"
WORKER_IMAGE = "registry:5000/org/worker"


def flux_kustomization(cluster: str) -> str:
    return f"""\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./apps/{cluster}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"""


HELMRELEASE_BASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  releaseName: podinfo
  chart:
    spec:
      chart: podinfo
      version: ">=1.0.0"   # upstream tracks a range; each cluster pins one
      sourceRef:
        kind: HelmRepository
        name: podinfo
  interval: 50m
  install:
    remediation:
      retries: 3
"""


def podinfo_values(cluster: str) -> str:
    version = VERSIONS[cluster]["podinfo"]
    return f"""\
# {cluster}: podinfo pinned by hand, promoted by opsbot
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  chart:
    spec:
      version: "{version}"  # pinned
  values:
    ingress:
      hosts:
        - host: podinfo.{cluster}.example.com
    replicaCount: 2
"""


def kustomization(cluster: str) -> str:
    version = VERSIONS[cluster]["web"]
    return f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: web
resources:
  - ../base/podinfo
  - worker.yaml
images:
  - name: {WEB_IMAGE}
    newTag: {version} # {{"$imagepolicy": "flux-system:web:tag"}}
  - {{name: docker.io/library/redis, newTag: "7.2"}}
"""


def worker(cluster: str) -> str:
    version = VERSIONS[cluster]["worker"]
    return f"""\
apiVersion: v1
kind: Service
metadata:
  name: worker
spec:
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  labels: {{app: worker}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: worker}}
  template:
    metadata:
      labels: {{app: worker}}
    spec:
      containers:
      - name: log-shipper
        image: fluent/fluent-bit:3.0
      - name: worker
        image: {WORKER_IMAGE}:{version} # {{"$imagepolicy": "flux-system:worker"}}
        args: ["--queue", "jobs"]
"""


def files() -> dict[str, str]:
    """Every file of the repository, path → text."""
    tree = {"apps/base/podinfo/helmrelease.yaml": HELMRELEASE_BASE, "README.md": "# fleet\n"}
    for cluster in CLUSTERS:
        tree[f"clusters/{cluster}/apps.yaml"] = flux_kustomization(cluster)
        tree[f"apps/{cluster}/podinfo-values.yaml"] = podinfo_values(cluster)
        tree[f"apps/{cluster}/kustomization.yaml"] = kustomization(cluster)
        tree[f"apps/{cluster}/worker.yaml"] = worker(cluster)
    return tree


def settings(repository_url: str = "file:///nowhere", **repository: object) -> ReleasesSettings:
    """`releases:` settings describing this repository."""
    return ReleasesSettings.model_validate(
        {
            "repositories": {"fleet": {"url": repository_url, **repository}},
            "defaults": {"layout": "helm-chart", "path": "apps/{cluster}/{app}-values.yaml"},
            "apps": {
                "podinfo": {"namespace": "podinfo", "versions": {"semver": ">=6 <7"}},
                "web": {
                    "namespace": "web",
                    "layout": "kustomize-image",
                    "path": "apps/{cluster}/kustomization.yaml",
                    "image": WEB_IMAGE,
                },
                "worker": {
                    "namespace": "worker",
                    "layout": "deployment-image",
                    "path": "apps/{cluster}/{app}.yaml",
                    "container": "worker",
                    "clusters": {"prod": {"versions": {"pattern": r"\d+\.\d+\.\d+"}}},
                },
            },
            "clusters": {
                cluster: {"repository": "fleet", "flux": {"kind": "Kustomization", "name": "apps"}}
                for cluster in CLUSTERS
            },
        }
    )


def target(app: str, cluster: str) -> FieldTarget:
    """The FieldTarget of `app` on `cluster` in this repository."""
    if app == "podinfo":
        return FieldTarget(Layout.HELM_CHART, f"apps/{cluster}/podinfo-values.yaml", name="podinfo")
    if app == "web":
        return FieldTarget(Layout.KUSTOMIZE_IMAGE, f"apps/{cluster}/kustomization.yaml", image=WEB_IMAGE)
    return FieldTarget(
        Layout.DEPLOYMENT_IMAGE, f"apps/{cluster}/worker.yaml", name="worker", container="worker"
    )
