"""Alertmanager's wire formats and opsbot's alert groups (pure): parsing, merging, signing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsbot.alertmanager.groups import AlertGroup, Change, group_identity, severity_of
from opsbot.alertmanager.payload import AmAlert, PayloadError, parse_api_alert, parse_notification
from opsbot.alertmanager.signing import signature, signed_headers, verify
from opsbot.alerts.findings import Severity

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

# As Alertmanager 0.25 sends it (nanoseconds, zero endsAt while firing), plus a newer field.
NOTIFICATION: dict[str, Any] = {
    "receiver": "opsbot",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "namespace": "web", "severity": "critical"},
            "annotations": {"summary": "p99 high"},
            "startsAt": "2030-01-01T11:48:26.676732292Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph",
            "fingerprint": "3da0b9eab41a5090",
        }
    ],
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": {"alertname": "HighLatency"},
    "commonAnnotations": {"summary": "p99 high"},
    "externalURL": "http://alertmanager:9093",
    "version": "4",
    "groupKey": '{}:{alertname="HighLatency"}',
    "truncatedAlerts": 0,
    "notification_reason": "newer versions add fields",
}


def test_a_real_notification_parses_with_nanoseconds_and_unknown_fields() -> None:
    notification = parse_notification(NOTIFICATION)
    (alert,) = notification.alerts
    assert alert.starts_at == datetime(2030, 1, 1, 11, 48, 26, 676732, tzinfo=UTC)
    assert alert.ends_at is None and alert.firing and alert.name == "HighLatency"
    assert notification.group_labels == {"alertname": "HighLatency"}
    assert notification.external_url == "http://alertmanager:9093"


def _broken(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(NOTIFICATION)
    target: Any = data
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("version", "3", "version"),
        ("version", KeyError, "version"),
        ("status", "pending", "status"),
        ("alerts", {"a": 1}, "alerts: expected a list"),
        ("groupKey", "", "groupKey"),
        ("truncatedAlerts", -1, "truncatedAlerts"),
        ("alerts.0.fingerprint", "not-hex!", "alerts.0.fingerprint"),
        ("alerts.0.labels", {"a": 1}, "alerts.0.labels"),
        ("alerts.0.labels", {}, "alerts.0.labels"),
        ("alerts.0.startsAt", "yesterday", "alerts.0.startsAt"),
        ("alerts.0.status", "unknown", "alerts.0.status"),
        ("commonLabels", ["x"], "commonLabels"),
    ],
)
def test_malformed_notifications_are_refused_naming_the_field(path: str, value: Any, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason.replace(".", r"\.")):
        parse_notification(_broken(path, value))


def test_the_same_notification_has_the_same_key_and_a_change_a_new_one() -> None:
    first = parse_notification(NOTIFICATION)
    again = parse_notification(copy.deepcopy(NOTIFICATION))
    resolved = parse_notification(_broken("alerts.0.status", "resolved"))
    refired = parse_notification(_broken("alerts.0.startsAt", "2030-01-01T11:59:00Z"))
    assert first.dedupe_key == again.dedupe_key
    assert len({first.dedupe_key, resolved.dedupe_key, refired.dedupe_key}) == 3


def test_api_alerts_are_firing_with_their_state() -> None:
    alert = parse_api_alert(
        {
            "fingerprint": "3da0b9eab41a5090",
            "labels": {"alertname": "X"},
            "startsAt": "2030-01-01T11:48:26.676Z",
            "status": {"state": "suppressed", "silencedBy": ["s1"]},
            "receivers": [{"name": "opsbot"}],
        }
    )
    assert alert.firing and alert.state == "suppressed"


# groups ----------------------------------------------------------------------------------


def am_alert(status: str = "firing", starts: int = 0, **annotations: str) -> AmAlert:
    return AmAlert(
        fingerprint="00000000000000aa",
        status=status,
        labels={"alertname": "X"},
        annotations=annotations,
        starts_at=NOW + timedelta(minutes=starts),
        ends_at=NOW + timedelta(minutes=starts + 1) if status == "resolved" else None,
    )


GROUP = AlertGroup(group_identity("opsbot", {"alertname": "X"}), "opsbot", "gk", {"alertname": "X"})


@pytest.mark.parametrize(
    ("history", "incoming", "change"),
    [
        pytest.param([], am_alert(), Change.NEW, id="new-firing"),
        pytest.param([], am_alert("resolved"), Change.NONE, id="resolved-never-seen"),
        pytest.param([am_alert()], am_alert(), Change.NONE, id="repeat"),
        pytest.param([am_alert()], am_alert(summary="worse"), Change.UPDATED, id="annotations-changed"),
        pytest.param([am_alert()], am_alert("resolved"), Change.RESOLVED, id="resolved"),
        pytest.param([am_alert(starts=5)], am_alert("resolved", starts=0), Change.NONE, id="stale-resolve"),
        pytest.param(
            [am_alert(), am_alert("resolved")], am_alert(starts=10), Change.REFIRED, id="fires-again"
        ),
        pytest.param([am_alert(), am_alert("resolved")], am_alert(), Change.NONE, id="retried-old-firing"),
        pytest.param(
            [am_alert(), am_alert("resolved")], am_alert("resolved"), Change.NONE, id="resolved-twice"
        ),
    ],
)
def test_what_an_incoming_alert_changes(history: list[AmAlert], incoming: AmAlert, change: Change) -> None:
    group = GROUP
    for alert in history:
        group, _ = group.merge(alert, NOW)
    _, seen = group.merge(incoming, NOW)
    assert seen is change


def test_the_reconcile_resolves_only_alerts_nobody_mentioned_since_it_asked() -> None:
    group, _ = GROUP.merge(am_alert(), NOW)
    asked = NOW + timedelta(seconds=1)
    untouched, gone = group.resolve_missing(present=set(), before=NOW, now=asked)
    assert gone == [] and untouched.firing()  # heard of at NOW, not before: keep
    resolved, gone = group.resolve_missing(present=set(), before=asked, now=asked)
    assert gone == ["00000000000000aa"] and resolved.firing() == []
    kept, gone = group.resolve_missing(present={"00000000000000aa"}, before=asked, now=asked)
    assert gone == [] and kept.firing()


def test_groups_round_trip_through_the_store_format() -> None:
    group, _ = GROUP.merge(am_alert(summary="s"), NOW)
    assert AlertGroup.from_dict(group.to_dict()) == group


def test_group_identity_depends_on_receiver_and_group_labels_only() -> None:
    assert group_identity("opsbot", {"a": "1", "b": "2"}) == group_identity("opsbot", {"b": "2", "a": "1"})
    assert group_identity("opsbot", {"a": "1"}) != group_identity("other", {"a": "1"})


@pytest.mark.parametrize(
    ("value", "severity"),
    [("critical", Severity.CRITICAL), ("page", Severity.CRITICAL), ("Warning", Severity.WARNING),
     ("info", Severity.INFO), ("", Severity.WARNING), ("p1", Severity.CRITICAL)],
)  # fmt: skip
def test_severity_label_maps_to_the_card_colour(value: str, severity: Severity) -> None:
    assert severity_of({"severity": value}, "severity", {"p1": Severity.CRITICAL}) is severity


# signing ---------------------------------------------------------------------------------


def test_signatures_match_the_standard_webhooks_reference_vector() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_verify_accepts_a_fresh_signature_among_several_and_refuses_the_rest() -> None:
    secret, body = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b"{}"
    headers = signed_headers(secret, "msg_1", 1_000_000, body)
    rotated = {**headers, "webhook-signature": "v1,bm9wZQ== " + headers["webhook-signature"]}
    assert headers["Idempotency-Key"] == "msg_1"
    assert verify(secret, rotated, body, now=1_000_100) is None
    assert verify(secret, headers, b"{ }", now=1_000_000) == "no valid signature"
    assert (
        verify(secret, headers, body, now=1_000_000 + 301) == "webhook-timestamp is too old or too far ahead"
    )
    assert verify("other", headers, body, now=1_000_000) == "no valid signature"
    assert verify(secret, {}, body, now=1_000_000) is not None
