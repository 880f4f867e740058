"""`pods`: name, ready, status, restarts, age, node; not-ready first."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import LIST_OPTIONS, CommandSpec, Invocation, KubeUse, Option
from opsbot.core import kubeobjects as fmt
from opsbot.core import validation
from opsbot.core.reply import Mono, Reply, Strong, Table, Text, where

NODE = Option("node", ("--node",), metavar="NODE", help="only the pods on this node")


def pods(invocation: Invocation, ctx: CommandContext) -> Reply:
    selector = invocation.value("selector")
    node = invocation.value("node")
    on_node = f"spec.nodeName={validation.object_name(node, kind='node')}" if node else None
    items = ctx.kube.list_pods(ctx.namespace, selector=selector, field_selector=on_node)
    rows_with_health = [(fmt.pod_is_healthy(pod), pod) for pod in items]
    rows_with_health.sort(key=lambda pair: (pair[0], fmt.namespace_of(pair[1]), fmt.name_of(pair[1])))
    unhealthy = sum(1 for healthy, _ in rows_with_health if not healthy)
    all_namespaces = ctx.namespace is None
    columns: tuple[str, ...] = ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE")
    if all_namespaces:
        columns = ("NAMESPACE", *columns)
    limit = ctx.settings.max_rows
    rows: list[tuple[str, ...]] = []
    # Only the rows shown are formatted; the rest are counted ("… and N more").
    for _healthy, pod in rows_with_health[:limit]:
        row = (
            fmt.name_of(pod),
            fmt.pod_ready(pod),
            fmt.pod_status(pod),
            fmt.pod_restarts(pod, ctx.now),
            fmt.age(fmt.meta(pod).get("creationTimestamp"), ctx.now),
            str(fmt.spec(pod).get("nodeName") or "<none>"),
        )
        rows.append((fmt.namespace_of(pod), *row) if all_namespaces else row)
    selected = Text(" matching ", Mono(selector)) if selector else Text()
    if node:
        selected += Text(" on node ", Mono(node))
    if not items:
        return Reply("Pods", (Text("No pods", selected, "."),), where=where(ctx.cluster, ctx.namespace))
    summary = Text(Strong(str(len(items))), " pods", selected)
    summary += Text(", ", Strong(str(unhealthy)), " not ready") if unhealthy else ", all ready"
    hint = Text("Not-ready pods are listed first. Narrow with ", Mono("-n"), ", ", Mono("-l"), ".")
    return Reply(
        "Pods",
        (Text(summary), Table(columns, tuple(rows), total=len(items), hint=hint)),
        where=where(ctx.cluster, ctx.namespace),
        tone="warning" if unhealthy else "info",
    )


COMMANDS = (
    CommandSpec(
        "pods",
        "Pods with readiness, status, restarts, age and node",
        "pods [-n NS | -A] [-l SELECTOR] [--node NODE] [--cluster NAME]",
        pods,
        examples=("pods -n web", "pods -A", "pods -n web -l app=api", "pods -A --node node-3"),
        options=(*LIST_OPTIONS, NODE),
        aliases=("pod", "po", "get-pods"),
        kube=(KubeUse("list_pods"),),
    ),
)
