"""Node detectors (NotReady, pressure, cordoned too long) and node health.

A node without a Ready condition is neither NotReady nor healthy; its going
False/Unknown afterwards is reported. "Newly NotReady" means the old Ready was
anything but False/Unknown; False → Unknown is not a new finding.

Pressure (MemoryPressure, DiskPressure, PIDPressure True) is one problem per node: a
pressure appearing is a finding, another one joining it is a finding again (the card
names them all). A node that stopped reporting has every condition Unknown: that is
NotReady's business, not pressure.

Cordoned (``spec.unschedulable``) is fine for a drain; it alerts only once it has lasted
longer than its threshold, counted from the ``node.kubernetes.io/unschedulable`` taint's
``timeAdded``.
"""

from __future__ import annotations

from typing import Any

from opsbot.alerts.detectors.readers import as_dict, moment_of, text
from opsbot.alerts.detectors.spec import Change, Symptom
from opsbot.alerts.findings import AlertKind
from opsbot.core.kubeobjects import condition
from opsbot.ports import KubeObject

NOT_READY_STATUSES = frozenset({"False", "Unknown"})
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def _node_not_ready(node: KubeObject | None) -> dict[str, Any] | None:
    """The Ready condition when it says False or Unknown."""
    if node is None:
        return None
    ready = condition(node, "Ready")
    if ready is None or ready.get("status") not in NOT_READY_STATUSES:
        return None
    return ready


def detect_node_not_ready(change: Change) -> list[Symptom]:
    """The node's Ready condition went False (KubeletNotReady) or Unknown (NodeStatusUnknown)."""
    ready = _node_not_ready(change.new)
    if ready is None or _node_not_ready(change.old) is not None:
        return []
    reason = text(ready.get("reason")) or AlertKind.NODE_NOT_READY.value
    since = moment_of(ready.get("lastTransitionTime"))
    return [Symptom(reason, text(ready.get("message")), since=since, since_exact=since is not None)]


def not_ready_now(change: Change) -> bool:
    return _node_not_ready(change.new) is not None


def _pressures(node: KubeObject | None) -> dict[str, dict[str, Any]]:
    if node is None:
        return {}
    found = {}
    for kind in PRESSURES:
        item = condition(node, kind)
        if item is not None and item.get("status") == "True":
            found[kind] = item
    return found


def detect_node_pressure(change: Change) -> list[Symptom]:
    """MemoryPressure, DiskPressure or PIDPressure turned True (one more joining is new too)."""
    now = _pressures(change.new)
    if not now or set(now) <= set(_pressures(change.old)):
        return []
    times = [moment for item in now.values() if (moment := moment_of(item.get("lastTransitionTime")))]
    messages = [text(item.get("message")) for item in now.values() if text(item.get("message"))]
    return [
        Symptom(
            ", ".join(now),
            "; ".join(messages),
            since=min(times) if times else None,
            since_exact=bool(times),
            facts={"pressure": ", ".join(now)},
        )
    ]


def pressure_now(change: Change) -> bool:
    return bool(_pressures(change.new))


def _cordoned(node: KubeObject) -> bool:
    return as_dict(node.get("spec")).get("unschedulable") is True


def detect_node_unschedulable(change: Change) -> list[Symptom]:
    """Cordoned (``spec.unschedulable``): a level, alerted once it has lasted its threshold."""
    if not _cordoned(change.new):
        return []
    since = None
    taints = as_dict(change.new.get("spec")).get("taints")
    for taint in taints if isinstance(taints, list) else []:
        if isinstance(taint, dict) and taint.get("key") == UNSCHEDULABLE_TAINT:
            since = moment_of(taint.get("timeAdded"))
    return [
        Symptom(
            "Unschedulable",
            "The node is cordoned: no new pods are scheduled on it.",
            since=since,
            since_exact=since is not None,
        )
    ]


def cordoned_now(change: Change) -> bool:
    return _cordoned(change.new)


def healthy(change: Change) -> bool:
    """Ready=True (a node without a Ready condition is not healthy)."""
    ready = condition(change.new, "Ready")
    return ready is not None and ready.get("status") == "True"
