"""`deployments`: ready/desired, up-to-date, available, images, age."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import LIST_OPTIONS, CommandSpec, Invocation, KubeUse, every_namespace
from opsbot.core.durations import count
from opsbot.core.kubeobjects import clip
from opsbot.core.reply import Reply, Strong, Table, Text, where
from opsbot.core.rows import age_text, first_in_order


def deployments(invocation: Invocation, ctx: CommandContext) -> Reply:
    items = ctx.kube.deployment_rows(ctx.namespace, selector=invocation.value("selector"))
    place = where(ctx.cluster, ctx.namespace)
    if not items:
        return Reply("Deployments", (Text("No deployments."),), where=place)
    columns: tuple[str, ...] = ("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "IMAGES")
    if ctx.namespace is None:
        columns = ("NAMESPACE", *columns)
    degraded = sum(1 for deployment in items if deployment.degraded)
    rows: list[tuple[str, ...]] = []
    for deployment in first_in_order(items, ctx.settings.max_rows):
        row = (
            deployment.name,
            deployment.ready,
            str(deployment.updated),
            str(deployment.available),
            age_text(deployment.created, ctx.now),
            clip(deployment.images, 60),
        )
        rows.append((deployment.namespace, *row) if ctx.namespace is None else row)
    summary = Text(Strong(count(len(items), "deployment")))
    summary += (
        Text(", ", Strong(str(degraded)), " below desired availability") if degraded else ", all available"
    )
    return Reply(
        "Deployments",
        (Text(summary), Table(columns, tuple(rows), total=len(items))),
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
        kube=(KubeUse("deployment_rows"),),
        heavy=every_namespace,
    ),
)
