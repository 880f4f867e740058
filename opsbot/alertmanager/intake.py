"""Alertmanager's alerts into opsbot's incidents: notifications and the reconcile.

A notification (or a group found by the reconcile) is merged into its `AlertGroup`; what
changed becomes findings for the `IncidentBook` (one incident, so one thread, per group):
a new or re-firing alert is a finding for the group's key, a resolved one is cleared, and
when no alert of the group fires any more the incident resolves at once (Alertmanager said
so: no quiet period). The book's effects are shown by the alert pipeline's `Publishing`,
so routing, digests, mutes and restarts work as for opsbot's own alerts.

Everything that changes groups runs under one lock: a notification and a reconcile never
interleave. The reconcile only resolves alerts nobody mentioned since it asked Alertmanager.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from opsbot.alertmanager.groups import AlertGroup, AlertRecord, Change, group_identity, severity_of
from opsbot.alertmanager.payload import AmAlert, Notification
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alertmanager.state import State
from opsbot.alerts.findings import AlertKind, Finding, Observation, Workload
from opsbot.alerts.incidents import (
    Changed,
    Incident,
    IncidentBook,
    IncidentEffect,
    Opened,
    Reopened,
    Resolved,
)
from opsbot.alerts.publishing import Publishing
from opsbot.core.durations import since
from opsbot.core.reply import Icon, Text
from opsbot.ports import Clock

log = structlog.get_logger("opsbot.alertmanager")

NOTIFICATION_MEMORY = timedelta(days=7)


@dataclass(frozen=True)
class Fired:
    """Alerts that started (or started again) firing in a group: what remediation rules look at."""

    group: AlertGroup
    incident: Incident
    alerts: tuple[AlertRecord, ...]


class Intake:
    def __init__(
        self,
        settings: AlertmanagerSettings,
        state: State,
        book: IncidentBook,
        publishing: Publishing,
        clock: Clock,
        *,
        default_cluster: str,
        on_fired: Callable[[Fired], Awaitable[None]],
        on_resolved: Callable[[AlertGroup, Incident], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._state = state
        self._book = book
        self._publishing = publishing
        self._clock = clock
        self._default_cluster = default_cluster
        self._on_fired = on_fired
        self._on_resolved = on_resolved
        self.lock = asyncio.Lock()
        self.received = 0
        self.duplicates = 0
        self.reconciled_posted = 0
        self.reconciled_resolved = 0
        self.opened = 0

    # notifications -------------------------------------------------------------------

    async def notify(self, notification: Notification) -> bool:
        """Apply one notification; False when it was seen before (nothing changes)."""
        async with self.lock:
            self.received += 1
            now = self._clock.now()
            key = notification.dedupe_key
            store = self._state.store
            if not await store.first_notification(key, now.timestamp()):
                self.duplicates += 1
                log.info("alertmanager_notification_repeated", group=notification.group_key[:200])
                return False
            try:
                await self._apply(
                    notification.receiver,
                    notification.group_labels,
                    notification.alerts,
                    now,
                    group_key=notification.group_key,
                    external_url=notification.external_url,
                    truncated=notification.truncated,
                    resolved=notification.status == "resolved",
                )
            except BaseException:
                await store.forget_notification(key)
                raise
            return True

    async def forget_old_notifications(self) -> None:
        await self._state.store.forget_notifications((self._clock.now() - NOTIFICATION_MEMORY).timestamp())

    # reconcile -------------------------------------------------------------------------

    async def reconcile(
        self, groups: Sequence[tuple[str, dict[str, str], list[AmAlert]]], asked_at: datetime
    ) -> None:
        """Alertmanager's current groups (asked at `asked_at`): post what fired, resolve what
        stopped while nobody told us. Alerts it silences or inhibits are kept but not posted."""
        async with self.lock:
            now = self._clock.now()
            present: set[str] = set()
            for receiver, labels, alerts in groups:
                present.update(alert.fingerprint for alert in alerts)
                known = self._state.group(group_identity(receiver, labels))
                fresh = [
                    alert
                    for alert in alerts
                    if alert.state != "suppressed"
                    or (known is not None and alert.fingerprint in known.alerts)
                ]
                await self._apply(receiver, labels, fresh, now, counting=True)
            for key in list(self._state.groups):
                group = self._state.group(key)  # as it is now: a silence may have changed it meanwhile
                if group is None or not group.firing():
                    continue
                updated, gone = group.resolve_missing(present, asked_at, now)
                if not gone:
                    continue
                self.reconciled_resolved += len(gone)
                log.info("alertmanager_resolved_while_away", group=group.key, alerts=len(gone))
                await self._state.put_group(updated)
                await self._resolve_alerts(updated, gone, now, group_resolved=not updated.firing())

    # the merge --------------------------------------------------------------------------

    async def _apply(
        self,
        receiver: str,
        group_labels: Mapping[str, str],
        alerts: Iterable[AmAlert],
        now: datetime,
        *,
        group_key: str = "",
        external_url: str = "",
        truncated: int = 0,
        resolved: bool = False,
        counting: bool = False,
    ) -> None:
        labels = dict(group_labels)
        key = group_identity(receiver, labels)
        group = self._state.group(key) or AlertGroup(key, receiver, group_key, labels)
        # A group found by the reconcile learns Alertmanager's own URL from its first notification.
        updated = bool(external_url) and external_url != group.external_url and bool(group.alerts)
        group = replace(
            group,
            group_key=group_key or group.group_key,
            external_url=external_url or group.external_url,
            truncated=truncated if group_key else group.truncated,
        )
        fired: list[AlertRecord] = []
        cleared: list[str] = []
        for alert in alerts:
            group, change = group.merge(alert, now)
            record = group.alerts.get(alert.fingerprint)
            if change in (Change.NEW, Change.REFIRED) and record is not None:
                fired.append(record)
            elif change is Change.RESOLVED:
                cleared.append(alert.fingerprint)
            elif change is Change.UPDATED:
                updated = True
        await self._state.put_group(group)
        if counting:
            self.reconciled_posted += len(fired)
        effects: list[IncidentEffect] = []
        for record in fired:
            effects.extend(self._book.observe(self._observation(group, record, now), now))
        if fired or cleared or updated or resolved:
            log.info(
                "alertmanager_group",
                group=key,
                receiver=receiver,
                fired=len(fired),
                resolved=len(cleared),
                firing=len(group.firing()),
            )
        await self._perform(_collapse(self._book, effects))
        if cleared or (resolved and not group.firing()):
            await self._resolve_alerts(group, cleared, now, group_resolved=not group.firing())
        elif updated and (incident := self._book.get(key)) is not None:
            self._publishing.changed(incident)
        incident = self._book.get(key)
        if fired and incident is not None and incident.channel:
            await self._on_fired(Fired(group, incident, tuple(fired)))

    async def _resolve_alerts(
        self, group: AlertGroup, fingerprints: list[str], now: datetime, *, group_resolved: bool
    ) -> None:
        effects = self._book.clear(group.key, fingerprints, now)
        if group_resolved:
            effects.extend(self._book.resolve_now(group.key, now))
        await self._perform(_collapse(self._book, effects))

    def _observation(self, group: AlertGroup, record: AlertRecord, now: datetime) -> Observation:
        labels = record.labels
        cluster = labels.get(self._settings.cluster_label) or self._default_cluster
        namespace = labels.get("namespace", "")
        workload = Workload("Alert", record.name or "group")
        summary = record.annotations.get("summary") or record.annotations.get("description") or ""
        finding = Finding(
            kind=AlertKind.ALERTMANAGER,
            severity=severity_of(labels, self._settings.severity_label, self._settings.severities),
            cluster=cluster,
            namespace=namespace,
            workload=workload,
            subject_kind="Alert",
            subject=record.fingerprint,
            reason=record.name or "alert",
            message=summary,
            labels=dict(labels),
            observed_at=now,
            key=group.key,
        )
        return Observation(
            cluster, "Alert", namespace, record.fingerprint, workload, healthy=False, findings=(finding,)
        )

    async def _perform(self, effects: list[IncidentEffect]) -> None:
        publishing = self._publishing
        for effect in effects:
            await publishing.save(effect.incident)
            if isinstance(effect, Opened):
                self.opened += 1
                await publishing.open(effect.incident)
            elif isinstance(effect, Changed):
                publishing.changed(effect.incident)
            elif isinstance(effect, Reopened):
                await publishing.reopen(effect.incident)
            elif isinstance(effect, Resolved):
                incident = effect.incident
                text = Text(
                    Icon.SUCCESS,
                    f" Resolved after {since(incident.duration)}: Alertmanager says no alert of this group "
                    "fires any more.",
                )
                await publishing.resolve(incident, text)
                group = self._state.group(incident.key)
                if group is not None:
                    await self._on_resolved(group, incident)


def _collapse(book: IncidentBook, effects: list[IncidentEffect]) -> list[IncidentEffect]:
    """One batch of effects on one group, shown once: an opened incident is posted as it is at
    the end of the batch (its root shows every alert), so the Changed effects after it go."""
    opened = {effect.incident.key for effect in effects if isinstance(effect, Opened)}
    result: list[IncidentEffect] = []
    for effect in effects:
        key = effect.incident.key
        if isinstance(effect, Changed) and key in opened:
            continue
        if isinstance(effect, Opened):
            effect = Opened(book.get(key) or effect.incident, effect.finding)
        result.append(effect)
    return result
