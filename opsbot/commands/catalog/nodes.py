"""`nodes`: ready, roles, version, pressure conditions."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CLUSTER, CommandSpec, Invocation, KubeUse
from opsbot.core import kubeobjects as fmt
from opsbot.core.reply import Reply, Strong, Table, Text, on_cluster


def nodes(invocation: Invocation, ctx: CommandContext) -> Reply:
    items = sorted(ctx.kube.list_nodes(), key=fmt.name_of)
    place = on_cluster(ctx.cluster)
    if not items:
        return Reply("Nodes", (Text("No nodes."),), where=place)
    rows = [
        (
            fmt.name_of(node),
            fmt.node_status(node),
            fmt.node_roles(node),
            fmt.age(fmt.meta(node).get("creationTimestamp"), ctx.now),
            fmt.node_version(node),
            fmt.node_pressure(node),
        )
        for node in items
    ]
    not_ready = sum(1 for node in items if not fmt.node_status(node).startswith("Ready"))
    summary = Text(Strong(str(len(items))), " nodes")
    summary += Text(", ", Strong(str(not_ready)), " not ready") if not_ready else ", all ready"
    columns: tuple[str, ...] = ("NAME", "STATUS", "ROLES", "AGE", "VERSION", "PRESSURE")
    return Reply(
        "Nodes",
        (Text(summary), Table.first(columns, rows, ctx.settings.max_rows)),
        where=place,
        tone="warning" if not_ready else "info",
    )


COMMANDS = (
    CommandSpec(
        "nodes",
        "Nodes: ready, roles, version, pressure conditions",
        "nodes [--cluster NAME]",
        nodes,
        examples=("nodes",),
        options=(CLUSTER,),
        aliases=("node", "no"),
        kube=(KubeUse("list_nodes", everywhere=True),),
    ),
)
