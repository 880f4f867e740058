"""The doctor's lease permissions: asked for only with `ha.enabled`, on the lease cluster,
in opsbot's namespace."""

from __future__ import annotations

from typing import Any

import pytest

from opsbot.config import Settings, parse_settings
from opsbot.doctor.ha_needs import LEADER_ELECTION, ha_needs
from opsbot.doctor.requirements import cluster_requirements
from opsbot.errors import ConfigError


def settings(ha: dict[str, Any] | None = None) -> Settings:
    return parse_settings(
        {
            "clusters": {"prod": {"in_cluster": True}, "staging": {"in_cluster": True}},
            "default_cluster": "prod",
            "alerts": {"default_channel": "C0ALERTS01"},
            **({"ha": ha, "store": {"backend": "redis"}} if ha is not None else {}),
        }
    )


def lease_permissions(config: Settings, cluster: str) -> dict[str, str | None]:
    return {
        p.verb: p.namespace
        for p in cluster_requirements(config, cluster).permissions
        if p.resource_path == "leases"
    }


def test_without_ha_no_lease_permission_is_asked_for() -> None:
    assert lease_permissions(settings(), "prod") == {}
    assert lease_permissions(settings({"enabled": False}), "prod") == {}


def test_with_ha_the_lease_cluster_needs_get_create_update_on_leases_in_opsbots_namespace() -> None:
    config = settings({"enabled": True, "namespace": "ops"})
    assert lease_permissions(config, "prod") == {"get": "ops", "create": "ops", "update": "ops"}
    found = [p for p in cluster_requirements(config, "prod").permissions if p.resource_path == "leases"]
    assert all(p.severity == "error" and LEADER_ELECTION in p.needed_by for p in found)
    assert all(p.group == "coordination.k8s.io" for p in found)


def test_the_other_clusters_need_no_lease_permission() -> None:
    assert lease_permissions(settings({"enabled": True}), "staging") == {}
    moved = settings({"enabled": True, "lease_cluster": "staging"})
    assert lease_permissions(moved, "prod") == {}
    assert set(lease_permissions(moved, "staging")) == {"get", "create", "update"}


@pytest.mark.parametrize(
    ("environ", "namespace"),
    [({"POD_NAMESPACE": "bots"}, "bots"), ({}, "opsbot")],
    ids=["downward-api", "fallback"],
)
def test_the_lease_namespace_defaults_to_the_pods_own(environ: dict[str, str], namespace: str) -> None:
    needs = ha_needs(settings({"enabled": True}), "prod", environ)
    assert {ns for _call, ns, _severity, _verb in needs} == {namespace}


def test_an_unknown_lease_cluster_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"ha\.lease_cluster"):
        settings({"enabled": True, "lease_cluster": "nowhere"})
