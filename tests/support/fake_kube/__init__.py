"""A fake Kubernetes API server (kube-apiserver v1.36 behaviour) for opsbot's tests.

``FakeKubeServer`` serves real HTTP on 127.0.0.1 so the official ``kubernetes``
client talks to it unchanged; ``builders`` makes realistic objects and
kubelet-style status patches. See ``/work/shared/docs/kubernetes-facts.md`` for
the behaviours it reproduces.
"""

from . import builders
from .errors import FakeKubeError
from .server import DEFAULT_USER, FakeKubeServer, RecordedRequest

__all__ = ["DEFAULT_USER", "FakeKubeError", "FakeKubeServer", "RecordedRequest", "builders"]
