"""``ha:`` in the config: several replicas, one alert leader per cluster (Kubernetes Lease)."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from pydantic import Field, field_validator, model_validator

from opsbot.core.settings import Strict


class HASettings(Strict):
    """Off by default: one process owns everything. On, every replica serves commands and the
    alert loops of each cluster run only on that cluster's leader."""

    enabled: bool = False
    # The leases live in this cluster (default: default_cluster), in opsbot's namespace, named
    # `<lease_name>-<cluster>`: one leader per watched cluster.
    lease_cluster: str | None = None
    namespace: str | None = None  # default: $POD_NAMESPACE, else "opsbot"
    lease_name: str = Field(default="opsbot-leader", min_length=1, max_length=200)
    identity: str | None = None  # default: $POD_NAME, else the host name (unique per replica)
    lease_duration_seconds: float = Field(default=15, gt=1, le=600)
    renew_deadline_seconds: float = Field(default=10, gt=0.5, le=600)
    retry_period_seconds: float = Field(default=2, gt=0.05, le=60)
    # Where the other replicas reach this one's internal port (http://10.1.2.3:8080); default:
    # http://$POD_IP:<health port>. Replicas that do not run the Alertmanager loops forward
    # its webhook and status updates there (opsbot.ha.forwarding).
    advertise_url: str | None = None

    @field_validator("advertise_url")
    @classmethod
    def _advertise_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or len(value) > 500:
            raise ValueError("must be an http(s) URL")
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("credentials do not belong in the URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _timings(self) -> HASettings:
        # A leader that cannot renew must stop its loops before anyone else may take over.
        if self.renew_deadline_seconds + self.retry_period_seconds >= self.lease_duration_seconds:
            raise ValueError(
                "renew_deadline_seconds + retry_period_seconds must be less than lease_duration_seconds"
            )
        return self

    def lease_for(self, cluster: str) -> str:
        """The Lease that elects `cluster`'s alert leader."""
        return f"{self.lease_name}-{cluster}"

    def resolved_identity(self, environ: Mapping[str, str]) -> str:
        """`identity`, else $POD_NAME (the downward API), else the host name."""
        return self.identity or environ.get("POD_NAME") or socket.gethostname()

    def resolved_namespace(self, environ: Mapping[str, str]) -> str:
        """`namespace`, else $POD_NAMESPACE (the downward API), else "opsbot"."""
        return self.namespace or environ.get("POD_NAMESPACE") or "opsbot"


def ha_problems(ha: HASettings, clusters: Mapping[str, object], store_backend: str) -> list[str]:
    """What the rest of the config must be for `ha:` (one line per problem, naming the key):
    several replicas need one store they all see (`store.backend: redis`)."""
    problems: list[str] = []
    if not ha.enabled:
        return problems
    if ha.lease_cluster is not None and ha.lease_cluster not in clusters:
        problems.append(f"ha.lease_cluster: {ha.lease_cluster!r} is not one of clusters")
    if store_backend != "redis":
        problems.append("ha.enabled: several replicas need a shared store: set store.backend: redis")
    return problems
