"""The configured clusters: one shared client each, built on first use."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from opsbot.config import ClusterSettings
from opsbot.errors import ClusterUnreachableError
from opsbot.kube.client import KubeClient
from opsbot.kube.rows import RowSource
from opsbot.ports import Identity


class ClusterSetupError(Exception):
    """The cluster's connection settings cannot work; the message says why in one sentence."""


def build_api_client(
    settings: ClusterSettings, *, environ_kubeconfig: str | None, environ: Mapping[str, str] | None = None
) -> k8s.ApiClient:
    """An ApiClient for one configured cluster (in-cluster or kubeconfig + context).

    Raises ClusterSetupError with one plain sentence for what is wrong with the set-up.
    """
    env = os.environ if environ is None else environ
    configuration = k8s.Configuration()
    if settings.in_cluster:
        if not env.get("KUBERNETES_SERVICE_HOST"):
            raise ClusterSetupError(
                "in_cluster: true but not running in a pod (KUBERNETES_SERVICE_HOST is unset); "
                "outside the cluster use kubeconfig (and context) instead"
            )
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except k8s_config.ConfigException as exc:
            raise ClusterSetupError(
                f"in_cluster: the pod's service account is not usable ({exc}); is "
                "automountServiceAccountToken off for the opsbot pod?"
            ) from None
    else:
        path = os.path.expanduser(settings.kubeconfig or environ_kubeconfig or "~/.kube/config")
        source = "kubeconfig" if settings.kubeconfig else ("KUBECONFIG" if environ_kubeconfig else "default")
        if not os.path.isfile(path):
            raise ClusterSetupError(f"kubeconfig {path} not found ({_KUBECONFIG_SOURCES[source]})")
        try:
            contexts, _active = k8s_config.list_kube_config_contexts(config_file=path)
        except Exception as exc:
            raise ClusterSetupError(f"kubeconfig {path} is not a valid kubeconfig ({str(exc)[:150]})") from None
        names = [str(context.get("name")) for context in contexts or []]
        if settings.context is not None and settings.context not in names:
            raise ClusterSetupError(
                f"context {settings.context!r} is not in kubeconfig {path} (it has: {', '.join(names) or 'none'})"
            )
        try:
            k8s_config.load_kube_config(
                config_file=path,
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,
            )
        except Exception as exc:
            raise ClusterSetupError(f"kubeconfig {path} cannot be used ({str(exc)[:200]})") from None
    # No hidden retries: a request's timeout is its whole deadline (the watches back off on their own).
    configuration.retries = 0
    return k8s.ApiClient(configuration)


_KUBECONFIG_SOURCES = {
    "kubeconfig": "set by clusters.<name>.kubeconfig",
    "KUBECONFIG": "from the KUBECONFIG environment variable",
    "default": "the default ~/.kube/config; set clusters.<name>.kubeconfig or KUBECONFIG",
}


class ClusterDirectory:
    """Named clusters from the config; clients are built on first use and reused."""

    def __init__(
        self,
        clusters: dict[str, ClusterSettings],
        *,
        environ_kubeconfig: str | None = None,
        rows: RowSource | None = None,
    ) -> None:
        self._settings = clusters
        self._rows = rows
        self._environ_kubeconfig = environ_kubeconfig
        self._clients: dict[str, KubeClient] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self._settings)

    def get(self, cluster: str, *, identity: Identity | None = None) -> KubeClient:
        """The cluster's shared client, or (with `identity`) a cheap impersonating view of it."""
        return self._shared(cluster).with_identity(identity)

    def _shared(self, cluster: str) -> KubeClient:
        with self._lock:
            existing = self._clients.get(cluster)
            if existing is not None:
                return existing
            settings = self._settings[cluster]
            try:
                api_client = build_api_client(settings, environ_kubeconfig=self._environ_kubeconfig)
            except ClusterSetupError as exc:
                raise ClusterUnreachableError(f"cluster `{cluster}` is not usable: {exc}", cluster=cluster) from None
            except Exception as exc:
                raise ClusterUnreachableError(
                    f"cluster `{cluster}` is not usable: {type(exc).__name__}: {str(exc)[:200]}",
                    cluster=cluster,
                ) from None
            client = KubeClient(cluster, api_client, timeout=settings.request_timeout_seconds, rows=self._rows)
            self._clients[cluster] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.api_client.close()
            self._clients.clear()
