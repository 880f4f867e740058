"""What leader election needs from the lease cluster, derived from `ha:` (pure but for the
namespace's default, $POD_NAMESPACE, which the bot reads the same way).

With `ha.enabled`, every replica reads, creates and updates the Leases named
`<ha.lease_name>-<cluster>` in opsbot's namespace on the lease cluster (`ha.lease_cluster`,
else `default_cluster`): get, create and update on coordination.k8s.io `leases`
(`LeasePort`), granted by manifests/components/ha/. Without `ha:` nothing is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opsbot.config import Settings
from opsbot.doctor.release_needs import Need
from opsbot.ports import lease_api_calls

LEADER_ELECTION = "leader election"
HA_COMPONENT = "manifests/components/ha/"


def ha_needs(settings: Settings, cluster: str, environ: Mapping[str, str] | None = None) -> list[Need]:
    """The lease permissions on `cluster` (only the lease cluster, only with `ha.enabled`)."""
    if not settings.ha.enabled or cluster != settings.lease_cluster:
        return []
    namespace = settings.ha.resolved_namespace(os.environ if environ is None else environ)
    return [(call, namespace, "error", "") for calls in lease_api_calls().values() for call in calls]
