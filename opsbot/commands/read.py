"""Read-only commands: pods, logs, events, deployments, nodes, status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from opsbot.commands import formatting as fmt
from opsbot.commands import validation
from opsbot.commands.context import CommandContext
from opsbot.commands.grammar import Invocation
from opsbot.commands.results import (
    Code,
    Fields,
    FileAttachment,
    Part,
    Reply,
    Table,
    Text,
    escape,
    where,
)
from opsbot.errors import ForbiddenError, UsageError
from opsbot.ports import KubeObject

KIND_WORDS = {
    "pod": "Pod",
    "pods": "Pod",
    "po": "Pod",
    "deploy": "Deployment",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "node": "Node",
    "nodes": "Node",
    "no": "Node",
    "rs": "ReplicaSet",
    "replicaset": "ReplicaSet",
    "sts": "StatefulSet",
    "statefulset": "StatefulSet",
    "ds": "DaemonSet",
    "daemonset": "DaemonSet",
    "job": "Job",
    "svc": "Service",
    "service": "Service",
}


def truncated_table(
    columns: tuple[str, ...], rows: Sequence[tuple[str, ...]], limit: int, hint: str = ""
) -> Table:
    return Table(columns, tuple(rows[:limit]), total=len(rows), hint=hint)


def pods(invocation: Invocation, ctx: CommandContext) -> Reply:
    selector = invocation.value("selector")
    items = ctx.kube.list_pods(ctx.namespace, selector=selector)
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
    selected = f" matching `{escape(selector)}`" if selector else ""
    if not items:
        return Reply("Pods", (Text(f"No pods{selected}."),), where=where(ctx.cluster, ctx.namespace))
    summary = f"*{len(items)}* pods{selected}"
    summary += f", *{unhealthy}* not ready" if unhealthy else ", all ready"
    hint = "Not-ready pods are listed first. Narrow with `-n`, `-l`."
    return Reply(
        "Pods",
        (Text(summary), Table(columns, tuple(rows), total=len(items), hint=hint)),
        where=where(ctx.cluster, ctx.namespace),
        tone="warning" if unhealthy else "info",
    )


def logs(invocation: Invocation, ctx: CommandContext) -> Reply:
    settings = ctx.settings.logs
    pod = validation.object_name(invocation.args[0], kind="pod")
    container_opt = invocation.value("container")
    container = validation.container_name(container_opt) if container_opt else None
    tail_text = invocation.value("tail")
    tail = (
        validation.bounded_int(tail_text, what="--tail", low=1, high=settings.max_tail)
        if tail_text is not None
        else settings.default_tail
    )
    since_text = invocation.value("since")
    since = validation.duration_seconds(since_text) if since_text else None
    previous = invocation.flag("previous")
    namespace = ctx.single_namespace
    text = ctx.kube.read_pod_log(
        namespace,
        pod,
        container=container,
        tail_lines=tail,
        previous=previous,
        since_seconds=since,
        limit_bytes=settings.max_bytes,
    )
    lines = text.splitlines()
    label = f"{pod}" + (f" -c {container}" if container else "") + (" (previous)" if previous else "")
    place = where(ctx.cluster, namespace)
    if not lines:
        window = f" in the last {since_text}" if since_text else ""
        return Reply(f"Logs of {label}", (Text(f"No log lines{window}."),), where=place)
    if len(lines) <= settings.inline_max_lines and len(text) <= 2500:
        return Reply(f"Logs of {label}", (Code(text.rstrip("\n")),), where=place)
    preview_lines = lines[-5:]
    preview = "\n".join(fmt.clip(line, 200) for line in preview_lines)
    filename = f"{ctx.cluster}_{namespace}_{pod}" + (f"_{container}" if container else "")
    filename += "_previous.log" if previous else ".log"
    return Reply(
        f"Logs of {label}",
        (Text(f"Last {len(lines)} lines are in the attached file; the newest {len(preview_lines)}:"),),
        where=place,
        attachment=FileAttachment(
            filename=filename, content=text, title=f"{label} — {ctx.cluster}/{namespace}", preview=preview
        ),
    )


def _involved_field_selector(target: str, namespace: str | None) -> str:
    kind_word, slash, name = target.partition("/")
    if not slash:
        raise UsageError("--for takes KIND/NAME, e.g. --for pod/api-7d9f", command="events")
    kind = KIND_WORDS.get(kind_word.lower())
    if kind is None:
        raise UsageError(
            f"unknown kind {kind_word[:30]!r} (pod, deploy, node, rs, sts, ds, job, svc)",
            command="events",
        )
    validation.object_name(name, kind=kind.lower())
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    if namespace and kind != "Node":
        selector += f",involvedObject.namespace={namespace}"
    return selector


def events(invocation: Invocation, ctx: CommandContext) -> Reply:
    selectors: list[str] = []
    target = invocation.value("for")
    if target:
        selectors.append(_involved_field_selector(target, ctx.namespace))
    if invocation.flag("warnings"):
        selectors.append("type=Warning")
    items = fmt.sort_events(ctx.kube.list_events(ctx.namespace, field_selector=",".join(selectors) or None))
    place = where(ctx.cluster, ctx.namespace)
    title = "Warning events" if invocation.flag("warnings") else "Events"
    if target:
        title += f" for {target}"
    if not items:
        return Reply(title, (Text("No events (Kubernetes keeps them for about an hour)."),), where=place)
    limit = ctx.settings.max_rows
    newest = items[-limit:]
    rows = [_event_row(event, ctx.now, with_namespace=ctx.namespace is None) for event in newest]
    columns: tuple[str, ...] = ("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
    if ctx.namespace is None:
        columns = ("NAMESPACE", *columns)
    table = Table(columns, tuple(rows), total=len(items), hint="Newest last; older events omitted.")
    warnings = sum(1 for event in items if event.get("type") == "Warning")
    return Reply(
        title,
        (Text(f"*{len(items)}* events, *{warnings}* warnings"), table),
        where=place,
        tone="warning" if warnings else "info",
    )


def _event_row(event: KubeObject, now: datetime, *, with_namespace: bool) -> tuple[str, ...]:
    involved = event.get("involvedObject") or {}
    moment = fmt.event_time(event)
    seen = fmt.short_duration(int((now - moment).total_seconds())) if moment else "<unknown>"
    count = int(event.get("count") or 1)
    if count > 1:
        seen += f" (x{count})"
    row = (
        seen,
        str(event.get("type", "")),
        str(event.get("reason", "")),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        fmt.clip(str(event.get("message", "")), 90),
    )
    return (fmt.namespace_of(event), *row) if with_namespace else row


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
    summary = f"*{len(items)}* deployments" + (
        f", *{degraded}* below desired availability" if degraded else ", all available"
    )
    return Reply(
        "Deployments",
        (Text(summary), truncated_table(columns, rows, ctx.settings.max_rows)),
        where=place,
        tone="warning" if degraded else "info",
    )


def nodes(invocation: Invocation, ctx: CommandContext) -> Reply:
    items = sorted(ctx.kube.list_nodes(), key=fmt.name_of)
    place = f"cluster `{ctx.cluster}`"
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
    summary = f"*{len(items)}* nodes" + (f", *{not_ready}* not ready" if not_ready else ", all ready")
    columns: tuple[str, ...] = ("NAME", "STATUS", "ROLES", "AGE", "VERSION", "PRESSURE")
    return Reply(
        "Nodes",
        (Text(summary), truncated_table(columns, rows, ctx.settings.max_rows)),
        where=place,
        tone="warning" if not_ready else "info",
    )


def status(invocation: Invocation, ctx: CommandContext) -> Reply:
    """One look at the cluster: nodes, pods that are not fine, recent restarts."""
    parts: list[Part] = []
    pairs: list[tuple[str, str]] = []
    tone: str = "info"
    try:
        node_items = ctx.kube.list_nodes()
        ready = sum(1 for node in node_items if fmt.node_status(node).startswith("Ready"))
        pairs.append(("Nodes ready", f"{ready}/{len(node_items)}"))
        if ready < len(node_items):
            tone = "warning"
    except ForbiddenError:
        pairs.append(("Nodes", "not visible (needs the cluster-wide overlay)"))
    pod_items = ctx.kube.list_pods(ctx.namespace)
    phases = Counter(str(fmt.status(pod).get("phase", "Unknown")) for pod in pod_items)
    unhealthy = [pod for pod in pod_items if not fmt.pod_is_healthy(pod)]
    pairs.append(("Pods", f"{len(pod_items)} ({', '.join(f'{n} {p}' for p, n in phases.most_common())})"))
    pairs.append(("Pods not ready", str(len(unhealthy))))
    restarted = [pod for pod in pod_items if _restarted_within(pod, ctx.now, 3600)]
    pairs.append(("Restarted in the last hour", str(len(restarted))))
    deployment_items = ctx.kube.list_deployments(ctx.namespace)
    degraded = [
        d
        for d in deployment_items
        if int(fmt.status(d).get("availableReplicas") or 0) < int(fmt.spec(d).get("replicas", 1))
    ]
    pairs.append(("Deployments below desired", f"{len(degraded)}/{len(deployment_items)}"))
    parts.append(Fields(tuple(pairs)))
    if unhealthy:
        tone = "warning"
        rows = [
            (fmt.namespace_of(pod), fmt.name_of(pod), fmt.pod_status(pod), fmt.pod_restarts(pod, ctx.now))
            for pod in sorted(unhealthy, key=lambda p: -fmt.restart_count(p))
        ]
        parts.append(Text("*Pods that are not ready*"))
        parts.append(truncated_table(("NAMESPACE", "POD", "STATUS", "RESTARTS"), rows, 15))
    if degraded:
        tone = "warning"
        degraded_rows = [(fmt.namespace_of(d), fmt.name_of(d), fmt.deployment_ready(d)) for d in degraded]
        parts.append(Text("*Deployments below desired availability*"))
        parts.append(truncated_table(("NAMESPACE", "DEPLOYMENT", "READY"), degraded_rows, 15))
    if tone == "info":
        parts.append(Text(":white_check_mark: Everything looks healthy."))
    return Reply(
        "Cluster status",
        tuple(parts),
        where=where(ctx.cluster, ctx.namespace),
        tone="warning" if tone == "warning" else "info",
    )


def _restarted_within(pod: KubeObject, now: datetime, seconds: int) -> bool:
    for container in fmt.container_statuses(pod):
        finished = fmt.parse_time(
            ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        )
        if finished and (now - finished).total_seconds() <= seconds:
            return True
    return False
