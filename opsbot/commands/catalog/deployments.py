"""`deployments`: ready/desired, up-to-date, available, images, age."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import LIST_OPTIONS, CommandSpec, Invocation, KubeUse
from opsbot.core import kubeobjects as fmt
from opsbot.core.reply import Reply, Strong, Table, Text, where


def deployments(invocation: Invocation, ctx: CommandContext) -> Reply:
    items = ctx.kube.list_deployments(ctx.namespace, selector=invocation.value("selector"))
    items.sort(key=lambda d: (fmt.namespace_of(d), fmt.name_of(d)))
    place = where(ctx.cluster, ctx.namespace)
    if not items:
        return Reply("Deployments", (Text("No deployments."),), where=place)
    columns: tuple[str, ...] = ("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "IMAGES")
    if ctx.namespace is None:
        columns = ("NAMESPACE", *columns)
    rows: list[tuple[str, ...]] = []
    degraded = 0
    for deployment in items:
        state = fmt.status(deployment)
        desired = int(fmt.spec(deployment).get("replicas", 1))
        if int(state.get("availableReplicas") or 0) < desired:
            degraded += 1
        row = (
            fmt.name_of(deployment),
            fmt.deployment_ready(deployment),
            str(state.get("updatedReplicas") or 0),
            str(state.get("availableReplicas") or 0),
            fmt.age(fmt.meta(deployment).get("creationTimestamp"), ctx.now),
            fmt.clip(fmt.images(deployment), 60),
        )
        rows.append((fmt.namespace_of(deployment), *row) if ctx.namespace is None else row)
    summary = Text(Strong(str(len(items))), " deployments")
    summary += (
        Text(", ", Strong(str(degraded)), " below desired availability") if degraded else ", all available"
    )
    return Reply(
        "Deployments",
        (Text(summary), Table.first(columns, rows, ctx.settings.max_rows)),
        where=place,
        tone="warning" if degraded else "info",
    )


COMMANDS = (
    CommandSpec(
        "deployments",
        "Deployments: ready/desired, up-to-date, available, images",
        "deployments [-n NS | -A] [-l SELECTOR]",
        deployments,
        examples=("deployments -n web", "deployments -A"),
        options=LIST_OPTIONS,
        aliases=("deploy", "deployment"),
        kube=(KubeUse("list_deployments"),),
    ),
)
