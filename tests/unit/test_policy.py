"""The permission policy: roles × bindings × channel rules, approvals, rate limits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from opsbot.policy.decision import (
    DEFAULT_REQUIREMENT,
    Allowed,
    ApprovalRequirement,
    Denied,
    Policy,
    Subject,
    Target,
    VerbGroups,
)
from opsbot.policy.ratelimit import RateLimiter, rate_limited_message
from opsbot.policy.settings import BUILTIN_ROLES, PolicySettings, RateLimitSettings

READ = frozenset(
    {"help", "pods", "logs", "describe", "events", "deployments", "nodes", "status", "incidents", "mutes"}
)
WRITE = frozenset({"scale", "restart", "unmute"})
ADMIN = frozenset({"audit"})

ALICE = "U0ALICE01"  # viewer (user binding)
BOB = "U0BOB0001"  # operator via the sre user group
CAROL = "W0CAROL01"  # admin
DAVE = "U0DAVE001"  # web-deployer (custom role)
ERIN = "U0ERIN001"  # nobody
SRE = "S0SRE0001"
OPS = "C0OPS0001"  # bound to viewer for everyone
READONLY = "C0READ001"  # channel rule: read verbs only
WEBONLY = "C0WEB0001"  # channel rule: namespaces web-* only
DM = "D0DM00001"

CONFIG: dict[str, Any] = {
    "roles": {"web-deployer": {"verbs": ["read", "scale"], "clusters": ["main"], "namespaces": ["web-*"]}},
    "bindings": [
        {"role": "viewer", "users": [ALICE], "channels": [OPS]},
        {"role": "operator", "usergroups": [SRE]},
        {"role": "admin", "users": [CAROL]},
        {"role": "web-deployer", "users": [DAVE]},
    ],
    "channels": {READONLY: {"allow_verbs": ["read"]}, WEBONLY: {"namespaces": ["web-*"]}},
}


def make_policy(data: dict[str, Any] | None = None) -> Policy:
    verbs = VerbGroups(READ, WRITE, ADMIN, unscoped=frozenset({"help"}))
    return Policy(PolicySettings.model_validate(data or {}), verbs)


def subject(user: str, channel: str = DM, groups: frozenset[str] = frozenset()) -> Subject:
    if user == BOB:
        groups = groups | {SRE}
    return Subject(user, groups, channel)


POLICY = make_policy(CONFIG)


# permission matrix -----------------------------------------------------------

WEB, PROD, ALL_NS = "web-api", "prod", None

MATRIX = [
    # user, channel, verb, cluster, namespace, expected role or None (denied)
    (ALICE, DM, "pods", "main", WEB, "viewer"),
    (ALICE, DM, "pods", "main", ALL_NS, "viewer"),
    (ALICE, DM, "nodes", "other", ALL_NS, "viewer"),
    (ALICE, DM, "scale", "main", WEB, None),
    (ALICE, DM, "unmute", "main", WEB, None),
    (BOB, DM, "scale", "main", PROD, "operator"),
    (BOB, DM, "restart", "other", WEB, "operator"),
    (BOB, DM, "unmute", "main", None, "operator"),
    (BOB, DM, "audit", "main", None, None),
    (BOB, READONLY, "pods", "main", PROD, "operator"),
    (BOB, READONLY, "scale", "main", PROD, None),
    (BOB, WEBONLY, "scale", "main", WEB, "operator"),
    (BOB, WEBONLY, "scale", "main", PROD, None),
    (BOB, WEBONLY, "pods", "main", ALL_NS, None),
    (BOB, WEBONLY, "help", "main", ALL_NS, "operator"),
    (CAROL, DM, "audit", "main", None, "admin"),
    (CAROL, DM, "some-future-verb", "x", PROD, "admin"),
    (CAROL, READONLY, "scale", "main", WEB, None),
    (CAROL, READONLY, "logs", "main", WEB, "admin"),
    (DAVE, DM, "scale", "main", WEB, "web-deployer"),
    (DAVE, DM, "scale", "main", PROD, None),
    (DAVE, DM, "scale", "other", WEB, None),
    (DAVE, DM, "pods", "main", ALL_NS, None),
    (DAVE, DM, "restart", "main", WEB, None),
    (DAVE, DM, "help", "other", ALL_NS, "web-deployer"),
    (ERIN, DM, "pods", "main", WEB, None),
    (ERIN, DM, "help", "main", None, None),
    (ERIN, OPS, "pods", "main", WEB, "viewer"),
    (ERIN, OPS, "scale", "main", WEB, None),
    (DAVE, OPS, "pods", "main", ALL_NS, "viewer"),  # -A via the channel's viewer role
]


@pytest.mark.parametrize(("user", "channel", "verb", "cluster", "namespace", "expected"), MATRIX)
def test_permission_matrix(
    user: str, channel: str, verb: str, cluster: str, namespace: str | None, expected: str | None
) -> None:
    decision = POLICY.decide(subject(user, channel), Target(verb, cluster, namespace))
    if expected is None:
        assert isinstance(decision, Denied), decision
        assert not decision.allowed
        assert f"`{verb}`" in decision.reason
    else:
        assert decision == Allowed(expected, decision.via) if isinstance(decision, Allowed) else False, (
            decision
        )
        assert decision.allowed


@pytest.mark.parametrize("role", sorted(BUILTIN_ROLES))
@pytest.mark.parametrize("verb", sorted(READ | WRITE | {"audit"}))
@pytest.mark.parametrize("namespace", ["web", None])
def test_builtin_roles_everywhere(role: str, verb: str, namespace: str | None) -> None:
    policy = make_policy({"bindings": [{"role": role, "users": [ALICE]}]})
    decision = policy.decide(subject(ALICE), Target(verb, "any-cluster", namespace))
    grants = {
        "viewer": READ,
        "operator": READ | {"scale", "restart", "unmute"},
        "admin": READ | WRITE | {"audit"},
    }[role]
    assert decision.allowed == (verb in grants)


# secure defaults ---------------------------------------------------------------


def test_default_policy_allows_reads_for_everyone_in_channels_and_dms() -> None:
    policy = make_policy()
    for channel in (OPS, DM, "G0PRIV001"):
        for verb in READ:
            decision = policy.decide(subject(ERIN, channel), Target(verb, "main", None))
            assert decision == Allowed("viewer", decision.via) if isinstance(decision, Allowed) else False


@pytest.mark.parametrize("verb", sorted(WRITE))
def test_default_policy_denies_writes_and_says_what_to_ask_for(verb: str) -> None:
    decision = make_policy().decide(subject(CAROL), Target(verb, "main", "web"))
    assert decision == Denied(
        f"no role grants `{verb}`: ask an admin to bind you to operator (policy.bindings)"
    )


def test_default_policy_denies_admin_verbs_naming_admin() -> None:
    decision = make_policy().decide(subject(CAROL), Target("audit", "main", None))
    assert decision == Denied("no role grants `audit`: ask an admin to bind you to admin (policy.bindings)")


def test_with_bindings_unbound_users_get_nothing_and_are_told_how_to_get_in() -> None:
    decision = POLICY.decide(subject(ERIN, DM), Target("pods", "main", "web"))
    assert isinstance(decision, Denied)
    assert "no opsbot role" in decision.reason
    assert ERIN in decision.reason and DM in decision.reason and "viewer" in decision.reason
    assert "policy.bindings" in decision.reason


def test_denial_names_the_roles_held_and_what_is_missing() -> None:
    decision = POLICY.decide(subject(ALICE, OPS), Target("scale", "main", "prod"))
    assert isinstance(decision, Denied)
    assert decision.reason.startswith(
        f"your roles (viewer via user {ALICE}) do not allow `scale` in namespace `prod` on cluster `main`"
    )
    assert "operator" in decision.reason


def test_channel_grant_is_named_as_such() -> None:
    decision = POLICY.decide(subject(ERIN, OPS), Target("scale", "main", "prod"))
    assert isinstance(decision, Denied)
    assert decision.reason.startswith(
        f"your roles (viewer via channel {OPS}) do not allow `scale` in namespace `prod` on cluster `main`"
    )


def test_denial_names_the_missing_namespace_and_cluster() -> None:
    ns = POLICY.decide(subject(DAVE), Target("scale", "main", "prod"))
    assert isinstance(ns, Denied) and "web-deployer allows it only in namespaces web-*" in ns.reason
    cluster = POLICY.decide(subject(DAVE), Target("scale", "other", "web-a"))
    assert isinstance(cluster, Denied) and "only on clusters main" in cluster.reason
    all_ns = POLICY.decide(subject(DAVE), Target("pods", "main", None))
    assert isinstance(all_ns, Denied)
    assert "across all namespaces" in all_ns.reason and "namespaces ['*']" in all_ns.reason


# channel narrowing ---------------------------------------------------------------


def test_channel_rule_narrows_even_an_admin_and_names_the_rule() -> None:
    decision = POLICY.decide(subject(CAROL, READONLY), Target("scale", "main", "web"))
    assert isinstance(decision, Denied)
    assert f"channel {READONLY}" in decision.reason
    assert f"policy.channels.{READONLY}.allow_verbs" in decision.reason


def test_channel_namespace_rule_names_the_namespace() -> None:
    decision = POLICY.decide(subject(CAROL, WEBONLY), Target("restart", "main", "prod"))
    assert isinstance(decision, Denied)
    assert "`prod`" in decision.reason and f"policy.channels.{WEBONLY}.namespaces" in decision.reason


def test_channel_rule_never_widens() -> None:
    policy = make_policy({"channels": {READONLY: {"allow_verbs": ["*"]}}})
    assert not policy.decide(subject(ERIN, READONLY), Target("scale", "main", "web")).allowed


def test_channel_rule_applies_under_the_default_policy_too() -> None:
    policy = make_policy({"channels": {WEBONLY: {"namespaces": ["web-*"]}}})
    assert policy.decide(subject(ERIN, WEBONLY), Target("pods", "main", "web-a")).allowed
    assert not policy.decide(subject(ERIN, WEBONLY), Target("pods", "main", "db")).allowed


# usergroups ---------------------------------------------------------------------


def test_usergroup_binding_grants_to_members_only() -> None:
    member = Subject(ERIN, frozenset({"S0OTHER01", SRE}), DM)
    decision = POLICY.decide(member, Target("restart", "main", "web"))
    assert decision == Allowed("operator", f"usergroup {SRE}")
    assert not POLICY.decide(
        Subject(ERIN, frozenset({"S0OTHER01"}), DM), Target("restart", "main", "w")
    ).allowed


def test_grants_list_every_role_once_in_config_order() -> None:
    policy = make_policy(
        {
            "bindings": [
                {"role": "viewer", "users": [BOB], "channels": [OPS]},
                {"role": "operator", "usergroups": [SRE], "channels": [OPS]},
                {"role": "viewer", "usergroups": [SRE]},
            ]
        }
    )
    grants = policy.grants(subject(BOB, OPS))
    assert [(g.role, g.via) for g in grants] == [("viewer", f"user {BOB}"), ("operator", f"usergroup {SRE}")]


# settings validation ---------------------------------------------------------------


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        PolicySettings.model_validate(data)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"bindings": [{"role": "viewer", "users": ["alice"]}]}, "bindings.0.users"),
        ({"bindings": [{"role": "viewer", "users": ["@alice"]}]}, "bindings.0.users"),
        ({"bindings": [{"role": "viewer", "users": ["Alice Smith"]}]}, "bindings.0.users"),
        ({"bindings": [{"role": "viewer", "users": ["u0alice01"]}]}, "bindings.0.users"),
        ({"bindings": [{"role": "viewer", "usergroups": ["@sre"]}]}, "bindings.0.usergroups"),
        ({"bindings": [{"role": "viewer", "usergroups": [ALICE]}]}, "bindings.0.usergroups"),
        ({"bindings": [{"role": "viewer", "channels": ["#ops"]}]}, "bindings.0.channels"),
        ({"bindings": [{"role": "viewer", "channels": ["ops"]}]}, "bindings.0.channels"),
        ({"channels": {"#ops": {"allow_verbs": ["read"]}}}, "channels"),
    ],
)
def test_display_name_like_ids_are_rejected_with_their_path(data: dict[str, Any], path: str) -> None:
    found = errors(data)
    assert [p for p, _ in found] == [path]
    assert "not a Slack" in found[0][1] and "display names" in found[0][1]


def test_unknown_roles_and_empty_bindings_are_reported() -> None:
    found = errors(
        {
            "bindings": [{"role": "viewr", "users": [ALICE]}, {"role": "admin"}],
            "approvals": [{"self_confirm": False, "approvers_role": "approverz"}],
        }
    )
    paths = dict(found)
    assert "bindings.0.role: unknown role 'viewr'" in paths["bindings"]
    assert "bindings.1: binds 'admin' to nobody" in paths["bindings"]
    assert "approvals.0.approvers_role: unknown role 'approverz'" in paths["approvals"]


def test_custom_roles_are_known_to_bindings_and_builtins_cannot_be_redefined() -> None:
    PolicySettings.model_validate(
        {"roles": {"dev": {"verbs": ["pods"]}}, "bindings": [{"role": "dev", "users": [ALICE]}]}
    )
    assert errors({"roles": {"admin": {"verbs": ["pods"]}}})[0][0] == "roles"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"roles": {"dev": {"verbs": ["Scale"]}}}, "roles.dev.verbs"),
        ({"roles": {"dev": {"verbs": ["pods"], "namespaces": []}}}, "roles.dev.namespaces"),
        ({"roles": {"dev": {"verbs": ["pods"], "clusters": ["Main Cluster"]}}}, "roles.dev.clusters"),
        ({"roles": {"dev": {"verbs": ["pods"], "extra": 1}}}, "roles.dev.extra"),
        ({"approvals": [{"approvals_required": 2}]}, "approvals.0.approvals_required"),
        ({"approvals": [{"approvers_role": "admin"}]}, "approvals.0.approvers_role"),
        ({"approvals": [{"self_confirm": False, "approvals_required": 0}]}, "approvals.0.approvals_required"),
        ({"rate_limit": {"burst": 0}}, "rate_limit.burst"),
    ],
)
def test_settings_errors_name_the_path(data: dict[str, Any], path: str) -> None:
    assert path in [p for p, _ in errors(data)]


def test_settings_are_frozen() -> None:
    settings_ = PolicySettings()
    with pytest.raises(ValidationError):
        settings_.bindings = []


def test_unknown_verbs_are_reported_against_the_command_table() -> None:
    policy = make_policy(
        {"roles": {"dev": {"verbs": ["pods", "scael"]}}, "channels": {OPS: {"allow_verbs": ["lgos"]}}}
    )
    assert policy.unknown_verbs() == [
        "policy.roles.dev.verbs: 'scael' is not a command",
        f"policy.channels.{OPS}.allow_verbs: 'lgos' is not a command",
    ]
    assert POLICY.unknown_verbs() == []


# approvals ---------------------------------------------------------------------

APPROVALS: dict[str, Any] = {
    **CONFIG,
    "roles": {
        **CONFIG["roles"],
        "prod-approver": {"verbs": [], "clusters": ["main"], "namespaces": ["prod*"]},
    },
    "bindings": [*CONFIG["bindings"], {"role": "prod-approver", "users": [ERIN]}],
    "approvals": [
        {
            "clusters": ["main"],
            "namespaces": ["prod*"],
            "self_confirm": False,
            "approvals_required": 2,
            "approvers_role": "prod-approver",
        },
        {"clusters": ["main"], "self_confirm": False},
        {"clusters": ["dev-*"]},
    ],
}


@pytest.mark.parametrize(
    ("cluster", "namespace", "expected"),
    [
        ("main", "prod", ApprovalRequirement(False, 2, "prod-approver", "policy.approvals.0")),
        ("main", "prod-eu", ApprovalRequirement(False, 2, "prod-approver", "policy.approvals.0")),
        ("main", "web", ApprovalRequirement(False, 1, None, "policy.approvals.1")),
        ("main", None, ApprovalRequirement(False, 2, "prod-approver", "policy.approvals.0")),
        ("dev-1", "prod", ApprovalRequirement(True, 1, None, "policy.approvals.2")),
        ("other", "prod", DEFAULT_REQUIREMENT),
    ],
)
def test_approval_rule_first_match_and_strictest_for_all_namespaces(
    cluster: str, namespace: str | None, expected: ApprovalRequirement
) -> None:
    assert make_policy(APPROVALS).approval_rule(cluster, namespace) == expected


def test_default_requirement_is_self_confirm() -> None:
    assert make_policy().approval_rule("main", "x") == ApprovalRequirement(True, 1, None)


def test_may_approve_with_an_approvers_role() -> None:
    policy = make_policy(APPROVALS)
    target = Target("scale", "main", "prod")
    requirement = policy.approval_rule("main", "prod")
    assert policy.may_approve(subject(ERIN), requirement, target) == Allowed("prod-approver", f"user {ERIN}")
    # Operators may run scale there but are not approvers.
    denied = policy.may_approve(subject(BOB), requirement, target)
    assert isinstance(denied, Denied)
    assert "prod-approver" in denied.reason and "policy.approvals.0.approvers_role" in denied.reason
    assert f"operator via usergroup {SRE}" in denied.reason
    # The approvers role must also cover the target.
    elsewhere = policy.may_approve(subject(ERIN), requirement, Target("scale", "other", "prod"))
    assert isinstance(elsewhere, Denied) and "covers clusters main" in elsewhere.reason


def test_may_approve_without_an_approvers_role_needs_the_verb_there() -> None:
    policy = make_policy(APPROVALS)
    target = Target("restart", "main", "web")
    requirement = policy.approval_rule("main", "web")
    assert policy.may_approve(subject(BOB), requirement, target) == Allowed("operator", f"usergroup {SRE}")
    denied = policy.may_approve(subject(ALICE), requirement, target)
    assert isinstance(denied, Denied) and denied.reason.startswith(
        "you cannot approve this: your roles (viewer"
    )
    assert not policy.may_approve(subject(BOB, READONLY), requirement, target).allowed  # channel rule applies


def test_may_approve_does_not_exclude_the_requester() -> None:
    """Approver ≠ requester is the approval machine's job, not the policy's: same answer for anyone."""
    policy = make_policy(APPROVALS)
    requirement = policy.approval_rule("main", "web")
    assert policy.may_approve(subject(BOB), requirement, Target("scale", "main", "web")).allowed


def test_implicit_default_viewer_never_counts_as_an_approvers_role() -> None:
    policy = make_policy({"approvals": [{"self_confirm": False, "approvers_role": "viewer"}]})
    requirement = policy.approval_rule("main", "web")
    assert not policy.may_approve(subject(ERIN), requirement, Target("scale", "main", "web")).allowed


# rate limiting ---------------------------------------------------------------------


def test_rate_limiter_burst_then_refill() -> None:
    limiter = RateLimiter(RateLimitSettings(commands_per_minute=20, burst=5))  # one token per 3 s
    assert [limiter.allow(ALICE, 100.0) for _ in range(5)] == [None] * 5
    wait = limiter.allow(ALICE, 100.0)
    assert wait == pytest.approx(3.0)
    assert limiter.allow(ALICE, 101.5) == pytest.approx(1.5)  # refused attempts cost nothing
    assert limiter.allow(ALICE, 103.0) is None
    assert limiter.allow(ALICE, 103.0) == pytest.approx(3.0)
    assert limiter.allow(BOB, 103.0) is None  # per user


def test_rate_limiter_caps_at_burst_and_ignores_clock_going_back() -> None:
    limiter = RateLimiter(RateLimitSettings(commands_per_minute=60, burst=2))
    assert limiter.allow(ALICE, 0.0) is None
    assert limiter.allow(ALICE, 1000.0) is None
    assert limiter.allow(ALICE, 1000.0) is None
    assert limiter.allow(ALICE, 1000.0) == pytest.approx(1.0)
    assert limiter.allow(ALICE, 500.0) == pytest.approx(1.0)
    assert limiter.allow(ALICE, 1001.0) is None


def test_rate_limiter_forgets_idle_users_when_full() -> None:
    limiter = RateLimiter(RateLimitSettings(commands_per_minute=60, burst=1), max_users=3)
    for index, user in enumerate((ALICE, BOB, CAROL)):
        assert limiter.allow(user, float(index)) is None
    assert limiter.allow(DAVE, 2.5) is None  # ALICE (refilled at 1.0) and BOB (at 2.0) were pruned
    assert len(limiter) == 2
    assert limiter.allow(CAROL, 2.5) == pytest.approx(0.5)  # CAROL is still limited


@pytest.mark.parametrize(
    ("seconds", "fragment"),
    [(0.01, "in a second."), (1.0, "in a second."), (2.2, "in 3 seconds."), (150, "in about 3 minutes.")],
)
def test_rate_limited_message(seconds: float, fragment: str) -> None:
    message = rate_limited_message(seconds)
    assert message.endswith(fragment)
    assert "faster" in message


# properties -------------------------------------------------------------------------

ids = st.text("ABCDEF0123", min_size=6, max_size=8)
verbs = st.sampled_from(sorted(READ | WRITE | {"audit", "bogus", "read", "write", "*"}))
namespaces = st.one_of(st.none(), st.sampled_from(["web", "web-a", "prod", "kube-system", "", "*", "[x"]))
clusters = st.sampled_from(["main", "other", "dev-1", ""])
subjects = st.builds(
    Subject,
    user_id=ids.map(lambda s: "U" + s),
    usergroups=st.frozensets(ids.map(lambda s: "S" + s), max_size=3),
    channel_id=st.one_of(st.sampled_from([OPS, READONLY, WEBONLY, DM]), ids.map(lambda s: "C" + s)),
)
targets = st.builds(Target, verb=verbs, cluster=clusters, namespace=namespaces)
globs = st.lists(st.sampled_from(["*", "web-*", "prod", "main", "dev-?", "[!x]*"]), min_size=1, max_size=3)
roles = st.dictionaries(
    st.sampled_from(["dev", "ops", "approvers"]),
    st.fixed_dictionaries({"verbs": st.lists(verbs, max_size=3), "clusters": globs, "namespaces": globs}),
    max_size=3,
)
channel_rules = st.dictionaries(
    st.sampled_from([OPS, READONLY, WEBONLY]),
    st.fixed_dictionaries({}, optional={"allow_verbs": st.lists(verbs, max_size=3), "namespaces": globs}),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(roles=roles, channels=channel_rules, who=subjects, what=targets)
def test_empty_bindings_never_allow_writes(
    roles: dict[str, Any], channels: dict[str, Any], who: Subject, what: Target
) -> None:
    policy = make_policy({"roles": roles, "channels": channels})
    decision = policy.decide(who, what)
    if what.verb not in READ:
        assert isinstance(decision, Denied)
        assert decision.reason
    elif who.channel_id not in channels:
        assert decision.allowed


@settings(max_examples=300, deadline=None)
@given(
    roles=roles,
    channels=channel_rules,
    who=subjects,
    what=targets,
    picks=st.lists(
        st.tuples(st.sampled_from(["viewer", "operator", "admin", "dev"]), st.booleans()), max_size=4
    ),
)
def test_decisions_never_raise(
    roles: dict[str, Any], channels: dict[str, Any], who: Subject, what: Target, picks: list[tuple[str, bool]]
) -> None:
    roles = {**roles, "dev": roles.get("dev", {"verbs": ["read"]})}
    bindings = [
        {"role": role, "users": [who.user_id]} if mine else {"role": role, "users": ["U0SOMEONE"]}
        for role, mine in picks
    ]
    policy = make_policy({"roles": roles, "channels": channels, "bindings": bindings})
    decision = policy.decide(who, what)
    assert isinstance(decision, Allowed | Denied)
    if isinstance(decision, Denied):
        assert decision.reason
    requirement = policy.approval_rule(what.cluster, what.namespace)
    assert isinstance(policy.may_approve(who, requirement, what), Allowed | Denied)
    if picks and not any(mine for _, mine in picks):
        assert isinstance(decision, Denied)


@pytest.mark.parametrize("verb", ["read", "write", "*"])
def test_group_names_are_never_commands(verb: str) -> None:
    assert not POLICY.decide(subject(CAROL), Target(verb, "main", None)).allowed
    assert not make_policy().decide(subject(CAROL), Target(verb, "main", None)).allowed
