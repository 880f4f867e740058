"""The command registry: every table that used to be written by hand derives from the specs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsbot.approvals.cards import CONFIRM_ACTION, approval_card
from opsbot.approvals.machine import Approval
from opsbot.commands.catalog import build_registry, command_specs
from opsbot.commands.registry import Registry
from opsbot.commands.spec import CommandSpec, Invocation
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Reply
from opsbot.policy.settings import BUILTIN_ROLES, Group

REGISTRY = build_registry()


def test_every_catalog_module_is_discovered() -> None:
    names = {spec.name for spec in REGISTRY.specs()}
    assert names == {
        "help", "pods", "logs", "describe", "events", "deployments", "nodes", "status",
        "scale", "restart", "incidents", "mutes", "unmute", "audit", "silence", "silences", "unsilence",
        "use", "context", "hello", "apps", "diff", "promote", "rollback", "history",
    }  # fmt: skip


def test_policy_groups_come_from_the_specs() -> None:
    groups = REGISTRY.verb_groups()
    assert groups.write == {"scale", "restart", "unmute", "silence", "unsilence", "promote", "rollback"}
    assert groups.admin == {"audit", "use-for"}  # `use … for @someone`: a verb of its own
    assert "pods" in groups.read and "help" in groups.read
    assert groups.unscoped == {"help", "incidents", "mutes", "unmute", "audit", "silence", "silences", "unsilence"}


def test_built_in_roles_name_groups_not_commands() -> None:
    verbs = {verb for role in BUILTIN_ROLES.values() for verb in role.verbs}
    assert verbs == {"read", "write", "*"}


def test_every_mutating_command_plans_and_executes_and_is_in_the_write_group() -> None:
    mutating = [spec for spec in REGISTRY.specs() if spec.mutating]
    assert {spec.name for spec in mutating} == {"scale", "restart", "promote", "rollback"}
    for spec in mutating:
        assert spec.group is Group.WRITE
        assert REGISTRY.executor(spec.name) is spec.execute


def test_an_unknown_action_has_no_executor() -> None:
    with pytest.raises(ValueError, match="unknown action 'pods'"):
        REGISTRY.executor("pods")


def test_a_read_command_cannot_declare_an_executor() -> None:
    def handler(invocation: Invocation, ctx: object) -> Reply:
        return Reply("x")

    with pytest.raises(ValueError, match="read group"):
        CommandSpec("peek", "s", "peek", handler, execute=lambda plan, ctx: "")


def test_a_command_word_is_registered_once() -> None:
    pods = REGISTRY.find("pods")
    assert pods is not None
    with pytest.raises(ValueError, match="registered twice"):
        Registry([*command_specs(), pods])


@pytest.mark.parametrize(("replicas", "dangerous"), [(0, True), (2, False)])
def test_scaling_to_zero_is_flagged_on_the_card(replicas: int, dangerous: bool) -> None:
    spec = REGISTRY.find("scale")
    assert spec is not None and spec.dangerous is not None
    plan = ActionPlan("scale", "prod", "web", "deployment", "api", (), {"replicas": replicas, "from": 3})
    assert spec.dangerous(plan) is dangerous
    flagged = ActionPlan(**{**plan.__dict__, "dangerous": spec.dangerous(plan)})
    now = datetime(2026, 12, 3, tzinfo=UTC)
    card = approval_card(Approval("a1", flagged, "U1", "C1", None, now, now))
    confirm = next(button for button in card.buttons if button.action_id == CONFIRM_ACTION)
    assert confirm.style == ("danger" if dangerous else "primary")
