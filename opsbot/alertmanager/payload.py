"""Alertmanager's JSON, read strictly where it matters and leniently elsewhere (pure).

`parse_notification` reads a webhook notification (payload version 4); `parse_api_alert`
one alert of ``GET /api/v2/alerts``. Unknown fields are ignored (newer versions add some);
a missing or ill-typed field we rely on raises `PayloadError` naming it, which the receiver
answers with 400 and the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_LABELS = 100
MAX_TEXT = 10_000
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class PayloadError(ValueError):
    """The document is not what Alertmanager sends; the message says what is wrong."""


@dataclass(frozen=True)
class AmAlert:
    fingerprint: str
    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: datetime = ZERO_TIME
    ends_at: datetime | None = None  # None while firing
    generator_url: str = ""
    state: str = ""  # API only: active | suppressed | unprocessed

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str
    group_key: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    truncated: int
    alerts: tuple[AmAlert, ...]

    @property
    def dedupe_key(self) -> str:
        """Same groupKey, alerts (fingerprint, startsAt, status) and group status: the same
        notification (Alertmanager retried it, or repeats it unchanged)."""
        digest = hashlib.sha256()
        digest.update(f"{self.receiver}\0{self.group_key}\0{self.status}".encode())
        for alert in sorted(self.alerts, key=lambda a: a.fingerprint):
            digest.update(f"\0{alert.fingerprint}|{alert.starts_at.isoformat()}|{alert.status}".encode())
        return "am:" + digest.hexdigest()


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}: expected an object")
    return value


def _text(value: Any, where: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}: expected a string")
    if len(value) > limit:
        raise PayloadError(f"{where}: longer than {limit} characters")
    return value


def _labels(value: Any, where: str, *, required: bool = True) -> dict[str, str]:
    if value is None and not required:
        return {}
    mapping = _object(value, where)
    if len(mapping) > MAX_LABELS:
        raise PayloadError(f"{where}: more than {MAX_LABELS} entries")
    result: dict[str, str] = {}
    for key, item in mapping.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise PayloadError(f"{where}: names and values must be strings")
        result[key] = item[:MAX_TEXT]
    return result


def parse_time(value: Any, where: str) -> datetime:
    """RFC 3339 with any number of fractional digits (Go writes nanoseconds)."""
    text = _text(value, where, limit=64)
    cleaned = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in cleaned:
        head, _, rest = cleaned.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise PayloadError(f"{where}: {text[:40]!r} is not an RFC 3339 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fingerprint(value: Any, where: str) -> str:
    text = _text(value, where, limit=64)
    if not text or not all(ch in "0123456789abcdef" for ch in text):
        raise PayloadError(f"{where}: expected a hex fingerprint")
    return text


def _ends_at(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    moment = parse_time(value, where)
    return None if moment.year <= 1 else moment


def _alert(data: Any, where: str) -> AmAlert:
    alert = _object(data, where)
    status = _text(alert.get("status"), f"{where}.status")
    if status not in {"firing", "resolved"}:
        raise PayloadError(f"{where}.status: expected firing or resolved")
    labels = _labels(alert.get("labels"), f"{where}.labels")
    if not labels:
        raise PayloadError(f"{where}.labels: an alert has at least one label")
    return AmAlert(
        fingerprint=_fingerprint(alert.get("fingerprint"), f"{where}.fingerprint"),
        status=status,
        labels=labels,
        annotations=_labels(alert.get("annotations"), f"{where}.annotations", required=False),
        starts_at=parse_time(alert.get("startsAt"), f"{where}.startsAt"),
        ends_at=_ends_at(alert.get("endsAt"), f"{where}.endsAt") if status == "resolved" else None,
        generator_url=_text(alert.get("generatorURL"), f"{where}.generatorURL", required=False, limit=4000),
    )


def parse_notification(data: Any, *, max_alerts: int = 5000) -> Notification:
    document = _object(data, "payload")
    version = document.get("version")
    if version != "4":
        raise PayloadError(f'version: expected "4", got {str(version)[:20]!r}')
    status = _text(document.get("status"), "status")
    if status not in {"firing", "resolved"}:
        raise PayloadError("status: expected firing or resolved")
    raw_alerts = document.get("alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError("alerts: expected a list")
    if len(raw_alerts) > max_alerts:
        raise PayloadError(f"alerts: more than {max_alerts}")
    truncated = document.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("truncatedAlerts: expected a count")
    group_key = _text(document.get("groupKey"), "groupKey")
    if not group_key:
        raise PayloadError("groupKey: empty")
    return Notification(
        receiver=_text(document.get("receiver"), "receiver", limit=200),
        status=status,
        group_key=group_key,
        group_labels=_labels(document.get("groupLabels"), "groupLabels", required=False),
        common_labels=_labels(document.get("commonLabels"), "commonLabels", required=False),
        common_annotations=_labels(document.get("commonAnnotations"), "commonAnnotations", required=False),
        external_url=_text(document.get("externalURL"), "externalURL", required=False, limit=2000),
        truncated=truncated,
        alerts=tuple(_alert(item, f"alerts.{index}") for index, item in enumerate(raw_alerts)),
    )


def parse_api_alert(data: Any) -> AmAlert:
    """One alert of ``GET /api/v2/alerts`` (only active ones are listed: they are firing)."""
    alert = _object(data, "alert")
    status = _object(alert.get("status") or {}, "alert.status")
    return AmAlert(
        fingerprint=_fingerprint(alert.get("fingerprint"), "alert.fingerprint"),
        status="firing",
        labels=_labels(alert.get("labels"), "alert.labels"),
        annotations=_labels(alert.get("annotations"), "alert.annotations", required=False),
        starts_at=parse_time(alert.get("startsAt"), "alert.startsAt"),
        generator_url=_text(alert.get("generatorURL"), "alert.generatorURL", required=False, limit=4000),
        state=_text(status.get("state"), "alert.status.state", required=False, limit=32),
    )


def api_alert_receivers(data: Any) -> frozenset[str]:
    receivers = data.get("receivers") if isinstance(data, Mapping) else None
    names = {
        str(item.get("name")) for item in receivers or [] if isinstance(item, Mapping) and item.get("name")
    }
    return frozenset(names)
