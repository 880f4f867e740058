"""Permissions: who may run which command where, how actions get approved, how fast people may ask.

    settings.py   ``policy:`` in the config (roles, bindings, channel and approval rules, rate limit)
    decision.py   the pure decision: Subject × Target → Allowed / Denied, approval requirements
    ratelimit.py  token buckets (per-user commands; the outbox paces channels with the same bucket)
    ids.py        what Slack user, user-group and channel ids look like

Every front end (Slack, console) and every feature (commands, approvals, alerts) decides
with this one policy.
"""

from opsbot.policy.decision import (
    Allowed,
    ApprovalRequirement,
    Decision,
    Denied,
    Policy,
    Subject,
    Target,
    VerbGroups,
)
from opsbot.policy.settings import BUILTIN_ROLES, PolicySettings, RoleSettings

__all__ = [
    "BUILTIN_ROLES",
    "Allowed",
    "ApprovalRequirement",
    "Decision",
    "Denied",
    "Policy",
    "PolicySettings",
    "RoleSettings",
    "Subject",
    "Target",
    "VerbGroups",
]
