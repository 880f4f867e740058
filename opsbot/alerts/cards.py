"""How an incident's root message looks, as a renderer-neutral Reply (pure).

One icon (its severity; a check mark once resolved), a title that names the problem and
where, the short id people type back (``unmute k7m2qx``), when it began (from the
objects' evidence, "at least since" when that is all there is) and, per kind, what an
on-call engineer looks for first: the memory limit of an OOM-killed container, the image
that will not pull, the node a pod was evicted from, how many pods a broken node carries.
The buttons follow the problem (actions.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from opsbot.alerts.actions import card_actions
from opsbot.alerts.detectors.facts import IMAGE, MEMORY_LIMIT, MEMORY_REQUEST, NODE, REPLICAS
from opsbot.alerts.detectors.jobs import LAST_RUN, LAST_SUCCESS, NEXT_RUN, SCHEDULE
from opsbot.alerts.detectors.readers import moment_of
from opsbot.alerts.enrichment import CAUSE, NOT_READY_ON_NODE, PODS_ON_NODE, WORKLOADS
from opsbot.alerts.findings import AlertKind, Severity
from opsbot.alerts.incidents import Incident, IncidentState
from opsbot.alerts.wording import duration_text, quiet_text, readable, when
from opsbot.core.reply import (
    Button,
    Fields,
    Icon,
    Moment,
    Mono,
    Part,
    Quote,
    Reply,
    Text,
    TextLike,
    Tone,
)

SEVERITY_ICON = {
    Severity.CRITICAL: Icon.CRITICAL,
    Severity.WARNING: Icon.SEVERITY_WARNING,
    Severity.INFO: Icon.SEVERITY_INFO,
}
_TONE: dict[Severity, Tone] = {Severity.CRITICAL: "error", Severity.WARNING: "warning", Severity.INFO: "info"}
MAX_SUBJECTS_SHOWN = 10
_SUBJECT_NOUNS = {"Pod": ("pod", "pods"), "Job": ("job", "jobs")}

Pairs = list[tuple[str, TextLike]]


def target(incident: Incident) -> str:
    """``deployment/api in payments``; ``node/node-3`` (nodes have no namespace)."""
    return f"{incident.workload} in {incident.namespace}" if incident.namespace else str(incident.workload)


def incident_title(incident: Incident) -> str:
    if incident.state is IncidentState.RESOLVED:
        return f"Resolved after {duration_text(incident)}: {incident.kind.value} — {target(incident)}"
    return f"{incident.kind.value} — {target(incident)}"


def where_line(incident: Incident) -> Text:
    """``incident k7m2qx · cluster prod · namespace web``: the id to type back, and where."""
    line = Text("incident ", Mono(incident.ref), " · cluster ", Mono(incident.cluster))
    return line + Text(" · namespace ", Mono(incident.namespace)) if incident.namespace else line


def _subjects(incident: Incident, resolved: bool) -> tuple[str, TextLike]:
    items = list(incident.affected)
    shown = Text.join(
        ", ",
        (
            Text(
                Mono(item.name),
                " (gone)" if item.gone else " (recovered)" if item.healthy_since and not resolved else "",
            )
            for item in items[:MAX_SUBJECTS_SHOWN]
        ),
    )
    if len(items) > MAX_SUBJECTS_SHOWN:
        shown += f" and {len(items) - MAX_SUBJECTS_SHOWN} more"
    singular, many = _SUBJECT_NOUNS.get(incident.subject_kind, ("", ""))
    label = (
        f"{(many if len(items) != 1 else singular).capitalize()} ({len(items)})"
        if singular
        else incident.subject_kind
    )
    return label, shown or "-"


def _last_failure(incident: Incident) -> str:
    latest = max(incident.affected, key=lambda item: item.restarts, default=None)
    if latest is None or (latest.exit_code is None and not latest.reason):
        return ""
    code = f"exit code {latest.exit_code}" if latest.exit_code is not None else ""
    return ", ".join(part for part in (latest.reason, code) if part)


def _crash_fields(incident: Incident) -> Pairs:
    pairs: Pairs = [("Restarts", str(incident.restarts))]
    if failure := _last_failure(incident):
        pairs.append(("Last failure", failure))
    return pairs


def _oom_fields(incident: Incident) -> Pairs:
    facts = incident.facts
    memory = Text("limit ", Mono(facts.get(MEMORY_LIMIT, "?")))
    if MEMORY_REQUEST in facts:
        memory += Text(", request ", Mono(facts[MEMORY_REQUEST]))
    return [("Memory", memory), ("OOM kills seen", str(incident.failures)), *_crash_fields(incident)]


def _image_fields(incident: Incident) -> Pairs:
    image = incident.facts.get(IMAGE)
    return [("Image", Text(Mono(image)))] if image else []


def _node_of_pod_fields(incident: Incident) -> Pairs:
    node = incident.facts.get(NODE)
    return [("Node", Text(Mono(node)))] if node else []


def _node_fields(incident: Incident) -> Pairs:
    facts = incident.facts
    pairs: Pairs = [("Reason", incident.reason or "-")]
    if PODS_ON_NODE in facts:
        not_ready = facts.get(NOT_READY_ON_NODE, "0")
        pairs.append(("Pods on the node", f"{facts[PODS_ON_NODE]} ({not_ready} not ready)"))
    if facts.get(WORKLOADS):
        pairs.append(("Workloads affected", facts[WORKLOADS]))
    return pairs


def _deployment_fields(incident: Incident) -> Pairs:
    replicas = incident.facts.get(REPLICAS)
    return [("Available replicas", replicas)] if replicas else []


def _job_fields(incident: Incident) -> Pairs:
    pairs: Pairs = [("Reason", incident.reason or "-")]
    if failed := incident.facts.get("failed_pods"):
        pairs.append(("Failed pods", failed))
    return pairs


def _moment_or(value: str | None, otherwise: str) -> TextLike:
    moment = moment_of(value)
    return Text(Moment(moment)) if moment else otherwise


def _cronjob_fields(incident: Incident) -> Pairs:
    facts = incident.facts
    pairs: Pairs = [("Schedule", Text(Mono(facts.get(SCHEDULE, "?"))))]
    if incident.kind is AlertKind.CRONJOB_MISSED and NEXT_RUN in facts:
        pairs.append(("Was due", _moment_or(facts[NEXT_RUN], "?")))
    if LAST_RUN in facts:
        pairs.append(("Last run", Text(Mono(facts[LAST_RUN]))))
    pairs.append(("Last success", _moment_or(facts.get(LAST_SUCCESS), "never")))
    return pairs


def _event_fields(incident: Incident) -> Pairs:
    warnings = max((item.restarts for item in incident.affected), default=0)
    return [("Reason", incident.reason or "-"), ("Warnings", f"{warnings}× (latest reason)")]


def _no_fields(incident: Incident) -> Pairs:
    return []


KIND_FIELDS: Mapping[AlertKind, Callable[[Incident], Pairs]] = {
    AlertKind.CRASH_LOOP: _crash_fields,
    AlertKind.OOM_KILLED: _oom_fields,
    AlertKind.IMAGE_PULL: _image_fields,
    AlertKind.CONFIG_ERROR: _image_fields,
    AlertKind.EVICTED: _node_of_pod_fields,
    AlertKind.UNSCHEDULABLE: _no_fields,
    AlertKind.STUCK_CREATING: _node_of_pod_fields,
    AlertKind.NODE_NOT_READY: _node_fields,
    AlertKind.NODE_PRESSURE: _node_fields,
    AlertKind.NODE_UNSCHEDULABLE: _node_fields,
    AlertKind.ROLLOUT_FAILED: _deployment_fields,
    AlertKind.ROLLOUT_COMPLETED: _deployment_fields,
    AlertKind.DEPLOYMENT_UNAVAILABLE: _deployment_fields,
    AlertKind.JOB_FAILED: _job_fields,
    AlertKind.CRONJOB_FAILED: _cronjob_fields,
    AlertKind.CRONJOB_MISSED: _cronjob_fields,
    AlertKind.WARNING_EVENT: _event_fields,
}


def quoted(incident: Incident) -> str:
    """What Kubernetes said, readable; the cause found in the thread's events when it explains more."""
    return readable(incident.facts.get(CAUSE) or incident.message)


