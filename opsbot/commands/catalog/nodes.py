"""`nodes`: ready, roles, version, pressure conditions."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CLUSTER, CommandSpec, Invocation, KubeUse, always
from opsbot.core.durations import count
from opsbot.core.kubeobjects import natural_key
from opsbot.core.reply import Reply, Strong, Table, Text, on_cluster
from opsbot.core.rows import age_text


def nodes(invocation: Invocation, ctx: CommandContext) -> Reply:
    items = sorted(ctx.kube.node_rows(), key=lambda node: natural_key(node.name))
    place = on_cluster(ctx.cluster)
    if not items:
        return Reply("Nodes", (Text("No nodes."),), where=place)
    rows = [
        (node.name, node.status, node.roles, age_text(node.created, ctx.now), node.version, node.pressure)
        for node in items[: ctx.settings.max_rows]
    ]
    not_ready = sum(1 for node in items if not node.ready)
    summary = Text(Strong(count(len(items), "node")))
    summary += Text(", ", Strong(str(not_ready)), " not ready") if not_ready else ", all ready"
    columns: tuple[str, ...] = ("NAME", "STATUS", "ROLES", "AGE", "VERSION", "PRESSURE")
    return Reply(
        "Nodes",
        (Text(summary), Table(columns, tuple(rows), total=len(items))),
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
        kube=(KubeUse("node_rows", everywhere=True),),
        heavy=always,
        namespaced=False,
    ),
)
