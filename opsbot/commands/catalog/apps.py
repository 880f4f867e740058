"""`apps` and `diff`: the same apps on every configured cluster, side by side.

Both read every cluster at once from the watch caches (a cluster no watch covers is
listed live, in parallel, with a deadline); one cluster that cannot answer shows why in
its own column and never holds up the others. Long tables go up as a file in the thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CLUSTER, NAMESPACE, CommandSpec, Invocation, KubeUse
from opsbot.commands.views import FleetView
from opsbot.core.fleet import Unanswered
from opsbot.core.reply import Emphasis, FileAttachment, Mono, Reply, Strong, Table, Text, Tone, on_cluster
from opsbot.core.rows import DeploymentRow, age_text
from opsbot.errors import InvalidNameError, UserInputError
from opsbot.ports import KubePort
from opsbot.releases.fleet import AppLine, ClusterColumn, DiffLine, app_grid, diff_apps

READ_TIMEOUT = 5.0
"""How long `apps` / `diff` wait for a cluster no watch covers before showing it as not answering."""


def _fleet(ctx: CommandContext) -> FleetView:
    if ctx.fleet is None:
        raise UserInputError("reading every cluster at once is not available here.")
    return ctx.fleet


def _rows(kube: KubePort, namespace: str | None) -> list[DeploymentRow]:
    return kube.deployment_rows(namespace)


def read_columns(ctx: CommandContext, clusters: Sequence[str], namespace: str | None) -> list[ClusterColumn]:
    """Every cluster's Deployments (from the watch caches), or why it could not answer."""
    answers = _fleet(ctx).each(lambda kube: _rows(kube, namespace), clusters, timeout=READ_TIMEOUT)
    columns = []
    for cluster, answer in answers.items():
        if isinstance(answer, Unanswered):
            columns.append(ClusterColumn(cluster, None, answer.reason))
        else:
            columns.append(ClusterColumn(cluster, answer))
    return columns


def visible_clusters(
    ctx: CommandContext, namespace: str | None, wanted: Sequence[str] | None = None
) -> list[str]:
    """The configured clusters (or `wanted`) this person may read with this command."""
    names = _fleet(ctx).clusters()
    if wanted is not None:
        unknown = [name for name in wanted if name not in names]
        if unknown:
            known = ", ".join(f"`{name}`" for name in names)
            raise InvalidNameError(f"unknown cluster {unknown[0][:40]!r}; configured clusters: {known}")
        names = list(dict.fromkeys(wanted))
    return [name for name in names if ctx.may(name, namespace)]


def _cell(line: AppLine, cluster: str, now: datetime) -> str:
    cell = line.cells.get(cluster)
    if cell is None:
        return "missing"
    return f"{cell.version} {cell.ready} {cell.state} {age_text(cell.changed, now)}"


def _problems(columns: Sequence[ClusterColumn]) -> list[Text]:
    return [Text(Strong(f"{c.cluster}: "), c.problem) for c in columns if c.rows is None]


def _file_or_table(
    title: str, table: Table, head: list[Text], ctx: CommandContext, filename: str
) -> tuple[tuple[Text | Table, ...], FileAttachment | None]:
    """The table inline when it fits, else its first rows inline and the whole as a file."""
    limit = ctx.settings.max_rows
    if len(table.rows) <= limit:
        return (*head, table), None
    content = "\n".join(table.layout()) + "\n"
    shown = Table(
        table.columns,
        table.rows[:limit],
        total=len(table.rows),
        hint="The whole table is in the attached file.",
    )
    preview = "\n".join(shown.layout()[:6])
    return (*head, shown), FileAttachment(filename=filename, content=content, title=title, preview=preview)


def apps(invocation: Invocation, ctx: CommandContext) -> Reply:
    namespace = invocation.value("namespace")
    wanted = [invocation.value("cluster") or ""] if invocation.value("cluster") else None
    clusters = visible_clusters(ctx, namespace, wanted)
    if not clusters:
        raise UserInputError("you may not read any cluster with `apps`.")
    columns = read_columns(ctx, clusters, namespace)
    lines = app_grid(columns)
    answering = sum(1 for column in columns if column.rows is not None)
    scope = Text("namespace ", Mono(namespace)) if namespace else Text("all watched namespaces")
    where = Text(Text.join(", ", (Mono(c) for c in clusters)), " · ", scope)
    head = [
        Text(
            Strong(str(len(lines))),
            " apps on ",
            Strong(str(answering)),
            f" of {len(clusters)} clusters",
            (
                Text(", ", Strong(str(sum(1 for line in lines if line.attention))), " to look at")
                if lines
                else Text()
            ),
            ". Each cell: version, ready/desired, state, age of the last change.",
        ),
        *_problems(columns),
    ]
    if not lines:
        return Reply("Apps", (*head, Text(Emphasis("No deployments."))), where=where)
    show_namespace = namespace is None
    header = ("APP", *(("NAMESPACE",) if show_namespace else ()), *clusters)
    rows = tuple(
        (
            line.name,
            *((line.namespace,) if show_namespace else ()),
            *(_cell(line, c, ctx.now) for c in clusters),
        )
        for line in lines
    )
    parts, attachment = _file_or_table("Apps", Table(header, rows), head, ctx, "apps.txt")
    tone: Tone = "warning" if answering < len(clusters) or any(line.attention for line in lines) else "info"
    return Reply("Apps", parts, where=where, tone=tone, attachment=attachment)


