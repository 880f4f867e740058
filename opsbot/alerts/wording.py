"""How incidents are worded, whatever shows them (pure): what Kubernetes said, without its
noise; since when; what recovery means for each kind of subject.

The kubelet's lines carry what helps nobody at 3 a.m.: ``pod=web-7d9f_shop(5f1c…-…)``
repeats the pod and adds its UID, ``container=app`` reads like code, the runtime wraps
errors in ``rpc error: code = NotFound desc = …``. :func:`readable` keeps the reason.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from opsbot.alerts.findings import AlertKind
from opsbot.alerts.incidents import Incident
from opsbot.core.durations import since as short
from opsbot.core.reply import Moment, Text, clip

_POD_REF = re.compile(r"\s*\bpod=\S+?_\S+?\([0-9a-fA-F-]{36}\)")
_UID = re.compile(r"\s*\(?\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b\)?")
_KEY_VALUE = re.compile(r"\b(container)=(\S+)")
_RPC = re.compile(r"rpc error: code = \w+ desc = ")
_CONTAINER_ID = re.compile(r"\b(containerd|docker|cri-o)://([0-9a-f]{12})[0-9a-f]{52}\b")
MESSAGE_LIMIT = 500


def readable(message: str) -> str:
    """What Kubernetes said, minus UIDs, the pod it is about and the runtime's wrapping."""
    text = _POD_REF.sub("", message)
    text = _UID.sub("", text)
    text = _KEY_VALUE.sub(r"\1 \2", text)
    text = _RPC.sub("", text)
    text = _CONTAINER_ID.sub(r"\1://\2…", text)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    return clip(text[:1].upper() + text[1:], MESSAGE_LIMIT) if text else ""


def duration_text(incident: Incident) -> str:
    """How long it lasted (first failure to recovery); "at least" when the start is a bound."""
    return ("at least " if not incident.since_exact else "") + short(incident.duration)


def when(incident: Incident) -> Text:
    """Since when (open), or from when to when (resolved), in the reader's time."""
    start = Moment(incident.started)
    if incident.recovered_at is not None:
        lead = "at least from " if not incident.since_exact else "from "
        return Text(lead, start, " to ", Moment(incident.recovered_at), f" ({short(incident.duration)})")
    return Text("since " if incident.since_exact else "at least since ", start)


def quiet_text(quiet: timedelta | None) -> str:
    return f"healthy for {short(quiet)} before it was closed" if quiet is not None else ""


# What "recovered" means, per kind: the thread says it when an incident resolves.
RECOVERED: dict[AlertKind, str] = {
    AlertKind.NODE_NOT_READY: "{node} is Ready again",
    AlertKind.NODE_PRESSURE: "{node} is no longer under pressure",
    AlertKind.NODE_UNSCHEDULABLE: "{node} takes new pods again",
    AlertKind.ROLLOUT_FAILED: "the rollout is no longer stuck",
    AlertKind.ROLLOUT_COMPLETED: "done",
    AlertKind.DEPLOYMENT_UNAVAILABLE: "every replica is available again",
    AlertKind.JOB_FAILED: "the Job is no longer failed",
    AlertKind.CRONJOB_FAILED: "a later run succeeded",
    AlertKind.CRONJOB_MISSED: "it runs on schedule again",
    AlertKind.WARNING_EVENT: "no new warnings",
    AlertKind.UNSCHEDULABLE: "every affected pod was scheduled (or is gone)",
    AlertKind.STUCK_CREATING: "every affected pod started (or is gone)",
}
POD_RECOVERED = "every affected pod has recovered (or is gone)"


def resolved_line(incident: Incident) -> str:
    """``Resolved after 12m: node node-3 is Ready again (healthy for 5m before it was closed).``

    The duration is the failure's, first failure to recovery; the quiet period is said apart."""
    what = RECOVERED.get(incident.kind, POD_RECOVERED).format(node=f"node {incident.workload.name}")
    gone = [item for item in incident.affected if item.gone]
    if incident.subject_kind == "Pod" and gone and len(gone) == len(incident.affected):
        what = "every affected pod is gone"
    quiet = quiet_text(incident.quiet)
    return f" Resolved after {duration_text(incident)}: {what}" + (f" ({quiet})." if quiet else ".")


def relapse_line(incident: Incident) -> str:
    reason = incident.reason or incident.kind.value
    return f" Relapsed: {reason} again (reopened {incident.reopened}×)."


def ago(moment: datetime, now: datetime) -> str:
    return short(now - moment)
