"""A fake Kubernetes API server (kube-apiserver v1.36 behaviour) for opsbot's tests.

``FakeKubeServer`` serves real HTTP on 127.0.0.1 from its own thread so the
official ``kubernetes`` client talks to it unchanged; ``builders`` makes realistic
objects and kubelet-style status patches. It reproduces what
``/work/shared/docs/kubernetes-facts.md`` lists: Status errors, RBAC messages,
selectors, pagination, patch flavours, watch/bookmark/410 semantics, logs, and
synchronous mini controllers (Deployment -> ReplicaSet -> Pods, StatefulSet,
DaemonSet, GC, a kubelet that starts bare pods; paused Deployments hold rollouts and a
rollback reuses the old ReplicaSet as the next revision). Flux's ``Kustomization``
(kustomize.toolkit.fluxcd.io/v1) and ``HelmRelease`` (helm.toolkit.fluxcd.io/v2) are
served like CRDs (status subresource, no strategic merge patch); ``tests/support/fake_flux.py``
writes their status.

Typical use::

    with FakeKubeServer() as kube:
        kube.add_node("node-1")
        kube.add_deployment("web", "web", replicas=3)          # RS + 3 Running pods
        api = kube.api_client()                                 # or write_kubeconfig(path)
        pod = kube.list("pods", "web")[0]
        kube.apply_status("pods", "web", pod["metadata"]["name"], builders.crashloop_status(pod))
        kube.deny("patch", "deployments/scale", namespace="web")
        assert kube.writes()[-1].user == DEFAULT_USER

Control methods are synchronous and thread-safe; writes made through them run
the controllers and emit watch events exactly like client writes.
"""

from . import builders
from .errors import FakeKubeError
from .server import DEFAULT_USER, FakeKubeServer, RecordedRequest

__all__ = ["DEFAULT_USER", "FakeKubeError", "FakeKubeServer", "RecordedRequest", "builders"]