def incident_card(incident: Incident) -> Reply:
    resolved = incident.state is IncidentState.RESOLVED
    pairs: Pairs = [("Severity", Text(SEVERITY_ICON[incident.severity], " ", incident.severity.value))]
    if incident.subject_kind in _SUBJECT_NOUNS:
        pairs.append(_subjects(incident, resolved))
    pairs.append(("When", when(incident)))
    pairs.extend(KIND_FIELDS.get(incident.kind, _no_fields)(incident))
    if incident.occurrences > 1 or incident.reopened:
        seen = f"{incident.occurrences}×" + (f", reopened {incident.reopened}×" if incident.reopened else "")
        pairs.append(("Seen", seen))
    if resolved and incident.resolved_at:
        quiet = quiet_text(incident.quiet)
        pairs.append(("Resolved", Text(Moment(incident.resolved_at), f" ({quiet})" if quiet else "")))
    parts: list[Part] = [Fields(tuple(pairs))]
    if message := quoted(incident):
        parts.append(Quote(message))
    buttons = tuple(
        Button(action.label, action.action_id, incident.id, style=action.style)
        for action in card_actions(incident, open_=not resolved)
    )
    return Reply(
        incident_title(incident),
        tuple(parts),
        where=where_line(incident),
        tone="success" if resolved else _TONE[incident.severity],
        buttons=buttons,
        icon=Icon.SUCCESS if resolved else SEVERITY_ICON[incident.severity],
    )
