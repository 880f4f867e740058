"""How incidents look, as renderer-neutral Replies (pure)."""

from __future__ import annotations

from datetime import datetime

from opsbot.alerts.actions import (
    DESCRIBE_ACTION,
    LOGS_ACTION,
    MUTE_1H_ACTION,
    MUTE_24H_ACTION,
    RESTART_ACTION,
)
from opsbot.alerts.findings import Severity
from opsbot.alerts.incidents import Incident, IncidentState
from opsbot.core import kubeobjects as fmt
from opsbot.core.durations import short_duration
from opsbot.core.reply import (
    Button,
    Code,
    Emphasis,
    Fields,
    Icon,
    Mention,
    Mono,
    Part,
    Quote,
    Reply,
    Strong,
    Table,
    Text,
    TextLike,
    Tone,
)

_ICON = {
    Severity.CRITICAL: Icon.CRITICAL,
    Severity.WARNING: Icon.SEVERITY_WARNING,
    Severity.INFO: Icon.SEVERITY_INFO,
}
_TONE: dict[Severity, Tone] = {Severity.CRITICAL: "error", Severity.WARNING: "warning", Severity.INFO: "info"}
MAX_PODS_SHOWN = 10


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(incident: Incident) -> str:
    return short_duration(int(incident.duration.total_seconds()))


def incident_title(incident: Incident) -> str:
    target = f"{incident.workload} in {incident.namespace}" if incident.namespace else str(incident.workload)
    if incident.state is IncidentState.RESOLVED:
        return f"Resolved after {_duration(incident)}: {incident.kind.value} — {target}"
    return f"{incident.kind.value} — {target}"


def incident_card(incident: Incident) -> Reply:
    resolved = incident.state is IncidentState.RESOLVED
    pods = [item for item in incident.affected]
    shown = Text.join(
        ", ",
        (
            Text(
                Mono(item.name),
                " (gone)" if item.gone else " (recovered)" if item.healthy_since and not resolved else "",
            )
            for item in pods[:MAX_PODS_SHOWN]
        ),
    )
    if len(pods) > MAX_PODS_SHOWN:
        shown += f" and {len(pods) - MAX_PODS_SHOWN} more"
    noun = {"Pod": "Affected pods", "Node": "Node", "Deployment": "Deployment"}.get(
        incident.subject_kind, "Affected"
    )
    pairs: list[tuple[str, TextLike]] = [
        ("Severity", Text(_ICON[incident.severity], " ", incident.severity.value)),
        ("Cluster / namespace", Text(Mono(incident.cluster), " / ", Mono(incident.namespace or "-"))),
        (f"{noun} ({len(pods)})", shown or "-"),
        ("Since", _stamp(incident.opened_at)),
    ]
    if incident.subject_kind == "Pod":
        pairs.append(("Restarts", str(incident.restarts)))
        latest = max(pods, key=lambda item: item.restarts, default=None)
        if latest is not None and (latest.exit_code is not None or latest.reason):
            exit_text = f"exit {latest.exit_code}" if latest.exit_code is not None else ""
            pairs.append(("Last failure", " ".join(part for part in (latest.reason, exit_text) if part)))
    pairs.append(
        (
            "Seen",
            f"{incident.occurrences}x" + (f", reopened {incident.reopened}x" if incident.reopened else ""),
        )
    )
    if resolved and incident.resolved_at:
        pairs.append(("Resolved", f"{_stamp(incident.resolved_at)} (after {_duration(incident)})"))
    parts: list[Part] = [Fields(tuple(pairs))]
    if incident.message:
        parts.append(Quote(fmt.clip(incident.message, 500)))
    buttons: tuple[Button, ...] = ()
    if incident.subject_kind == "Pod":
        buttons += (
            Button("Logs", LOGS_ACTION, incident.id),
            Button("Describe", DESCRIBE_ACTION, incident.id),
        )
    elif incident.subject_kind in {"Node", "Deployment"}:
        buttons += (Button("Describe", DESCRIBE_ACTION, incident.id),)
    if not resolved:
        if incident.workload.kind == "Deployment":
            buttons += (Button("Restart workload", RESTART_ACTION, incident.id, style="danger"),)
        buttons += (
            Button("Mute 1h", MUTE_1H_ACTION, incident.id),
            Button("Mute 24h", MUTE_24H_ACTION, incident.id),
        )
    icon = Icon.SUCCESS if resolved else _ICON[incident.severity]
    return Reply(
        Text(icon, " ", incident_title(incident)),
        tuple(parts),
        where=Text("incident ", Mono(incident.id.rsplit("/", 1)[-1])),
        tone="success" if resolved else _TONE[incident.severity],
        buttons=buttons,
    )


def enrichment_reply(
    incident: Incident,
    container: str | None,
    lines: list[str],
    note: str,
    events: list[dict[str, object]],
    now: datetime,
) -> Reply:
    parts: list[Part] = []
    first = incident.affected[0] if incident.affected else None
    pod = first.name if first else "?"
    if lines:
        label = Text(Mono(container), " in ", Mono(pod)) if container else Text(Mono(pod))
        parts.append(Text(Strong(f"Last {len(lines)} log lines of ", label), " (the run that failed)"))
        parts.append(Code("\n".join(fmt.clip(line, 300) for line in lines)))
    elif note:
        parts.append(Text(Emphasis(f"Logs unavailable: {note}")))
    else:
        parts.append(Text(Emphasis("The container wrote no log lines.")))
    if events:
        rows = []
        for event in fmt.sort_events(events)[-8:]:
            moment = fmt.event_time(event)
            seen = short_duration(int((now - moment).total_seconds())) if moment else "?"
            rows.append((seen, str(event.get("reason", "")), fmt.clip(str(event.get("message", "")), 110)))
        parts.append(Text(Strong("Recent warning events")))
        parts.append(Table(("AGO", "REASON", "MESSAGE"), tuple(rows), total=len(events)))
    return Reply(f"Context for {incident.kind.value} in {pod}", tuple(parts), tone="info")


def digest_card(channel_incidents: list[Incident]) -> Reply:
    open_count = sum(1 for i in channel_incidents if i.state is IncidentState.OPEN)
    namespaces = sorted({i.namespace or "-" for i in channel_incidents})
    rows = tuple(
        (
            i.kind.value,
            str(i.workload),
            i.namespace or "-",
            str(len(i.affected)),
            "resolved" if i.state is IncidentState.RESOLVED else "open",
        )
        for i in channel_incidents
    )
    return Reply(
        f"{len(channel_incidents)} new incidents in {', '.join(namespaces)[:80]}",
        (
            Text(
                "Too many alerts at once for one message each: ",
                Strong(str(open_count)),
                " still open. ",
                Mono("incidents"),
                " lists them.",
            ),
            Table(("KIND", "WORKLOAD", "NAMESPACE", "PODS", "STATE"), rows[:40], total=len(rows)),
        ),
        tone="warning" if open_count else "success",
    )


def mute_notice(user: str, hours: float, mute_id: str) -> Text:
    """Said in the incident's thread when someone mutes it from its card."""
    return Text(
        Icon.MUTED,
        " ",
        Mention(user),
        f" muted this incident for {hours:g}h (",
        Mono(f"unmute {mute_id}"),
        " to undo).",
    )
