"""A command, declared once: a frozen `CommandSpec` from which everything else derives.

The router parses with its grammar and checks its ``group`` against the policy (the
built-in roles grant groups, never lists of commands); ``help`` prints its usage,
examples and help text; a mutating command's ``plan`` says what will change and its
``execute`` runs the approved plan; ``kube`` lists the `KubePort` methods it calls, from
which the doctor's SelfSubjectAccessReviews and the manifests' RBAC test derive; and
``dangerous`` decides whether its approval card is flagged in red.

Command modules live in `opsbot.commands.catalog` and each exposes ``COMMANDS``: adding
a command is one new module there (spec, plan, execute), the client call it needs (a
`KubePort` method declaring its permission with `opsbot.ports.requires`), and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from opsbot.commands.views import ReleasesView
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Reply
from opsbot.policy.settings import Group
from opsbot.ports import KubePort

if TYPE_CHECKING:
    from opsbot.commands.context import CommandContext


@dataclass(frozen=True)
class Option:
    dest: str
    flags: tuple[str, ...]
    takes_value: bool = True
    metavar: str = ""
    help: str = ""
    words: tuple[str, ...] = ()
    """Plain words that mean this option too (``use ns web`` is ``use -n web``)."""


NAMESPACE = Option("namespace", ("-n", "--namespace"), metavar="NS", help="namespace")
ALL_NAMESPACES = Option(
    "all_namespaces", ("-A", "--all-namespaces"), takes_value=False, help="every namespace"
)
SELECTOR = Option("selector", ("-l", "--selector"), metavar="SEL", help="label selector")
CLUSTER = Option("cluster", ("--cluster",), metavar="NAME", help="cluster (default: channel's)")
HELP = Option("help", ("-h", "--help"), takes_value=False, help="show usage")

LIST_OPTIONS = (NAMESPACE, ALL_NAMESPACES, SELECTOR, CLUSTER)


def every_namespace(invocation: Invocation) -> bool:
    """`heavy` for list commands: a read across all namespaces."""
    return invocation.flag("all_namespaces")


def always(invocation: Invocation) -> bool:
    """`heavy` for commands that always read a whole cluster."""
    return True


ONE_OBJECT = (NAMESPACE, CLUSTER)


@dataclass(frozen=True)
class KubeUse:
    """A command calls `KubePort.<method>`; ``everywhere``: always cluster-scoped or across
    all namespaces (e.g. the pods on a node), whatever namespace the command was given."""

    method: str
    everywhere: bool = False


@dataclass(frozen=True)
class ActionContext:
    """What executing an approved plan gets: the cluster (as the requester, under
    impersonation), the time, who asked and approved and where (`origin`), and the
    release feature for `promote` / `rollback`."""

    kube: KubePort
    now: datetime
    origin: ActionOrigin | None = None
    releases: ReleasesView | None = None


@dataclass(frozen=True)
class ScopeViews:
    """What a `scope` hook may consult before the command runs (e.g. where the config
    says an app lives)."""

    releases: ReleasesView | None = None


@dataclass(frozen=True)
class NamedScope:
    """Where an invocation acts when its own arguments name it (`promote app to prod`):
    a cluster and/or a namespace; None leaves that part to the usual resolution."""

    cluster: str | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class Invocation:
    spec: CommandSpec
    args: tuple[str, ...] = ()
    options: Mapping[str, str | bool] = field(default_factory=dict)
    text: str = ""

    def flag(self, dest: str) -> bool:
        return bool(self.options.get(dest, False))

    def value(self, dest: str) -> str | None:
        value = self.options.get(dest)
        return value if isinstance(value, str) else None

    @property
    def verb(self) -> str:
        """What the policy checks: the command's name, unless one of its `policy_verbs` applies."""
        for verb in self.spec.policy_verbs:
            if verb.applies(self):
                return verb.name
        return self.spec.name


@dataclass(frozen=True)
class PolicyVerb:
    """Some invocations of a command are a verb of their own, granted apart by the policy
    (e.g. `use … for @someone` is `use-for`, an admin verb, while `use` is a read)."""

    name: str
    group: Group
    applies: Callable[[Invocation], bool]
    summary: str = ""


Handler = Callable[[Invocation, "CommandContext"], Reply | ActionPlan]
"""Answers the command; a mutating command's handler *plans* (returns an ActionPlan, or a
Reply when there is nothing to do) and writes nothing."""
Execute = Callable[[ActionPlan, ActionContext], str]
"""Runs an approved plan; returns what happened, in one sentence. Blocking: runs in the pool."""


@dataclass(frozen=True)
class CommandSpec:
    """One command, as data: listable for `help`, visible to mypy, registered in the catalog."""

    name: str
    summary: str
    usage: str
    handler: Handler
    group: Group = Group.READ
    """read / write / admin: the built-in roles and the policy's groups derive from it."""
    execute: Execute | None = None
    """Mutating commands only: runs the plan the handler made, once approved."""
    dangerous: Callable[[ActionPlan], bool] | None = None
    """Whether a plan is dangerous enough to flag its card (e.g. scaling to zero)."""
    kube: tuple[KubeUse, ...] = ()
    """Every `KubePort` method the handler or the executor calls (tests hold it to the code)."""
    examples: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    min_args: int = 0
    max_args: int = 0
    aliases: tuple[str, ...] = ()
    uses_cluster: bool = True
    """False for commands that touch no cluster or namespace (help, mutes, audit …)."""
    namespaced: bool = True
    """False for commands about cluster-scoped objects (nodes): no namespace is resolved, and the
    policy checks them like an all-namespace read."""
    on_loop: bool = False
    """Quick handlers over in-process state (no API call, no store read) run on the event
    loop; every other one runs in the pool, where it may block."""
    scope: Callable[[Invocation, ScopeViews], NamedScope | None] | None = None
    """For commands whose arguments name where they act (`promote … to CLUSTER`): the
    router checks the policy, picks the approval rule and names the cluster in the reply
    from it, instead of from --cluster / the channel / the defaults."""
    heavy: Callable[[Invocation], bool] | None = None
    """Whether this invocation reads a whole cluster (e.g. `-A`): such reads take turns
    (`commands.max_heavy_reads` at once)."""
    help: str = ""
    """More than the summary, for `help NAME`."""
    policy_verbs: tuple[PolicyVerb, ...] = ()
    """Invocations the policy grants apart, under their own verb (see `Invocation.verb`)."""

    def __post_init__(self) -> None:
        if self.execute is not None and self.group is Group.READ:
            raise ValueError(f"{self.name}: a command that executes plans cannot be in the read group")
        if self.dangerous is not None and self.execute is None:
            raise ValueError(f"{self.name}: only mutating commands have dangerous plans")

    @property
    def mutating(self) -> bool:
        """Changes a cluster: plans first, runs only once confirmed or approved."""
        return self.execute is not None

    def option_for(self, flag: str) -> Option | None:
        for option in self.options:
            if flag in option.flags:
                return option
        return None

    def option_for_word(self, word: str) -> Option | None:
        for option in self.options:
            if word.lower() in option.words:
                return option
        return None
