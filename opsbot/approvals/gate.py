"""Policy → approval rules for one plan (pure). Shared by every front end (Slack,
console), so a request needs the same confirmations wherever it was made."""

from __future__ import annotations

from opsbot.approvals.machine import Approval, ApprovalPolicy
from opsbot.core.plan import ActionPlan
from opsbot.policy import Allowed, Policy, Subject, Target


def approval_policy_for(policy: Policy, plan: ActionPlan) -> ApprovalPolicy:
    rule = policy.approval_rule(plan.cluster, plan.namespace)
    return ApprovalPolicy(requester_may_confirm=rule.self_confirm, approvals_required=rule.approvals_required)


def may_approve(policy: Policy, approval: Approval | None, subject: Subject) -> tuple[bool, str]:
    """The policy's verdict on `subject` approving; the machine checks who asked and who already did."""
    if approval is None:
        return False, "unknown request"
    plan = approval.plan
    requirement = policy.approval_rule(plan.cluster, plan.namespace)
    decision = policy.may_approve(subject, requirement, Target(plan.verb, plan.cluster, plan.namespace))
    return (True, "") if isinstance(decision, Allowed) else (False, decision.reason)
