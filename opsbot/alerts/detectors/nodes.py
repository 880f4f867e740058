"""Node detector (NotReady) and node health.

A node without a Ready condition is neither NotReady nor healthy; its going
False/Unknown afterwards is reported. "Newly NotReady" means the old Ready was
anything but False/Unknown; False → Unknown is not a new finding.
"""

from __future__ import annotations

from typing import Any

from opsbot.alerts.detectors.readers import text
from opsbot.alerts.detectors.spec import Change, Symptom
from opsbot.alerts.findings import AlertKind
from opsbot.core.kubeobjects import condition
from opsbot.ports import KubeObject

NOT_READY_STATUSES = frozenset({"False", "Unknown"})


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
    return [Symptom(reason, text(ready.get("message")))]


def not_ready_now(change: Change) -> bool:
    return _node_not_ready(change.new) is not None


def healthy(change: Change) -> bool:
    """Ready=True (a node without a Ready condition is not healthy)."""
    ready = condition(change.new, "Ready")
    return ready is not None and ready.get("status") == "True"
