"""`describe` of an app: the workload, its rollout, its pods, recent Warning events, the
version it runs and the last ones it ran."""

from __future__ import annotations

from datetime import datetime

from opsbot.commands.appscoped.target import App, involves
from opsbot.commands.context import CommandContext
from opsbot.commands.scope import Scope
from opsbot.commands.spec import KubeUse
from opsbot.core import kubeobjects as fmt
from opsbot.core.durations import short_duration
from opsbot.core.kubeobjects import KubeObject, natural_key
from opsbot.core.reply import Emphasis, Fields, Part, Reply, Strong, Table, Text, TextLike
from opsbot.core.rows import PodRow, age_text
from opsbot.errors import ForbiddenError
from opsbot.ports import KubePort
from opsbot.releases.records import VersionRecord

KUBE = (KubeUse("list_events"), KubeUse("list_replicasets"))

VERSION_LABEL = "app.kubernetes.io/version"
REVISION = "deployment.kubernetes.io/revision"
SHOWN_PODS = 15
SHOWN_EVENTS = 8
SHOWN_VERSIONS = 5


def describe_app(ctx: CommandContext, scope: Scope, app: App, pods: list[PodRow]) -> Reply:
    kube = ctx.kube
    pairs: list[tuple[str, TextLike]] = [
        ("Kind", app.kind),
        ("Ready", ready_text(app)),
        ("Rollout", rollout_state(app)),
        ("Image", fmt.images(app.workload) or "-"),
        ("Version", version_of(app.workload) or "-"),
        ("Age", fmt.age(fmt.meta(app.workload).get("creationTimestamp"), ctx.now)),
    ]
    template = (fmt.spec(app.workload).get("template") or {}).get("metadata") or {}
    restarted = (template.get("annotations") or {}).get("kubectl.kubernetes.io/restartedAt")
    if restarted:
        pairs.append(("Last restart", f"{fmt.age(restarted, ctx.now)} ago"))
    parts: list[Part] = [Fields(tuple(pairs))]
    parts.extend(_pods_table(pods, ctx.now))
    parts.extend(_warnings(kube, app, pods, ctx.now))
    parts.extend(_versions(ctx, scope, app))
    healthy = app.healthy and rollout_state(app) == "complete" and all(pod.healthy for pod in pods)
    return Reply(
        f"{app.kind} {app.name}",
        tuple(parts),
        where=scope.header(app=True),
        tone="info" if healthy else "warning",
    )


def ready_text(app: App) -> str:
    state = fmt.status(app.workload)
    if app.kind == "DaemonSet":
        return f"{app.ready} ready · {state.get('updatedNumberScheduled') or 0} updated"
    return f"{app.ready} ready · {state.get('updatedReplicas') or 0} updated" + (
        f" · {state.get('availableReplicas') or 0} available" if app.kind == "Deployment" else ""
    )


