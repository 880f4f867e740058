"""What an incident card's buttons are and do (pure): mute it, or run the command the button stands for.

A button never acts by itself: Logs, Describe, Events, Restart become the very command a
person would type, so they go through the same permission checks and approvals.

Which buttons a card offers follows the problem, and is data in one place, :data:`BUTTONS`:
an image that will not pull gets Describe and Events (there are no logs to read, and a
restart will not fix a tag); a crash loop gets the crashed run's logs, Describe, Restart.
Every open card can be muted. A button that needs a feature (``needs``: Roll back needs
releases) is shown only where that feature is there (``features``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from opsbot.alerts.detectors.facts import NODE
from opsbot.alerts.detectors.jobs import LAST_RUN
from opsbot.alerts.findings import AlertKind
from opsbot.alerts.incidents import Incident

ACTION_PREFIX = "opsbot:incident:"
LOGS_ACTION = ACTION_PREFIX + "logs"
DESCRIBE_ACTION = ACTION_PREFIX + "describe"
EVENTS_ACTION = ACTION_PREFIX + "events"
RUN_EVENTS_ACTION = ACTION_PREFIX + "runevents"
NODE_ACTION = ACTION_PREFIX + "node"
NODE_PODS_ACTION = ACTION_PREFIX + "nodepods"
RESTART_ACTION = ACTION_PREFIX + "restart"
ROLLBACK_ACTION = ACTION_PREFIX + "rollback"
MUTE_1H_ACTION = ACTION_PREFIX + "mute1h"
MUTE_24H_ACTION = ACTION_PREFIX + "mute24h"
MUTE_HOURS = {MUTE_1H_ACTION: 1.0, MUTE_24H_ACTION: 24.0}
# Alertmanager groups: a silence in Alertmanager per firing alert (the `silence` command).
SILENCE_1H_ACTION = ACTION_PREFIX + "silence1h"
SILENCE_4H_ACTION = ACTION_PREFIX + "silence4h"
SILENCE_24H_ACTION = ACTION_PREFIX + "silence24h"
SILENCE_HOURS = {SILENCE_1H_ACTION: 1, SILENCE_4H_ACTION: 4, SILENCE_24H_ACTION: 24}
MAX_SILENCED_AT_ONCE = 50

Feature = Literal["releases"]
FEATURES: frozenset[Feature] = frozenset({"releases"})
"""What exists in this opsbot: a button that ``needs`` anything else is not offered."""

# How `events --for KIND/NAME` and `describe KIND NAME` name each subject's kind.
_EVENT_KIND_WORDS = {
    "Pod": "pod",
    "Deployment": "deploy",
    "Node": "node",
    "Job": "job",
    "CronJob": "cronjob",
    "ReplicaSet": "rs",
}
_DESCRIBE_WORDS = {"Pod": "pod", "Deployment": "deploy", "Node": "node"}


@dataclass(frozen=True)
class CardAction:
    action_id: str
    label: str
    command: Callable[[Incident], str | None]  # None: it does not apply to this incident (any more)
    style: Literal["primary", "danger"] | None = None
    needs: Feature | None = None


def _place(incident: Incident) -> str:
    place = f" --cluster {incident.cluster}"
    return place + (f" -n {incident.namespace}" if incident.namespace else "")


def _live(incident: Incident) -> str | None:
    """A pod (or other subject) of the incident still there, else any."""
    live = [item for item in incident.affected if not item.gone] or list(incident.affected)
    return live[0].name if live else None


def _subject_word(incident: Incident, words: Mapping[str, str]) -> tuple[str, str] | None:
    name = (
        _live(incident)
        if incident.subject_kind == "Pod"
        else incident.affected[0].name
        if incident.affected
        else None
    )
    word = words.get(incident.subject_kind)
    return (word, name) if word and name else None


def _logs(incident: Incident) -> str | None:
    if incident.subject_kind != "Pod" or (pod := _live(incident)) is None:
        return None
    item = next(item for item in incident.affected if item.name == pod)
    container = f" -c {item.container}" if item.container else ""
    previous = " --previous" if incident.kind in {AlertKind.CRASH_LOOP, AlertKind.OOM_KILLED} else ""
    return f"logs {pod}{container}{previous}{_place(incident)}"


def _describe(incident: Incident) -> str | None:
    found = _subject_word(incident, _DESCRIBE_WORDS)
    if found is None:
        return None
    word, name = found
    if word == "node":
        return f"describe node {name} --cluster {incident.cluster}"
    return f"describe {word} {name}{_place(incident)}"


def _events(incident: Incident) -> str | None:
    found = _subject_word(incident, _EVENT_KIND_WORDS)
    if found is None:
        return None
    word, name = found
    if word == "node":
        return f"events --for node/{name} -A --cluster {incident.cluster}"
    return f"events --for {word}/{name}{_place(incident)}"


def _run_events(incident: Incident) -> str | None:
    run = incident.facts.get(LAST_RUN)
    return f"events --for job/{run}{_place(incident)}" if run else None


def _node(incident: Incident) -> str | None:
    node = incident.facts.get(NODE)
    return f"describe node {node} --cluster {incident.cluster}" if node else None


def _node_pods(incident: Incident) -> str | None:
    if incident.subject_kind != "Node":
        return None
    return f"pods -A --node {incident.workload.name} --cluster {incident.cluster}"


def _restart(incident: Incident) -> str | None:
    if incident.workload.kind != "Deployment":
        return None
    return f"restart deploy/{incident.workload.name}{_place(incident)}"


def _silence(hours: int) -> Callable[[Incident], str | None]:
    def command(incident: Incident) -> str | None:
        if incident.kind is not AlertKind.ALERTMANAGER:
            return None
        firing = [item.name for item in incident.affected if not item.gone][:MAX_SILENCED_AT_ONCE]
        return f"silence {' '.join(firing)} for {hours}h" if firing else None

    return command


def _rollback(incident: Incident) -> str | None:
    """`rollback` of the failing Deployment's app: back to the last version that was fully
    available on this cluster (the releases' history, else its ReplicaSet revisions)."""
    if incident.workload.kind != "Deployment" or not incident.namespace:
        return None
    return f"rollback {incident.workload.name} on {incident.cluster} -n {incident.namespace}"


LOGS = CardAction(LOGS_ACTION, "Logs (crashed run)", _logs)
CURRENT_LOGS = CardAction(LOGS_ACTION, "Logs", _logs)
DESCRIBE = CardAction(DESCRIBE_ACTION, "Describe", _describe)
DESCRIBE_NODE = CardAction(DESCRIBE_ACTION, "Describe node", _describe)
EVENTS = CardAction(EVENTS_ACTION, "Events", _events)
RUN_EVENTS = CardAction(RUN_EVENTS_ACTION, "Events of the failed run", _run_events)
NODE_OF_POD = CardAction(NODE_ACTION, "Node pressure", _node)  # `describe node`: its conditions
PODS_ON_NODE = CardAction(NODE_PODS_ACTION, "Pods on node", _node_pods)
RESTART = CardAction(RESTART_ACTION, "Restart workload", _restart, style="danger")
ROLLBACK = CardAction(ROLLBACK_ACTION, "Roll back", _rollback, style="danger", needs="releases")

BUTTONS: Mapping[AlertKind, tuple[CardAction, ...]] = {
    AlertKind.CRASH_LOOP: (LOGS, DESCRIBE, RESTART, ROLLBACK),
    AlertKind.OOM_KILLED: (LOGS, DESCRIBE),  # Describe shows the limits; a restart will not help
    AlertKind.IMAGE_PULL: (DESCRIBE, EVENTS, ROLLBACK),  # nothing to read, a restart pulls the same tag
    AlertKind.CONFIG_ERROR: (DESCRIBE, EVENTS),
    AlertKind.EVICTED: (DESCRIBE, NODE_OF_POD),  # the node's pressure is the story
    AlertKind.UNSCHEDULABLE: (DESCRIBE, EVENTS),
    AlertKind.STUCK_CREATING: (DESCRIBE, EVENTS),
    AlertKind.NODE_NOT_READY: (DESCRIBE_NODE, PODS_ON_NODE),
    AlertKind.NODE_PRESSURE: (DESCRIBE_NODE, PODS_ON_NODE),
    AlertKind.NODE_UNSCHEDULABLE: (DESCRIBE_NODE, PODS_ON_NODE),
    AlertKind.ROLLOUT_FAILED: (DESCRIBE, EVENTS, ROLLBACK),
    AlertKind.ROLLOUT_COMPLETED: (DESCRIBE,),
    AlertKind.DEPLOYMENT_UNAVAILABLE: (DESCRIBE, EVENTS, RESTART),
    AlertKind.JOB_FAILED: (EVENTS,),
    AlertKind.CRONJOB_FAILED: (RUN_EVENTS, EVENTS),
    AlertKind.CRONJOB_MISSED: (EVENTS,),
    AlertKind.WARNING_EVENT: (EVENTS, DESCRIBE),
}
# Alertmanager cards (opsbot.alertmanager.cards) lay out their own buttons; these say what they run.
SILENCES = tuple(
    CardAction(action_id, f"Silence {hours}h", _silence(hours)) for action_id, hours in SILENCE_HOURS.items()
)
MUTES = (
    CardAction(MUTE_1H_ACTION, "Mute 1h", lambda incident: None),
    CardAction(MUTE_24H_ACTION, "Mute 24h", lambda incident: None),
)
_COMMANDS = (*(a for actions in BUTTONS.values() for a in actions), *SILENCES)
_BY_ID: Mapping[str, tuple[CardAction, ...]] = {
    action_id: tuple(dict.fromkeys(a for a in _COMMANDS if a.action_id == action_id))
    for action_id in {a.action_id for a in _COMMANDS}
}
ACTIONS = frozenset({*_BY_ID, *MUTE_HOURS})


def card_actions(
    incident: Incident, *, open_: bool, features: Collection[Feature] = FEATURES
) -> tuple[CardAction, ...]:
    """The buttons the incident's card shows: its kind's that apply (and exist), then the mutes."""
    shown = [
        action
        for action in BUTTONS.get(incident.kind, ())
        if (action.needs is None or action.needs in features)
        and (open_ or action.style != "danger")
        and action.command(incident) is not None
    ]
    return (*shown, *(MUTES if open_ else ()))


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
    for action in _BY_ID.get(action_id, ()):
        command = action.command(incident)
        if command is not None:
            return command
    return None
