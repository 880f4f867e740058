"""How an approval looks, as a renderer-neutral Reply (pure).

A self-confirm request shows Confirm / Cancel (for its requester). A request that
needs a second person shows how many approvals it has ("Approvals: 1 of 2 (by …
at …)") and Approve / Reject (for approvers) plus Cancel (for its requester).
"""

from __future__ import annotations

from opsbot.approvals.machine import Approval, Status, Step, stamp
from opsbot.core.reply import (
    Button,
    Emphasis,
    Fields,
    Mention,
    Mono,
    Reply,
    Strong,
    Text,
    Tone,
    bullets,
    where,
)

CONFIRM_ACTION = "opsbot:approval:confirm"
CANCEL_ACTION = "opsbot:approval:cancel"
APPROVE_ACTION = "opsbot:approval:approve"
REJECT_ACTION = "opsbot:approval:reject"

_TONES: dict[Status, Tone] = {
    Status.PENDING: "warning",
    Status.EXECUTING: "info",
    Status.SUCCEEDED: "success",
    Status.FAILED: "error",
    Status.CANCELLED: "info",
    Status.EXPIRED: "info",
    Status.REJECTED: "info",
}

_TITLES = {
    Status.PENDING: "Confirm: {summary}",
    Status.EXECUTING: "Running: {summary}",
    Status.SUCCEEDED: "Done: {summary}",
    Status.FAILED: "Failed: {summary}",
    Status.CANCELLED: "Cancelled: {summary}",
    Status.EXPIRED: "Expired: {summary}",
    Status.REJECTED: "Rejected: {summary}",
}
_CHANGES_HEADING = {
    Status.PENDING: "What will change",
    Status.EXECUTING: "What is changing",
    Status.SUCCEEDED: "What changed",
    Status.FAILED: "What was to change",
    Status.CANCELLED: "What would have changed",
    Status.EXPIRED: "What would have changed",
    Status.REJECTED: "What would have changed",
}
_APPROVAL_TITLE = "Approval needed: {summary}"


def approvals_line(approval: Approval) -> Text:
    """``Approvals: 1 of 2 (by @U1 at …)``: who approved so far, and when."""
    counted: dict[str, Step] = {}
    for step in approval.approvals:
        if step.user and step.user not in counted:
            counted[step.user] = step
    line = f"Approvals: {len(counted)} of {approval.policy.approvals_required}"
    if counted:
        by = Text.join(", ", (Text(Mention(user), " at ", stamp(step.at)) for user, step in counted.items()))
        return Text(line, " (by ", by, ")")
    return Text(line, " (anyone but ", Mention(approval.requester), " may approve)")


def approval_card(approval: Approval) -> Reply:
    plan = approval.plan
    pending = approval.status is Status.PENDING
    second_person = approval.policy.second_person_required
    pairs = (
        ("Action", Text(f"{plan.verb} ", Mono(plan.target))),
        ("Where", where(plan.cluster, plan.namespace)),
        *((("Target from", plan.origin),) if plan.origin else ()),
        ("Requested by", Text(Mention(approval.requester))),
        (
            "Expires" if pending else "Requested",
            Text(stamp(approval.expires_at if pending else approval.created_at)),
        ),
    )
    changes = Text(Strong(_CHANGES_HEADING[approval.status]), "\n", bullets(plan.change_lines))
    parts: list[Text | Fields] = [changes, Fields(pairs)]
    if second_person:
        parts.append(approvals_line(approval))
    for step in approval.history:
        who = Text(" by ", Mention(step.user)) if step.user else Text()
        parts.append(Text(Emphasis(step.what.capitalize(), who, " at ", stamp(step.at))))
    # A success says what changed above; repeating the executor's sentence adds nothing.
    if approval.result and approval.status is not Status.SUCCEEDED:
        parts.append(Text(approval.result))
    dangerous = plan.dangerous
    buttons: tuple[Button, ...] = ()
    if pending and second_person:
        buttons = (
            Button("Approve", APPROVE_ACTION, approval.id, style="danger" if dangerous else "primary"),
            Button("Reject", REJECT_ACTION, approval.id),
            Button("Cancel", CANCEL_ACTION, approval.id),
        )
    elif pending:
        buttons = (
            Button("Confirm", CONFIRM_ACTION, approval.id, style="danger" if dangerous else "primary"),
            Button("Cancel", CANCEL_ACTION, approval.id),
        )
    title = _APPROVAL_TITLE if pending and second_person else _TITLES[approval.status]
    return Reply(
        title.format(summary=f"{plan.verb} {plan.target}"),
        tuple(parts),
        tone=_TONES[approval.status],
        buttons=buttons,
    )