def rollout_state(app: App) -> str:
    """``complete``, ``in progress: 1 of 3 updated`` or ``stuck: ProgressDeadlineExceeded``."""
    workload = app.workload
    state = fmt.status(workload)
    for condition in state.get("conditions") or []:
        if (
            isinstance(condition, dict)
            and condition.get("type") == "Progressing"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return "stuck: ProgressDeadlineExceeded"
    generation = int(fmt.meta(workload).get("generation") or 0)
    if int(state.get("observedGeneration") or generation) < generation:
        return "in progress: the controller has not seen the change yet"
    if app.kind == "DaemonSet":
        desired = int(state.get("desiredNumberScheduled") or 0)
        updated = int(state.get("updatedNumberScheduled") or 0)
    elif app.kind == "StatefulSet" and state.get("updateRevision") != state.get("currentRevision"):
        desired = int(fmt.spec(workload).get("replicas", 1) or 0)
        updated = int(state.get("updatedReplicas") or 0)
        return f"in progress: {updated} of {desired} updated"
    else:
        desired = int(fmt.spec(workload).get("replicas", 1) or 0)
        updated = int(state.get("updatedReplicas") or 0) if "updatedReplicas" in state else desired
    if updated < desired:
        return f"in progress: {updated} of {desired} updated"
    return "complete"


def version_of(workload: KubeObject) -> str:
    """The `app.kubernetes.io/version` label (workload, else pod template), else the image tag."""
    template = (fmt.spec(workload).get("template") or {}).get("metadata") or {}
    for labels in (fmt.meta(workload).get("labels"), template.get("labels")):
        if isinstance(labels, dict) and labels.get(VERSION_LABEL):
            return str(labels[VERSION_LABEL])
    containers = fmt.template_containers(workload)
    image = str(containers[0].get("image", "")) if containers else ""
    name, _, tag = image.rpartition(":")
    return tag if name and "/" not in tag else ""


def _pods_table(pods: list[PodRow], now: datetime) -> list[Part]:
    if not pods:
        return [Text(Emphasis("No pods."))]
    ordered = sorted(pods, key=lambda pod: (pod.healthy, natural_key(pod.name)))
    rows = [
        (pod.name, pod.ready, pod.status, pod.restarts_text(now), age_text(pod.created, now), pod.node)
        for pod in ordered
    ]
    not_ready = sum(1 for pod in pods if not pod.healthy)
    title = Text(Strong(f"Pods ({len(pods)})"), f", {not_ready} not ready" if not_ready else "")
    return [title, Table.first(("NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"), rows, SHOWN_PODS)]


def _warnings(kube: KubePort, app: App, pods: list[PodRow], now: datetime) -> list[Part]:
    try:
        events = kube.list_events(app.namespace, field_selector="type=Warning")
    except ForbiddenError:
        return [Text(Emphasis("Events: not visible to opsbot here."))]
    names = {pod.name for pod in pods}
    mine = fmt.sort_events([event for event in events if involves(event, app, names)])
    if not mine:
        return [Text(Emphasis("No recent Warning events."))]
    rows = []
    for event in mine[-SHOWN_EVENTS:]:
        moment = fmt.event_time(event)
        seen = short_duration(int((now - moment).total_seconds())) if moment else "?"
        count = int(event.get("count") or 1)
        involved = event.get("involvedObject") or {}
        rows.append(
            (
                seen + (f" (x{count})" if count > 1 else ""),
                str(event.get("reason", "")),
                f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
                fmt.clip(str(event.get("message", "")), 90),
            )
        )
    return [
        Text(Strong("Recent Warning events"), " (newest last)"),
        Table(("LAST SEEN", "REASON", "OBJECT", "MESSAGE"), tuple(rows), total=len(mine)),
    ]


def _versions(ctx: CommandContext, scope: Scope, app: App) -> list[Part]:
    """The last versions it ran: the release history once it has recorded some, else
    (Deployments) the rollout history its ReplicaSets keep."""
    target = f"{app.namespace}/{app.name}"
    records = (
        ctx.releases.versions(app=app.name, cluster=scope.cluster, limit=4 * SHOWN_VERSIONS)
        if ctx.releases is not None
        else []
    )
    seen = [record for record in records if record.target == target][:SHOWN_VERSIONS]
    if seen:
        seen_rows = tuple(
            (
                record.version,
                short_duration(int(ctx.now.timestamp() - record.available_at)),
                _made_by(record),
            )
            for record in seen
        )
        return [
            Text(Strong("Last versions"), " (newest first)"),
            Table(("VERSION", "AGO", "DETAIL"), seen_rows),
        ]
    if app.kind != "Deployment":
        return []
    uid = fmt.meta(app.workload).get("uid")
    try:
        owned = [
            rs
            for rs in ctx.kube.list_replicasets(app.namespace, selector=app.selector)
            if any(ref.get("uid") == uid for ref in fmt.meta(rs).get("ownerReferences") or [])
        ]
    except ForbiddenError:
        return []
    owned.sort(
        key=lambda rs: int((fmt.meta(rs).get("annotations") or {}).get(REVISION, 0) or 0), reverse=True
    )
    rows = [
        (
            str((fmt.meta(rs).get("annotations") or {}).get(REVISION, "?")),
            version_of(rs) or "-",
            fmt.clip(fmt.images(rs), 60),
            f"{fmt.status(rs).get('readyReplicas') or 0}/{fmt.spec(rs).get('replicas', 0)}",
            fmt.age(fmt.meta(rs).get("creationTimestamp"), ctx.now),
        )
        for rs in owned[:SHOWN_VERSIONS]
    ]
    if not rows:
        return []
    return [
        Text(Strong("Rollout history"), " (its ReplicaSets, newest first)"),
        Table(("REVISION", "VERSION", "IMAGE", "READY", "AGE"), tuple(rows), total=len(owned)),
    ]


def _made_by(record: VersionRecord) -> str:
    if record.action is None:
        return "seen rolled out"
    by = record.names.get(record.requested_by, record.requested_by)
    return f"{record.action} by {by}" if by else record.action
