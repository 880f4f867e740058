"""Several clusters running the same many apps, for `apps` / `diff` at scale (tests and bench).

Each cluster gets `count` Deployments over ten namespaces, with a settled status (no
controllers: the fake API servers only serve and watch them). The clusters differ the
way fleets do, deterministically:

- prod lags: every 5th app runs the previous version (1.<i % 9>.0 vs 1.<i % 9 + 1>.0 on stage);
- prod runs 3 replicas where stage runs 2, for every 4th app;
- lab lacks every 7th app and logs at debug (LOG_LEVEL) for every 6th;
- prod's API_TOKEN (a secret-looking name) differs for every 11th app, its value
  `secret-<cluster>-<i>` must never be shown.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests.support.fake_kube import FakeKubeServer

NAMESPACES = tuple(f"team-{n:02d}" for n in range(10))
FLEET = ("stage", "prod", "lab")


def _stamp(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def app_name(i: int) -> str:
    return f"app-{i:04d}"


def version(cluster: str, i: int) -> str:
    minor = i % 9 + 1
    if cluster == "prod" and i % 5 == 0:
        minor -= 1
    return f"1.{minor}.0"


def deployment(cluster: str, i: int) -> dict[str, Any] | None:
    if cluster == "lab" and i % 7 == 0:
        return None
    name, namespace = app_name(i), NAMESPACES[i % len(NAMESPACES)]
    replicas = 3 if cluster == "prod" and i % 4 == 0 else 2
    labels = {"app": name, "app.kubernetes.io/name": name}
    token = f"secret-{cluster}-{i}" if cluster == "prod" and i % 11 == 0 else f"secret-shared-{i}"
    env = [
        {"name": "LOG_LEVEL", "value": "debug" if cluster == "lab" and i % 6 == 0 else "info"},
        {"name": "API_TOKEN", "value": token},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{name}-db", "key": "password"}}},
    ]
    changed = _stamp(3600 * (i % 48) + 120)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "creationTimestamp": _stamp(86400 * 30),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": f"registry.example.com/{namespace}/{name}:{version(cluster, i)}",
                            "args": ["--port", "8080"],
                            "env": env,
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"memory": "256Mi"},
                            },
                        }
                    ]
                },
            },
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "MinimumReplicasAvailable",
                    "lastUpdateTime": changed,
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "lastUpdateTime": changed,
                    "lastTransitionTime": changed,
                },
            ],
        },
    }


def populate(kube: FakeKubeServer, cluster: str, count: int) -> int:
    for namespace in NAMESPACES:
        kube.add_namespace(namespace)
    made = [d for d in (deployment(cluster, i) for i in range(count)) if d is not None]
    return kube.create_many(made)


@contextmanager
def fleet_servers(count: int, clusters: tuple[str, ...] = FLEET) -> Iterator[dict[str, FakeKubeServer]]:
    """One populated fake API server (no controllers) per cluster."""
    with ExitStack() as stack:
        servers: dict[str, FakeKubeServer] = {}
        for cluster in clusters:
            server = FakeKubeServer(controllers=False, bookmark_interval=5.0).start()
            stack.callback(server.stop)
            populate(server, cluster, count)
            servers[cluster] = server
        yield servers


def fleet_config(tmp_path: Path, servers: dict[str, FakeKubeServer]) -> dict[str, Any]:
    """`clusters:`, `default_cluster` and `watch:` for a bot over these servers."""
    return {
        "clusters": {
            name: {
                "kubeconfig": str(server.write_kubeconfig(tmp_path / f"{name}.kubeconfig")),
                "context": "fake",
                "request_timeout_seconds": 3,
            }
            for name, server in servers.items()
        },
        "default_cluster": next(iter(servers)),
        "watch": {"cache": True},
    }
