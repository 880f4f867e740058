"""How an Alertmanager group looks, as a renderer-neutral Reply (pure): its alerts with links to
their source and to Alertmanager, who silenced it until when, and each proposed remediation with
Approve / Reject while it waits, then who decided and what happened."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import quote

from opsbot.alertmanager.groups import AlertGroup, AlertRecord, SilenceNote
from opsbot.alertmanager.remediation import Remediation
from opsbot.alerts.actions import SILENCE_1H_ACTION, SILENCE_4H_ACTION, SILENCE_24H_ACTION
from opsbot.alerts.findings import Severity
from opsbot.alerts.incidents import Incident, IncidentState
from opsbot.approvals.machine import Approval, Status
from opsbot.core.durations import since
from opsbot.core.reply import (
    Button,
    Emphasis,
    Fields,
    Icon,
    Link,
    Mention,
    Moment,
    Mono,
    Part,
    Quote,
    Reply,
    Strong,
    Text,
    TextLike,
    Tone,
    bullets,
    clip,
)

APPROVE_ACTION = "opsbot:remediation:approve"
REJECT_ACTION = "opsbot:remediation:reject"
MAX_ALERTS_SHOWN = 10
_ICON = {
    Severity.CRITICAL: Icon.CRITICAL,
    Severity.WARNING: Icon.SEVERITY_WARNING,
    Severity.INFO: Icon.SEVERITY_INFO,
}
_TONE: dict[Severity, Tone] = {Severity.CRITICAL: "error", Severity.WARNING: "warning", Severity.INFO: "info"}


def ui_link(base: str, group: AlertGroup) -> str:
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(group.group_labels.items()))
    query = f"receiver={quote(group.receiver)}" + (
        f"&filter={quote('{' + matchers + '}')}" if matchers else ""
    )
    return f"{base}/#/alerts?{query}"


def _alert_line(alert: AlertRecord, common: Mapping[str, str]) -> Text:
    own = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if common.get(k) != v)
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    parts: list[Text | str | Mono | Link] = [Mono(alert.fingerprint[:8])]
    if own:
        parts.append(f" {clip(own, 160)}")
    if summary:
        parts.append(f" — {clip(summary, 200)}")
    if alert.generator_url.startswith(("http://", "https://")):
        parts.extend((" · ", Link(alert.generator_url, "source")))
    return Text(*parts)


def silence_line(note: SilenceNote) -> Text:
    who = Mention(note.by_id) if note.by_id else note.by_name or "someone"
    if note.state == "active":
        ids = Text.join(", ", (Mono(silence_id[:8]) for silence_id in note.ids[:3]))
        more = f" and {len(note.ids) - 3} more" if len(note.ids) > 3 else ""
        return Text(Icon.MUTED, " Silenced by ", who, " until ", Moment(note.until), " (", ids, more, ")")
    when = Moment(note.ended_at or note.until)
    if note.state == "removed":
        remover = Text(" by ", Mention(note.ended_by)) if note.ended_by else Text(" in Alertmanager")
        return Text(Emphasis("The silence by ", who, " was removed", remover, " at ", when, "."))
    return Text(Emphasis("The silence by ", who, " expired at ", when, "."))


def _who(approval: Approval, what: str) -> Text:
    users = [step.user for step in approval.history if step.what == what and step.user]
    return Text.join(", ", (Mention(user) for user in dict.fromkeys(users)))


def remediation_status(remediation: Remediation) -> Text:
    approval = remediation.approval
    if approval is None:
        return Text(Icon.WARNING, " Cannot be proposed: ", remediation.problem or "unknown problem")
    status = approval.status
    if status is Status.PENDING:
        have = len(approval.approvers)
        needed = approval.policy.approvals_required
        by = Text(" so far: ", _who(approval, "approved")) if have else Text()
        return Text(
            Icon.WAITING,
            f" Waiting for approval ({have} of {needed}",
            by,
            "), until ",
            Moment(approval.expires_at),
        )
    if status is Status.REJECTED:
        return Text(Icon.FAILURE, " Rejected by ", _who(approval, "rejected"), _delivery(remediation))
    if status is Status.EXPIRED:
        return Text(Emphasis("Expired: nobody decided in time; nothing was done."))
    if status is Status.CANCELLED:
        return Text(Emphasis("Withdrawn: its alerts resolved before anyone decided; nothing was done."))
    approved = Text("Approved by ", _who(approval, "approved"))
    if status is Status.EXECUTING:
        return Text(Icon.WAITING, " ", approved, " · running…", _delivery(remediation))
    outcome = approval.result or status.value
    icon = Icon.SUCCESS if status is Status.SUCCEEDED else Icon.FAILURE
    return Text(icon, " ", approved, " · ", clip(outcome, 300), _delivery(remediation))


def _delivery(remediation: Remediation) -> Text:
    delivery = remediation.delivery
    if delivery is None:
        return Text()
    if delivery.state == "delivered":
        return Text(f" · signal delivered to {delivery.target}")
    if delivery.state == "failed":
        return Text(f" · signal to {delivery.target} failed: {clip(delivery.error, 120)}")
    tried = f" (attempt {delivery.attempts} failed: {clip(delivery.error, 80)})" if delivery.attempts else ""
    return Text(f" · signalling {delivery.target}…{tried}")


def remediation_block(remediation: Remediation) -> Text:
    kind = "Signal" if remediation.kind == "signal" else "Action"
    head = Text(Strong(f"{kind}: "), Mono(remediation.action))
    if remediation.kind == "signal":
        head += Text(" → ", Mono(remediation.target))
    head += Text(" ", Emphasis(f"(rule {remediation.rule})"))
    lines: list[Text] = [head]
    if remediation.approval is not None and remediation.kind == "command":
        lines.append(bullets(remediation.approval.plan.change_lines[:6]))
    lines.append(remediation_status(remediation))
    latest = remediation.latest
    if latest is not None:
        link = (
            Text(" · ", Link(latest.url, "details"))
            if latest.url.startswith(("http://", "https://"))
            else Text()
        )
        lines.append(
            Text(
                f"{latest.source}: ",
                Strong(latest.state),
                f" — {clip(latest.message, 200)} (",
                Moment(latest.at),
                ")",
                link,
            )
        )
    return Text.join("\n", lines)


def group_title(incident: Incident, group: AlertGroup) -> str:
    names = sorted({alert.name for alert in group.alerts.values() if alert.name}) or ["alerts"]
    label = ", ".join(names)[:80]
    place = f" in {incident.namespace}" if incident.namespace else ""
    if incident.state is IncidentState.RESOLVED:
        return f"Resolved after {since(incident.duration)}: {label}{place}"
    return f"{label}{place} — {len(group.firing())} firing"


def group_card(
    incident: Incident,
    group: AlertGroup,
    remediations: Sequence[Remediation],
    *,
    alertmanager_url: str,
) -> Reply:
    resolved = incident.state is IncidentState.RESOLVED
    firing = group.firing()
    common = group.common_labels()
    pairs: list[tuple[str, TextLike]] = [
        ("Severity", Text(_ICON[incident.severity], " ", incident.severity.value)),
        ("Cluster / namespace", Text(Mono(incident.cluster), " / ", Mono(incident.namespace or "-"))),
        ("Alerts", f"{len(firing)} firing, {len(group.resolved())} resolved"),
        ("Since", Text(Moment(incident.opened_at))),
    ]
    if group.group_labels:
        grouped = ", ".join(f"{k}={v}" for k, v in sorted(group.group_labels.items()))
        pairs.append(("Group", Text(Mono(clip(grouped, 200)), f" (receiver {group.receiver})")))
    if resolved and incident.resolved_at:
        pairs.append(("Resolved", Text(Moment(incident.resolved_at), f" (after {since(incident.duration)})")))
    parts: list[Part] = [Fields(tuple(pairs))]
    summary = _common_summary(group)
    if summary:
        parts.append(Quote(clip(summary, 500)))
    shown = firing or group.resolved()
    if shown and not resolved:
        lines = [_alert_line(alert, common) for alert in shown[:MAX_ALERTS_SHOWN]]
        if len(shown) > MAX_ALERTS_SHOWN:
            lines.append(Text(f"… and {len(shown) - MAX_ALERTS_SHOWN} more"))
        if group.truncated:
            lines.append(Text(Emphasis(f"Alertmanager left out {group.truncated} alert(s) (max_alerts).")))
        parts.append(Text.join("\n", lines))
    links: list[Text | Link | str] = []
    if alertmanager_url:
        links.append(Link(ui_link(alertmanager_url, group), "Open in Alertmanager"))
    if links:
        parts.append(Text(*links))
    for note in group.silences[-3:]:
        parts.append(silence_line(note))
    buttons: list[Button] = []
    for index, remediation in enumerate(remediations):
        parts.append(remediation_block(remediation))
        if remediation.pending and remediation.approval is not None and not resolved:
            style: Literal["primary", "danger"] = (
                "danger" if remediation.approval.plan.dangerous else "primary"
            )
            buttons.append(Button("Approve", f"{APPROVE_ACTION}:{index}", remediation.id, style=style))
            buttons.append(Button("Reject", f"{REJECT_ACTION}:{index}", remediation.id))
    if firing and not resolved:
        buttons.extend(
            (
                Button("Silence 1h", SILENCE_1H_ACTION, incident.id),
                Button("Silence 4h", SILENCE_4H_ACTION, incident.id),
                Button("Silence 24h", SILENCE_24H_ACTION, incident.id),
            )
        )
    icon = Icon.SUCCESS if resolved else _ICON[incident.severity]
    return Reply(
        Text(icon, " ", group_title(incident, group)),
        tuple(parts),
        where=Text("Alertmanager · incident ", Mono(incident.id.rsplit("/", 1)[-1])),
        tone="success" if resolved else _TONE[incident.severity],
        buttons=tuple(buttons[:25]),
    )


def _common_summary(group: AlertGroup) -> str:
    pool = group.firing() or list(group.alerts.values())
    if not pool:
        return ""
    texts = {alert.annotations.get("summary") or alert.annotations.get("description") or "" for alert in pool}
    return texts.pop() if len(texts) == 1 else ""


def decision_text(remediation: Remediation, user: str) -> Text:
    """What the group's thread is told after `user`'s click changed the remediation."""
    approval = remediation.approval
    assert approval is not None
    what = Mono(remediation.action)
    if approval.status is Status.PENDING:
        have, need = len(approval.approvers), approval.policy.approvals_required
        return Text(Mention(user), " approved ", what, f" ({have} of {need}).")
    if approval.status is Status.REJECTED:
        tail = f"; telling {remediation.target}." if remediation.delivery else "; nothing will be done."
        return Text(Icon.FAILURE, " Rejected by ", Mention(user), ": ", what, tail)
    doing = f"signalling {remediation.target}…" if remediation.kind == "signal" else "running…"
    return Text(Icon.WAITING, " Approved by ", Mention(user), ": ", what, f" · {doing}")
