"""``ha:`` in the config: several replicas, one alert leader per cluster (Kubernetes Lease)."""

from __future__ import annotations

from pydantic import Field, model_validator

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

    @model_validator(mode="after")
    def _timings(self) -> HASettings:
        # A leader that cannot renew must stop its loops before anyone else may take over.
        if self.renew_deadline_seconds + self.retry_period_seconds >= self.lease_duration_seconds:
            raise ValueError(
                "renew_deadline_seconds + retry_period_seconds must be less than lease_duration_seconds"
            )
        return self
