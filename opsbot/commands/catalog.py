"""Every command opsbot understands, as data. `help` reads this table."""

from __future__ import annotations

from opsbot.commands import alerting, audit, describe, mutations, read
from opsbot.commands.context import CommandContext
from opsbot.commands.grammar import (
    ALL_NAMESPACES,
    CLUSTER,
    NAMESPACE,
    SELECTOR,
    CommandSpec,
    Invocation,
    Option,
    Registry,
)
from opsbot.commands.results import Reply, Table, Text
from opsbot.errors import UnknownCommandError

_LIST_OPTIONS = (NAMESPACE, ALL_NAMESPACES, SELECTOR, CLUSTER)
_ONE_OBJECT = (NAMESPACE, CLUSTER)


def usage_reply(spec: CommandSpec, problem: str | None = None) -> Reply:
    lines = [f"*Usage:* `{spec.usage}`", spec.summary]
    if spec.options:
        lines.append(
            "*Options:* "
            + ", ".join(
                f"`{'/'.join(o.flags)}{' ' + o.metavar if o.metavar else ''}` {o.help}" for o in spec.options
            )
        )
    if spec.examples:
        lines.append("*Examples:* " + "  ".join(f"`{example}`" for example in spec.examples))
    if spec.mutating:
        lines.append("_Changes the cluster: opsbot shows what will change and asks you to confirm._")
    title = f"`{spec.name}`: {problem}" if problem else f"Help: {spec.name}"
    return Reply(title, (Text("\n".join(lines)),), tone="warning" if problem else "info")


