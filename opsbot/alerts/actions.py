"""What an incident card's buttons do (pure): mute it, or run the command the button stands for.

A button never acts by itself: Logs, Describe and Restart become the very command a
person would type, so they go through the same permission checks and approvals.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsbot.alerts.findings import AlertKind
from opsbot.alerts.incidents import Incident

ACTION_PREFIX = "opsbot:incident:"
LOGS_ACTION = ACTION_PREFIX + "logs"
DESCRIBE_ACTION = ACTION_PREFIX + "describe"
RESTART_ACTION = ACTION_PREFIX + "restart"
MUTE_1H_ACTION = ACTION_PREFIX + "mute1h"
MUTE_24H_ACTION = ACTION_PREFIX + "mute24h"
# Alertmanager groups: a silence in Alertmanager per firing alert (the `silence` command).
SILENCE_1H_ACTION = ACTION_PREFIX + "silence1h"
SILENCE_4H_ACTION = ACTION_PREFIX + "silence4h"
SILENCE_24H_ACTION = ACTION_PREFIX + "silence24h"
SILENCE_HOURS = {SILENCE_1H_ACTION: 1, SILENCE_4H_ACTION: 4, SILENCE_24H_ACTION: 24}
MAX_SILENCED_AT_ONCE = 50
ACTIONS = frozenset(
    {LOGS_ACTION, DESCRIBE_ACTION, RESTART_ACTION, MUTE_1H_ACTION, MUTE_24H_ACTION, *SILENCE_HOURS}
)
MUTE_HOURS = {MUTE_1H_ACTION: 1.0, MUTE_24H_ACTION: 24.0}


@dataclass(frozen=True)
class MuteFor:
    """Mute the incident for ``hours``."""

    hours: float


@dataclass(frozen=True)
class RunCommand:
    """Run ``text`` as if the person who clicked had typed it, in the incident's thread."""

    text: str


@dataclass(frozen=True)
class NothingToDo:
    """The button does not apply to this incident (any more)."""

    reason: str = "Nothing to do for this incident."


ClickOutcome = MuteFor | RunCommand | NothingToDo


def on_click(action_id: str, incident: Incident) -> ClickOutcome:
    if action_id in MUTE_HOURS:
        return MuteFor(MUTE_HOURS[action_id])
    command = incident_command(action_id, incident)
    return RunCommand(command) if command is not None else NothingToDo()


def incident_command(action_id: str, incident: Incident) -> str | None:
    """The command a button stands for, so it goes through the same checks and approvals."""
    place = f" --cluster {incident.cluster}"
    if incident.namespace:
        place += f" -n {incident.namespace}"
    live = [item for item in incident.affected if not item.gone] or list(incident.affected)
    if action_id == LOGS_ACTION and incident.subject_kind == "Pod" and live:
        item = live[0]
        container = f" -c {item.container}" if item.container else ""
        previous = " --previous" if incident.kind in {AlertKind.CRASH_LOOP, AlertKind.OOM_KILLED} else ""
        return f"logs {item.name}{container}{previous}{place}"
    if action_id == DESCRIBE_ACTION:
        if incident.subject_kind == "Pod" and live:
            return f"describe pod {live[0].name}{place}"
        if incident.subject_kind == "Node":
            return f"describe node {incident.workload.name} --cluster {incident.cluster}"
        if incident.subject_kind == "Deployment":
            return f"describe deploy {incident.workload.name}{place}"
    if action_id == RESTART_ACTION and incident.workload.kind == "Deployment":
        return f"restart deploy/{incident.workload.name}{place}"
    if action_id in SILENCE_HOURS and incident.kind is AlertKind.ALERTMANAGER:
        firing = [item.name for item in incident.affected if not item.gone][:MAX_SILENCED_AT_ONCE]
        if firing:
            return f"silence {' '.join(firing)} for {SILENCE_HOURS[action_id]}h"
    return None
