"""Which channel a finding goes to (opsbot.alerts.routing.AlertRouter): the first matching
rule, else the default channel; nothing for excluded namespaces and disabled kinds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from opsbot.alerts.findings import AlertKind, Finding, Severity, Workload
from opsbot.alerts.routing import AlertRouter, enabled_kinds
from opsbot.alerts.settings import AlertsSettings

DEFAULT = "C0DEFAULT1"
FINDING = Finding(
    kind=AlertKind.CRASH_LOOP,
    severity=Severity.CRITICAL,
    cluster="prod",
    namespace="web-shop",
    workload=Workload("Deployment", "web"),
    subject_kind="Pod",
    subject="web-7d9f8b6c5d-x2x4q",
    reason="Error",
    labels={"team": "payments", "tier": "frontend"},
)
NODE_FINDING = replace(
    FINDING,
    kind=AlertKind.NODE_NOT_READY,
    namespace="",
    workload=Workload("Node", "node-1"),
    subject_kind="Node",
    subject="node-1",
    labels={},
)


def router(*rules: dict[str, Any], **settings: Any) -> AlertRouter:
    settings.setdefault("default_channel", DEFAULT)
    return AlertRouter(AlertsSettings.model_validate({"rules": list(rules), **settings}))


def rule(channel: str, **match: Any) -> dict[str, Any]:
    return {"match": match, "channel": channel}


MATCHING: dict[str, tuple[dict[str, Any], str]] = {
    # id: (match, expected channel for FINDING)
    "empty-match-takes-all": ({}, "C0RULE0001"),
    "cluster": ({"cluster": "prod"}, "C0RULE0001"),
    "other-cluster": ({"cluster": "staging"}, DEFAULT),
    "namespace-glob": ({"namespace": "web-*"}, "C0RULE0001"),
    "namespace-exact": ({"namespace": "web-shop"}, "C0RULE0001"),
    "namespace-glob-miss": ({"namespace": "api-*"}, DEFAULT),
    "one-label": ({"labels": {"team": "payments"}}, "C0RULE0001"),
    "every-label": ({"labels": {"team": "payments", "tier": "frontend"}}, "C0RULE0001"),
    "label-value-differs": ({"labels": {"team": "search"}}, DEFAULT),
    "label-missing": ({"labels": {"team": "payments", "on-call": "yes"}}, DEFAULT),
    "kind-listed": ({"kinds": ["CrashLoopBackOff", "OOMKilled"]}, "C0RULE0001"),
    "kind-not-listed": ({"kinds": ["OOMKilled"]}, DEFAULT),
    "severity-listed": ({"severity": ["critical"]}, "C0RULE0001"),
    "severity-not-listed": ({"severity": ["warning", "info"]}, DEFAULT),
    "every-field-must-match": ({"cluster": "prod", "namespace": "web-*", "severity": ["warning"]}, DEFAULT),
}


@pytest.mark.parametrize(("match", "channel"), MATCHING.values(), ids=MATCHING.keys())
def test_a_rule_matches_only_when_every_given_field_does(match: dict[str, Any], channel: str) -> None:
    assert router(rule("C0RULE0001", **match)).route(FINDING) == channel


def test_the_first_matching_rule_wins() -> None:
    routes = router(
        rule("C0SEARCH01", labels={"team": "search"}),
        rule("C0PAYMENT1", labels={"team": "payments"}),
        rule("C0CATCHALL"),
    )
    assert routes.route(FINDING) == "C0PAYMENT1"


def test_no_default_channel_and_no_matching_rule_means_no_alert() -> None:
    routes = router(rule("C0STAGING1", cluster="staging"), default_channel=None)
    assert routes.route(FINDING) is None


@pytest.mark.parametrize(
    ("excluded", "routed"),
    [(["kube-*"], True), (["web-*"], False), (["web-shop"], False), (["web"], True)],
    ids=["other-glob", "glob", "exact", "prefix-is-not-a-glob"],
)
def test_excluded_namespaces_get_no_alert_even_when_a_rule_matches(excluded: list[str], routed: bool) -> None:
    routes = router(rule("C0RULE0001"), excluded_namespaces=excluded)
    assert routes.route(FINDING) == ("C0RULE0001" if routed else None)


def test_cluster_scoped_findings_are_never_excluded_by_namespace() -> None:
    assert router(excluded_namespaces=["*"]).route(NODE_FINDING) == DEFAULT


def test_a_disabled_kind_gets_no_alert() -> None:
    routes = router(rule("C0RULE0001"), kinds={"CrashLoopBackOff": False})
    assert routes.route(FINDING) is None
    assert routes.route(replace(FINDING, kind=AlertKind.OOM_KILLED)) == "C0RULE0001"


def test_completed_rollouts_are_off_unless_enabled() -> None:
    done = replace(
        FINDING, kind=AlertKind.ROLLOUT_COMPLETED, severity=Severity.INFO, subject_kind="Deployment"
    )
    assert router().route(done) is None
    assert router(kinds={"RolloutCompleted": True}).route(done) == DEFAULT


def test_alerts_switched_off_route_nothing() -> None:
    assert router(rule("C0RULE0001"), enabled=False).route(FINDING) is None


def test_enabled_kinds_are_the_defaults_with_the_config_applied() -> None:
    settings = AlertsSettings.model_validate({"kinds": {"RolloutCompleted": True, "Evicted": False}})
    assert enabled_kinds(settings) == frozenset(AlertKind) - {
        AlertKind.EVICTED,
        AlertKind.WARNING_EVENT,
        AlertKind.ALERTMANAGER,
    }
    assert AlertKind.ROLLOUT_COMPLETED not in enabled_kinds(AlertsSettings())
    assert AlertKind.WARNING_EVENT not in enabled_kinds(AlertsSettings())
    assert AlertKind.WARNING_EVENT in enabled_kinds(AlertsSettings.model_validate({"kinds": {"WarningEvent": True}}))
