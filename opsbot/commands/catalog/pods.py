"""`pods`: name, ready, status, restarts, age, node; not-ready first."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import LIST_OPTIONS, CommandSpec, Invocation, KubeUse, every_namespace
from opsbot.core.reply import Mono, Reply, Strong, Table, Text, where
from opsbot.core.rows import PodRow, age_text, first_in_order


def pods(invocation: Invocation, ctx: CommandContext) -> Reply:
    selector = invocation.value("selector")
    items = ctx.kube.pod_rows(ctx.namespace, selector=selector)
    unhealthy = sum(1 for row in items if not row.healthy)
    all_namespaces = ctx.namespace is None
    columns: tuple[str, ...] = ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE")
    if all_namespaces:
        columns = ("NAMESPACE", *columns)
    rows: list[tuple[str, ...]] = []
    # Only the rows shown are sorted and formatted; the rest are counted ("… and N more").
    for pod in first_in_order(items, ctx.settings.max_rows, ahead=_not_ready):
        row = (pod.name, pod.ready, pod.status, pod.restarts_text(ctx.now), age_text(pod.created, ctx.now), pod.node)
        rows.append((pod.namespace, *row) if all_namespaces else row)
    selected = Text(" matching ", Mono(selector)) if selector else Text()
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


def _not_ready(row: PodRow) -> bool:
    return not row.healthy


COMMANDS = (
    CommandSpec(
        "pods",
        "Pods with readiness, status, restarts, age and node",
        "pods [-n NS | -A] [-l SELECTOR] [--cluster NAME]",
        pods,
        examples=("pods -n web", "pods -A", "pods -n web -l app=api"),
        options=LIST_OPTIONS,
        aliases=("pod", "po", "get-pods"),
        kube=(KubeUse("pod_rows"),),
        heavy=every_namespace,
    ),
)
