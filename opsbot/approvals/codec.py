"""Approvals as JSON documents, so pending requests survive a restart of the bot."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from opsbot.approvals.machine import Approval, ApprovalPolicy, Status, Step
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import text_from_data, text_to_data


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def _step(data: dict[str, Any]) -> Step:
    return Step(data["what"], data.get("user"), datetime.fromisoformat(data["at"]))


def approval_to_dict(approval: Approval) -> dict[str, Any]:
    plan = {
        field.name: _plain(getattr(approval.plan, field.name))
        for field in dataclasses.fields(ActionPlan)
        if field.name != "changes"
    }
    plan["changes"] = [text_to_data(change) for change in approval.plan.change_lines]
    policy = approval.policy
    return {
        "id": approval.id,
        "plan": plan,
        "requester": approval.requester,
        "channel": approval.channel,
        "thread": approval.thread,
        "created_at": approval.created_at.isoformat(),
        "expires_at": approval.expires_at.isoformat(),
        "status": approval.status.value,
        "policy": {
            "requester_may_confirm": policy.requester_may_confirm,
            "approvals_required": policy.approvals_required,
            "approvers": sorted(policy.approvers) if policy.approvers is not None else None,
        },
        "history": [_plain(dataclasses.asdict(step)) for step in approval.history],
        "approvals": [_plain(dataclasses.asdict(step)) for step in approval.approvals],
        "result": approval.result,
        "card": approval.card,
        "response_url": approval.response_url,
        "revision": approval.revision,
    }


def approval_from_dict(data: dict[str, Any]) -> Approval:
    known = {field.name for field in dataclasses.fields(ActionPlan)}
    plan_data = {key: value for key, value in data["plan"].items() if key in known}
    changes = tuple(text_from_data(change) for change in plan_data.pop("changes", ()))
    plan = ActionPlan(
        **{key: value if key == "params" else _tuples(value) for key, value in plan_data.items()},
        changes=changes,
    )
    policy = data.get("policy") or {}
    approvers = policy.get("approvers")
    return Approval(
        id=data["id"],
        plan=plan,
        requester=data["requester"],
        channel=data["channel"],
        thread=data.get("thread", data.get("thread_ts")),
        created_at=datetime.fromisoformat(data["created_at"]),
        expires_at=datetime.fromisoformat(data["expires_at"]),
        status=Status(data["status"]),
        policy=ApprovalPolicy(
            requester_may_confirm=bool(policy.get("requester_may_confirm", True)),
            approvals_required=int(policy.get("approvals_required", 1)),
            approvers=frozenset(approvers) if approvers is not None else None,
        ),
        history=tuple(_step(step) for step in data.get("history", [])),
        approvals=tuple(_step(step) for step in data.get("approvals", [])),
        result=data.get("result", ""),
        card=data.get("card", data.get("card_ts")),
        response_url=data.get("response_url"),
        revision=int(data.get("revision", 0)),
    )