def build_registry() -> Registry:
    specs: list[CommandSpec] = []

    def help_command(invocation: Invocation, ctx: CommandContext) -> Reply:
        if invocation.args:
            spec = registry.find(invocation.args[0])
            if spec is None:
                raise UnknownCommandError(invocation.args[0][:40], registry.suggestions(invocation.args[0]))
            return usage_reply(spec)
        rows = tuple(
            (spec.name, spec.summary + (" (asks to confirm)" if spec.mutating else ""))
            for spec in registry.specs()
        )
        return Reply(
            "opsbot commands",
            (
                Table(("COMMAND", "WHAT IT DOES"), rows),
                Text(
                    "Mention me with a command (`@opsbot pods -n web`), DM me, or use `/opsbot` "
                    "for a private answer. `help COMMAND` shows usage and examples."
                ),
            ),
        )

    specs.append(
        CommandSpec(
            "help",
            "List commands, or show one command's usage",
            "help [COMMAND]",
            help_command,
            examples=("help", "help logs"),
            max_args=1,
            uses_cluster=False,
        )
    )
    specs.append(
        CommandSpec(
            "pods",
            "Pods with readiness, status, restarts, age and node",
            "pods [-n NS | -A] [-l SELECTOR] [--cluster NAME]",
            read.pods,
            examples=("pods -n web", "pods -A", "pods -n web -l app=api"),
            options=_LIST_OPTIONS,
            aliases=("pod", "po", "get-pods"),
        )
    )
    specs.append(
        CommandSpec(
            "logs",
            "Recent log lines of a pod's container (long output comes as a file)",
            "logs POD [-c CONTAINER] [--tail N] [--previous] [--since 10m] [-n NS]",
            read.logs,
            examples=(
                "logs api-7d9f-x2k4p",
                "logs api-7d9f-x2k4p -c app --tail 200 --previous",
                "logs api-7d9f-x2k4p --since 10m",
            ),
            options=(
                Option("container", ("-c", "--container"), metavar="NAME", help="container"),
                Option("tail", ("--tail",), metavar="N", help="last N lines"),
                Option(
                    "previous",
                    ("-p", "--previous"),
                    takes_value=False,
                    help="the previous (crashed) container",
                ),
                Option("since", ("--since",), metavar="DURATION", help="only lines newer than e.g. 10m"),
                *_ONE_OBJECT,
            ),
            min_args=1,
            max_args=1,
            aliases=("log",),
        )
    )
    specs.append(
        CommandSpec(
            "describe",
            "A readable summary of a pod, deployment or node with recent events",
            "describe pod|deploy|node NAME [-n NS]",
            describe.describe,
            examples=("describe pod api-7d9f-x2k4p", "describe deploy api -n web", "describe node node-1"),
            options=_ONE_OBJECT,
            min_args=1,
            max_args=2,
            aliases=("desc",),
        )
    )
    specs.append(
        CommandSpec(
            "events",
            "Recent events, optionally only warnings or for one object",
            "events [-n NS | -A] [--for KIND/NAME] [--warnings]",
            read.events,
            examples=("events -n web", "events --warnings", "events --for pod/api-7d9f-x2k4p"),
            options=(
                NAMESPACE,
                ALL_NAMESPACES,
                Option("for", ("--for",), metavar="KIND/NAME", help="events of one object"),
                Option("warnings", ("--warnings", "-w"), takes_value=False, help="warnings only"),
                CLUSTER,
            ),
            aliases=("event", "ev"),
        )
    )
    specs.append(
        CommandSpec(
            "deployments",
            "Deployments: ready/desired, up-to-date, available, images",
            "deployments [-n NS | -A] [-l SELECTOR]",
            read.deployments,
            examples=("deployments -n web", "deployments -A"),
            options=_LIST_OPTIONS,
            aliases=("deploy", "deployment"),
        )
    )
    specs.append(
        CommandSpec(
            "nodes",
            "Nodes: ready, roles, version, pressure conditions",
            "nodes [--cluster NAME]",
            read.nodes,
            examples=("nodes",),
            options=(CLUSTER,),
            aliases=("node", "no"),
        )
    )
    specs.append(
        CommandSpec(
            "status",
            "Cluster summary: nodes ready, pods not running, recent restarts",
            "status [-n NS | -A] [--cluster NAME]",
            read.status,
            examples=("status", "status -n web"),
            options=(NAMESPACE, ALL_NAMESPACES, CLUSTER),
            aliases=("health",),
        )
    )
    specs.append(
        CommandSpec(
            "scale",
            "Set a deployment's replica count",
            "scale deploy/NAME REPLICAS [-n NS]",
            mutations.scale,
            examples=("scale deploy/api 3 -n web", "scale deploy/worker 0"),
            options=_ONE_OBJECT,
            min_args=2,
            max_args=3,
            mutating=True,
        )
    )
    specs.append(
        CommandSpec(
            "restart",
            "Rollout restart of a deployment (like kubectl rollout restart)",
            "restart deploy/NAME [-n NS]",
            mutations.restart,
            examples=("restart deploy/api -n web",),
            options=_ONE_OBJECT,
            min_args=1,
            max_args=2,
            mutating=True,
            aliases=("rollout-restart",),
        )
    )
    specs.append(
        CommandSpec(
            "incidents",
            "Open incidents (alerts) with their pods and restarts",
            "incidents [-n NS] [--cluster NAME]",
            alerting.incidents,
            examples=("incidents", "incidents -n web"),
            options=(NAMESPACE, CLUSTER),
            uses_cluster=False,
            on_loop=True,
            aliases=("alerts",),
        )
    )
    specs.append(
        CommandSpec(
            "mutes",
            "Active alert mutes",
            "mutes",
            alerting.mutes,
            uses_cluster=False,
            on_loop=True,
        )
    )
    specs.append(
        CommandSpec(
            "unmute",
            "Remove an alert mute",
            "unmute MUTE_ID",
            alerting.unmute,
            examples=("unmute 3f9a1c2e",),
            min_args=1,
            max_args=1,
            uses_cluster=False,
            on_loop=True,
        )
    )
    specs.append(
        CommandSpec(
            "audit",
            "Who asked for what, who approved, what ran (admins)",
            "audit [--user USER] [--last N]",
            audit.audit,
            examples=("audit", "audit --user @alice --last 50"),
            options=(
                Option("user", ("--user", "-u"), metavar="USER", help="one person (mention or user id)"),
                Option("last", ("--last",), metavar="N", help="how many records (default 20)"),
            ),
            uses_cluster=False,
            on_loop=True,
        )
    )
    registry = Registry(specs)
    return registry
