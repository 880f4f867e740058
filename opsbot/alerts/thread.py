"""What opsbot says in an incident's thread (pure, renderer-neutral): its context, its end, a relapse, a mute."""

from __future__ import annotations

from datetime import datetime

from opsbot.alerts.enrichment import Enrichment
from opsbot.alerts.incidents import Incident
from opsbot.alerts.wording import readable, relapse_line, resolved_line
from opsbot.core import kubeobjects as fmt
from opsbot.core.durations import short_duration
from opsbot.core.reply import Code, Emphasis, Icon, Mention, Mono, Part, Reply, Strong, Table, Text, clip

EVENTS_SHOWN = 8
NODE_PODS_SHOWN = 10


def enrichment_reply(incident: Incident, enrichment: Enrichment, now: datetime) -> Reply:
    parts: list[Part] = []
    subject = incident.affected[0].name if incident.affected else "?"
    if incident.subject_kind == "Pod":
        live = [item for item in incident.affected if not item.gone] or list(incident.affected)
        subject = live[0].name if live else subject
        parts.extend(_log_parts(enrichment, subject))
    if incident.subject_kind == "Node":
        parts.extend(_node_parts(enrichment))
    if enrichment.events:
        rows = []
        for event in fmt.sort_events(enrichment.events)[-EVENTS_SHOWN:]:
            moment = fmt.event_time(event)
            seen = short_duration(int((now - moment).total_seconds())) if moment else "?"
            about = str((event.get("involvedObject") or {}).get("name", ""))
            message = readable(str(event.get("message", "")))
            rows.append((seen, str(event.get("reason", "")), clip(about, 40), clip(message, 110)))
        parts.append(Text(Strong("Recent warning events")))
        parts.append(Table(("AGO", "REASON", "OBJECT", "MESSAGE"), tuple(rows), total=len(enrichment.events)))
    elif incident.subject_kind != "Pod" or not parts:
        parts.append(Text(Emphasis("No recent warning events.")))
    return Reply(Text("Context for ", incident.kind.value, " in ", Mono(subject)), tuple(parts), tone="info")


def _log_parts(enrichment: Enrichment, pod: str) -> list[Part]:
    container = enrichment.container
    label = Text(Mono(container), " in ", Mono(pod)) if container else Text(Mono(pod))
    if enrichment.log_lines:
        return [
            Text(Strong(f"Last {len(enrichment.log_lines)} log lines of ", label), " (the run that failed)"),
            Code("\n".join(clip(line, 300) for line in enrichment.log_lines)),
        ]
    if enrichment.log_note:
        return [Text(Emphasis(f"Logs unavailable: {enrichment.log_note}"))]
    if container is None:
        return []
    return [Text(Emphasis("The container wrote no log lines."))]


def _node_parts(enrichment: Enrichment) -> list[Part]:
    if not enrichment.pods:
        return [Text(Emphasis("The pods on this node could not be listed (needs a cluster-wide read)."))]
    unhealthy = [pod for pod in enrichment.pods if not fmt.pod_is_healthy(pod)]
    shown = unhealthy or enrichment.pods
    rows = tuple(
        (fmt.namespace_of(pod), fmt.name_of(pod), fmt.pod_status(pod), fmt.pod_ready(pod))
        for pod in shown[:NODE_PODS_SHOWN]
    )
    heading = "Pods on this node that are not ready" if unhealthy else "Pods on this node"
    return [
        Text(Strong(heading)),
        Table(("NAMESPACE", "POD", "STATUS", "READY"), rows, total=len(shown)),
    ]


def resolved_text(incident: Incident) -> Text:
    return Text(Icon.SUCCESS, resolved_line(incident))


def relapse_text(incident: Incident) -> Text:
    return Text(Icon.ALERT, relapse_line(incident))


def mute_notice(user: str, hours: float, ref: str) -> Text:
    """Said in the incident's thread when someone mutes it from its card."""
    return Text(
        Icon.MUTED,
        " ",
        Mention(user),
        f" muted this incident for {hours:g}h (",
        Mono(f"unmute {ref}"),
        " to undo).",
    )
