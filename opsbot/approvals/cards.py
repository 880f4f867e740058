"""How an approval looks, as a renderer-neutral Reply (pure)."""

from __future__ import annotations

from opsbot.approvals.machine import Approval, Status
from opsbot.commands.results import Button, Fields, Reply, Text, Tone

CONFIRM_ACTION = "opsbot:approval:confirm"
CANCEL_ACTION = "opsbot:approval:cancel"

_TONES: dict[Status, Tone] = {
    Status.PENDING: "warning",
    Status.EXECUTING: "info",
    Status.SUCCEEDED: "success",
    Status.FAILED: "error",
    Status.CANCELLED: "info",
    Status.EXPIRED: "info",
}

_TITLES = {
    Status.PENDING: "Confirm: {summary}",
    Status.EXECUTING: "Running: {summary}",
    Status.SUCCEEDED: "Done: {summary}",
    Status.FAILED: "Failed: {summary}",
    Status.CANCELLED: "Cancelled: {summary}",
    Status.EXPIRED: "Expired: {summary}",
}


def _stamp(moment_iso: str) -> str:
    return moment_iso.replace("+00:00", "Z")


def approval_card(approval: Approval) -> Reply:
    plan = approval.plan
    pairs = (
        ("Action", f"{plan.verb} `{plan.target}`"),
        ("Where", f"cluster `{plan.cluster}` · namespace `{plan.namespace}`"),
        ("Requested by", f"<@{approval.requester}>"),
        (
            "Expires" if approval.status is Status.PENDING else "Requested",
            _stamp(
                (approval.expires_at if approval.status is Status.PENDING else approval.created_at).isoformat(
                    timespec="seconds"
                )
            ),
        ),
    )
    changes = "\n".join(f"• {change}" for change in plan.changes)
    parts: list[Text | Fields] = [Text(f"*What will change*\n{changes}"), Fields(pairs)]
    for step in approval.history:
        who = f" by <@{step.user}>" if step.user else ""
        parts.append(
            Text(f"_{step.what.capitalize()}{who} at {_stamp(step.at.isoformat(timespec='seconds'))}_")
        )
    if approval.result:
        parts.append(Text(approval.result))
    buttons: tuple[Button, ...] = ()
    if approval.status is Status.PENDING:
        buttons = (
            Button(
                "Confirm",
                CONFIRM_ACTION,
                approval.id,
                style="danger" if plan.verb == "scale" and plan.params.get("replicas") == 0 else "primary",
            ),
            Button("Cancel", CANCEL_ACTION, approval.id),
        )
    return Reply(
        _TITLES[approval.status].format(summary=f"{plan.verb} {plan.target}"),
        tuple(parts),
        tone=_TONES[approval.status],
        buttons=buttons,
    )
