"""Which channel an alert goes to (pure): first matching rule, else the default."""

from __future__ import annotations

from datetime import timedelta
from fnmatch import fnmatchcase

from opsbot.alerts.detectors import DEFAULT_ENABLED, DetectorOptions, EventFilter
from opsbot.alerts.findings import EXTERNAL_KINDS, AlertKind, Finding
from opsbot.alerts.settings import AlertsSettings


def enabled_kinds(settings: AlertsSettings) -> frozenset[AlertKind]:
    """The detectors' defaults (``DetectorSpec.default_on``) with ``alerts.kinds`` applied."""
    kinds: set[AlertKind] = set(DEFAULT_ENABLED)
    for kind, on in settings.kinds.items():
        (kinds.add if on else kinds.discard)(kind)
    return frozenset(kinds)


def detector_options(settings: AlertsSettings) -> DetectorOptions:
    """``alerts.thresholds_minutes`` and ``alerts.events`` as the detectors read them."""
    events = settings.events
    return DetectorOptions(
        thresholds={
            kind: timedelta(minutes=minutes) for kind, minutes in settings.thresholds_minutes.items()
        },
        events=EventFilter(tuple(events.reasons), tuple(events.exclude_reasons), tuple(events.namespaces)),
    )


class AlertRouter:
    def __init__(self, settings: AlertsSettings) -> None:
        self._settings = settings
        self._kinds = enabled_kinds(settings)

    def excluded(self, namespace: str) -> bool:
        return bool(namespace) and any(
            fnmatchcase(namespace, pattern) for pattern in self._settings.excluded_namespaces
        )

    def route(self, finding: Finding) -> str | None:
        known = finding.kind in self._kinds or finding.kind in EXTERNAL_KINDS
        if not self._settings.enabled or not known or self.excluded(finding.namespace):
            return None
        for rule in self._settings.rules:
            match = rule.match
            if match.cluster is not None and match.cluster != finding.cluster:
                continue
            if match.namespace is not None and not fnmatchcase(finding.namespace, match.namespace):
                continue
            if any(finding.labels.get(key) != value for key, value in match.labels.items()):
                continue
            if match.kinds is not None and finding.kind not in match.kinds:
                continue
            if match.severity is not None and finding.severity not in match.severity:
                continue
            return rule.channel
        return self._settings.default_channel
