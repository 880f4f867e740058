"""`pods`: name, ready, status, restarts, age, node; not-ready first. Without ``-n``, ``-A``
or ``-l``, the pods of your app (`use APP`) when you have one."""

from __future__ import annotations

from opsbot.commands.appscoped import target
from opsbot.commands.context import CommandContext
from opsbot.commands.spec import LIST_OPTIONS, CommandSpec, Invocation, KubeUse, Option, every_namespace
from opsbot.core import validation
from opsbot.core.durations import count
from opsbot.core.reply import Mono, Reply, Strong, Table, Text, TextLike, where
from opsbot.core.rows import PodRow, age_text, first_in_order

NODE = Option("node", ("--node",), metavar="NODE", help="only the pods on this node")


def pods(invocation: Invocation, ctx: CommandContext) -> Reply:
    scope = target.list_app(invocation, ctx, "node")
    if scope is not None and scope.app is not None and scope.namespace is not None:
        app = target.find_app(ctx.kube, scope.cluster, scope.namespace, scope.app, kind=scope.app_kind)
        hint = Text("Every pod here: ", Mono(f"pods -n {scope.namespace}"), ".")
        shown = Text(" of ", Mono(app.ref))
        return _listed(
            target.app_pods(ctx.kube, app), ctx, f"Pods of {app.name}", shown, scope.header(app=True), hint
        )
    selector = invocation.value("selector")
    node = invocation.value("node")
    if node:
        validation.object_name(node, kind="node")
    selected = Text(" matching ", Mono(selector)) if selector else Text()
    if node:
        selected += Text(" on node ", Mono(node))
    hint = Text("Not-ready pods are listed first. Narrow with ", Mono("-n"), ", ", Mono("-l"), ".")
    items = ctx.kube.pod_rows(ctx.namespace, selector=selector, node=node)
    return _listed(items, ctx, "Pods", selected, where(ctx.cluster, ctx.namespace), hint)


def _listed(
    items: list[PodRow], ctx: CommandContext, title: str, selected: Text, place: Text, hint: TextLike
) -> Reply:
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
    if not items:
        return Reply(title, (Text("No pods", selected, "."),), where=place)
    summary = Text(Strong(count(len(items), "pod")), selected)
    summary += Text(", ", Strong(str(unhealthy)), " not ready") if unhealthy else ", all ready"
    return Reply(
        title,
        (Text(summary), Table(columns, tuple(rows), total=len(items), hint=hint)),
        where=place,
        tone="warning" if unhealthy else "info",
    )


def _not_ready(row: PodRow) -> bool:
    return not row.healthy


COMMANDS = (
    CommandSpec(
        "pods",
        "Pods with readiness, status, restarts, age and node",
        "pods [-n NS | -A] [-l SELECTOR] [--node NODE] [--cluster NAME]",
        pods,
        examples=("pods", "pods -n web", "pods -A", "pods -n web -l app=api", "pods -A --node node-3"),
        help="With an app in your context (`use APP`), `pods` alone lists its pods; -n, -A, -l or --node list others.",
        options=(*LIST_OPTIONS, NODE),
        aliases=("pod", "po", "get-pods"),
        kube=(KubeUse("pod_rows"), *target.KUBE),
        heavy=every_namespace,
    ),
)
