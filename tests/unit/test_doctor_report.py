"""The checklist `opsbot check-config` prints: verdicts from answers, rendering, exit status."""

from __future__ import annotations

from opsbot.doctor.report import Check, Section, exit_code, permission_checks, render, scope_checks
from opsbot.doctor.requirements import SCOPE_FIX, WATCHES, Permission, ScopeNeed

NEEDS = (
    ScopeNeed("chat:write", "replies"),
    ScopeNeed("commands", "the /opsbot slash command"),
    ScopeNeed("channels:history", "finding alerts already posted", "warning"),
)


def test_all_scopes_granted_is_one_tick() -> None:
    checks = scope_checks(frozenset({"chat:write", "commands", "channels:history", "extra:scope"}), NEEDS)
    assert checks == [
        Check("ok", "bot scopes: all 3 needed are granted (chat:write, commands, channels:history)")
    ]


def test_each_missing_scope_is_its_own_line_with_the_fix() -> None:
    checks = scope_checks(frozenset({"commands"}), NEEDS)
    assert [c.status for c in checks] == ["ok", "fail", "warn"]
    assert checks[1].text == "bot scope chat:write is missing: needed for replies"
    assert (
        checks[1].fix == SCOPE_FIX and "reinstall the app" in SCOPE_FIX and "OAuth & Permissions" in SCOPE_FIX
    )


def test_allowed_permissions_are_summed_up_per_scope_and_refusals_listed() -> None:
    answers = [
        (Permission("list", "pods", namespace="web", needed_by=(WATCHES,)), True),
        (Permission("watch", "pods", namespace="web", needed_by=(WATCHES,)), True),
        (Permission("patch", "deployments", "apps", "scale", namespace="web", needed_by=("scale",)), False),
        (Permission("list", "nodes", cluster_scoped=True, severity="warning", needed_by=("nodes",)), False),
        (Permission("watch", "nodes", cluster_scoped=True, severity="warning", needed_by=(WATCHES,)), False),
    ]
    checks = permission_checks(answers)
    assert [(c.status, c.text) for c in checks] == [
        ("ok", "namespace web: 2 permissions granted: pods list/watch"),
        ("fail", "namespace web: 1 permission missing: patch deployments/scale (apps) for scale"),
        ("warn", f"cluster-scoped: 2 permissions missing: list/watch nodes for nodes, {WATCHES}"),
    ]
    assert '{apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["patch"]}' in checks[1].fix
    assert "manifests/components/operate/" in checks[1].fix
    assert 'verbs: ["list", "watch"]' in checks[2].fix


def test_everything_missing_in_one_namespace_is_one_line_with_one_fix() -> None:
    answers = [
        (Permission("list", "pods", namespace="web", needed_by=(WATCHES, "pods")), False),
        (Permission("watch", "pods", namespace="web", needed_by=(WATCHES,)), False),
        (Permission("get", "pods", "", "log", namespace="web", severity="warning", needed_by=("x",)), False),
        (Permission("patch", "deployments", "apps", "scale", namespace="web", needed_by=("scale",)), False),
        (Permission("list", "events", namespace="web", needed_by=("events",)), True),
        (Permission("list", "pods", namespace="db", needed_by=("pods",)), False),
    ]
    checks = permission_checks(answers)
    assert [(c.status, c.text) for c in checks] == [
        ("ok", "namespace web: 1 permission granted: events list"),
        (
            "fail",
            f"namespace web: 4 permissions missing: list/watch pods for {WATCHES}, pods; "
            "get pods/log for x (optional); patch deployments/scale (apps) for scale",
        ),
        ("fail", "namespace db: 1 permission missing: list pods for pods"),
    ]
    fix = checks[1].fix
    # The reads go into the base Role, the write into the operate component: one fix says both.
    assert fix.startswith(
        'add {apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"]}, '
        '{apiGroups: [""], resources: ["pods/log"], verbs: ["get"]} '
        "to opsbot's Role in namespace web (manifests/base/role.yaml;"
    )
    assert (
        '; and grant {apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["patch"]} '
        "with the Role opsbot-operate in namespace web: enable manifests/components/operate/"
    ) in fix


def sections() -> list[Section]:
    config = Section("Config", [Check("ok", "config.yaml: valid")])
    cluster = Section(
        "Cluster prod",
        [
            Check("warn", "may not list nodes (cluster-scoped)", "enable the component"),
            Check("info", "alerts off"),
        ],
    )
    return [config, cluster]


def test_warnings_and_notes_exit_0_and_a_failure_exits_2() -> None:
    assert exit_code(sections()) == 0
    broken = sections()
    broken[1].add("fail", "may not list pods in namespace web", "add the rule")
    assert exit_code(broken) == 2


def test_render_groups_lines_and_puts_the_fix_under_each_problem() -> None:
    text = render(sections(), encoding="utf-8")
    assert text.splitlines() == [
        "Config",
        "  ✓ config.yaml: valid",
        "",
        "Cluster prod",
        "  ! may not list nodes (cluster-scoped)",
        "      fix: enable the component",
        "  · alerts off",
        "",
        "all checks passed, 1 warning",
    ]


def test_render_falls_back_to_ascii_when_the_output_cannot_carry_the_marks() -> None:
    failing = [
        Section(
            "Slack",
            [Check("fail", "SLACK_APP_TOKEN was rejected", "Basic Information → App-Level Tokens (xapp-…)")],
        )
    ]
    text = render(failing, encoding="ascii")
    assert "  [x] SLACK_APP_TOKEN was rejected" in text
    assert "fix: Basic Information -> App-Level Tokens (xapp-...)" in text
    assert text.endswith("1 check failed\n")
    text.encode("ascii")  # nothing left that would crash a print
