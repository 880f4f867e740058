"""`ha:` in the config: off by default, identity and namespace from the downward API, the
lease timings that keep two leaders apart, and the shared-store hook."""

from __future__ import annotations

from typing import Any

import pytest

from opsbot.config import Settings, parse_settings
from opsbot.errors import ConfigError
from opsbot.ha.settings import HASettings, ha_problems


def settings(**ha: Any) -> Settings:
    store = {"backend": "redis"} if ha.get("enabled") else {}
    return parse_settings(
        {"clusters": {"prod": {"in_cluster": True}}, "alerts": {"enabled": False}, "ha": ha, "store": store}
    )


def test_ha_is_off_by_default_and_the_leases_live_in_the_default_cluster() -> None:
    config = parse_settings({"clusters": {"prod": {"in_cluster": True}}, "alerts": {"enabled": False}})
    assert config.ha.enabled is False
    assert config.lease_cluster == "prod"
    assert config.ha.lease_for("prod") == "opsbot-leader-prod"


def test_identity_and_namespace_come_from_the_pod_then_the_host() -> None:
    ha = settings(enabled=True).ha
    pod = {"POD_NAME": "opsbot-7d9-x2", "POD_NAMESPACE": "bots"}
    assert (ha.resolved_identity(pod), ha.resolved_namespace(pod)) == ("opsbot-7d9-x2", "bots")
    assert ha.resolved_identity({}) and ha.resolved_namespace({}) == "opsbot"
    named = settings(enabled=True, identity="me", namespace="ops").ha
    assert (named.resolved_identity(pod), named.resolved_namespace(pod)) == ("me", "ops")


def test_a_renew_deadline_that_would_overlap_another_leader_is_refused() -> None:
    with pytest.raises(ConfigError, match="renew_deadline_seconds"):
        settings(enabled=True, lease_duration_seconds=10, renew_deadline_seconds=9, retry_period_seconds=2)


def test_several_replicas_need_the_shared_redis_store() -> None:
    ha = HASettings(enabled=True)
    assert ha_problems(ha, {"prod": None}, "redis") == []
    assert ha_problems(ha, {"prod": None}, "sqlite") == [
        "ha.enabled: several replicas need a shared store: set store.backend: redis"
    ]
    assert ha_problems(HASettings(), {"prod": None}, "sqlite") == []