def diff(invocation: Invocation, ctx: CommandContext) -> Reply:
    base, *others = invocation.args
    namespace = invocation.value("namespace")
    names = _fleet(ctx).clusters()
    if base not in names:
        visible_clusters(ctx, namespace, [base])  # raises: unknown cluster
    if not others:
        others = [name for name in names if name != base]
    if base in others:
        raise UserInputError(f"compare `{base}` with other clusters, not with itself.")
    clusters = visible_clusters(ctx, namespace, [base, *others])
    if base not in clusters:
        raise UserInputError(f"you may not read cluster `{base}` with `diff`.")
    columns = read_columns(ctx, clusters, namespace)
    base_column, other_columns = columns[0], columns[1:]
    where = Text(on_cluster(base), " vs ", Text.join(", ", (Mono(c) for c in clusters[1:])))
    if base_column.rows is None:
        return Reply(f"Cannot compare {base}", tuple(_problems(columns)), where=where, tone="error")
    lines = diff_apps(base_column, other_columns)
    compared = [c.cluster for c in columns if c.rows is not None]
    apps = len({(line.namespace, line.name) for line in lines})
    head = [
        Text(
            Strong(str(apps)) if lines else "No",
            " apps differ" if apps != 1 else " app differs",
            f" between {base} and {', '.join(compared[1:]) or 'no other answering cluster'}",
            " (secret-looking env values are compared, never shown)." if lines else ".",
        ),
        *_problems(columns),
    ]
    if not lines:
        return Reply(
            f"Diff {base}", tuple(head), where=where, tone="success" if len(compared) > 1 else "warning"
        )
    rows = tuple(_diff_row(line, compared) for line in lines)
    header = ("APP", "WHAT", *compared)
    parts, attachment = _file_or_table(f"Diff {base}", Table(header, rows), head, ctx, f"diff_{base}.txt")
    return Reply(f"Diff {base}", parts, where=where, tone="warning", attachment=attachment)


def _diff_row(line: DiffLine, clusters: Sequence[str]) -> tuple[str, ...]:
    app = line.name if not line.namespace else f"{line.namespace}/{line.name}"
    return (app, line.what, *(line.cells.get(cluster, "-") for cluster in clusters))


COMMANDS = (
    CommandSpec(
        "apps",
        "Every app on every cluster: version, ready, state, last change",
        "apps [--cluster NAME] [-n NS]",
        apps,
        examples=("apps", "apps -n payments", "apps --cluster prod"),
        options=(NAMESPACE, CLUSTER),
        aliases=("list",),
        kube=(KubeUse("deployment_rows"),),
        help=(
            "One table for all configured clusters at once: per app (a Deployment) and cluster its "
            "version (the app.kubernetes.io/version label, else its image tag), ready/desired, state "
            "(ok, rolling out, degraded, failed, missing) and the age of its last change. Served from "
            "the watch caches; a cluster that cannot be reached says since when in its column."
        ),
    ),
    CommandSpec(
        "diff",
        "How apps differ between clusters (stage vs the others)",
        "diff CLUSTER [OTHER…] [-n NS]",
        diff,
        examples=("diff stage", "diff stage prod", "diff stage prod -n payments"),
        options=(NAMESPACE,),
        min_args=1,
        max_args=8,
        kube=(KubeUse("deployment_rows"),),
        help=(
            "Per app, only the fields that differ between the first cluster and each other one (all "
            "the others when none is named): version, images per container, replicas, resources, "
            "literal env values, command and args, and apps only in one of them. Env vars whose names "
            "look secret (TOKEN, SECRET, PASSWORD, KEY) are compared but never shown; `valueFrom` is "
            "shown as where the value comes from. Long output comes as a file."
        ),
    ),
)
