"""`describe pod|deploy|node NAME`, or an app (`describe` for yours, `describe app/NAME`):
a readable summary, never a raw YAML dump."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsbot.commands.appscoped import target
from opsbot.commands.appscoped.describe import describe_app
from opsbot.commands.context import CommandContext
from opsbot.commands.kinds import KIND_WORDS
from opsbot.commands.spec import ONE_OBJECT, CommandSpec, Invocation, KubeUse
from opsbot.core import kubeobjects as fmt
from opsbot.core import validation
from opsbot.core.durations import short_duration
from opsbot.core.reply import Emphasis, Fields, Mono, Part, Reply, Strong, Table, Text, on_cluster, where
from opsbot.errors import ForbiddenError, UsageError
from opsbot.ports import KubeObject

RECENT_EVENTS = 10


def describe(invocation: Invocation, ctx: CommandContext) -> Reply:
    if not invocation.args:
        return _app(ctx, None, None)
    kind_word, name = _target(invocation.args)
    if kind_word.lower() in APP_WORDS:
        return _app(ctx, target.APP_KINDS[kind_word.lower()], validation.object_name(name, kind="app"))
    kind = KIND_WORDS.get(kind_word.lower())
    if kind == "Pod":
        return _describe_pod(validation.object_name(name, kind="pod"), ctx)
    if kind == "Deployment":
        return _describe_deployment(validation.object_name(name, kind="deployment"), ctx)
    if kind == "Node":
        return _describe_node(validation.object_name(name, kind="node"), ctx)
    raise UsageError(f"cannot describe {kind_word[:30]!r}: use pod, deploy, node or app", command="describe")


APP_WORDS = {word for word, kind in target.APP_KINDS.items() if kind != "Deployment"}
"""`app/NAME`, `sts/NAME`, `ds/NAME` describe an app; `deploy/NAME` keeps its own view."""


def _app(ctx: CommandContext, kind: str | None, name: str | None) -> Reply:
    scope = target.scope_with_app(ctx, name, "describe", "object, e.g. `describe pod api-7d9f`")
    assert scope.app is not None
    app = target.find_app(ctx.kube, scope.cluster, ctx.single_namespace, scope.app, kind=kind or scope.app_kind)
    return describe_app(ctx, scope, app, target.app_pods(ctx.kube, app))


def _target(args: tuple[str, ...]) -> tuple[str, str]:
    if len(args) == 1 and "/" in args[0]:
        kind, _, name = args[0].partition("/")
        return kind, name
    if len(args) == 2:
        return args[0], args[1]
    raise UsageError("say what to describe, e.g. `describe pod api-7d9f`", command="describe")


def _state_text(state: dict[str, Any], now: datetime) -> str:
    if not state:
        return "-"
    if "running" in state:
        started = (state.get("running") or {}).get("startedAt")
        return f"Running (since {fmt.age(started, now)})"
    if "waiting" in state:
        waiting = state.get("waiting") or {}
        return f"Waiting: {waiting.get('reason', '')}"
    terminated = state.get("terminated") or {}
    finished = terminated.get("finishedAt")
    text = f"Terminated: {terminated.get('reason', '')} (exit {terminated.get('exitCode', '?')})"
    return text + (f" {fmt.age(finished, now)} ago" if finished else "")


def _events_for(ctx: CommandContext, kind: str, name: str, namespace: str | None) -> list[Part]:
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    if namespace:
        selector += f",involvedObject.namespace={namespace}"
    try:
        items = fmt.sort_events(ctx.kube.list_events(namespace, field_selector=selector))
    except ForbiddenError:
        return [Text(Emphasis("Events: not visible to opsbot here."))]
    if not items:
        return [Text(Emphasis("No recent events."))]
    rows: list[tuple[str, ...]] = []
    for event in items[-RECENT_EVENTS:]:
        moment = fmt.event_time(event)
        seen = short_duration(int((ctx.now - moment).total_seconds())) if moment else "?"
        count = int(event.get("count") or 1)
        rows.append(
            (
                seen + (f" (x{count})" if count > 1 else ""),
                str(event.get("type", "")),
                str(event.get("reason", "")),
                fmt.clip(str(event.get("message", "")), 100),
            )
        )
    return [
        Text(Strong("Recent events")),
        Table(("LAST SEEN", "TYPE", "REASON", "MESSAGE"), tuple(rows), total=len(items)),
    ]


def _conditions_text(obj: KubeObject) -> str:
    lines = []
    for item in fmt.status(obj).get("conditions") or []:
        if not isinstance(item, dict):
            continue
        line = f"{item.get('type')}={item.get('status')}"
        if item.get("reason"):
            line += f" ({item['reason']})"
        lines.append(line)
    return ", ".join(lines) or "-"


def _describe_pod(name: str, ctx: CommandContext) -> Reply:
    namespace = ctx.single_namespace
    pod = ctx.kube.get_pod(namespace, name)
    metadata = fmt.meta(pod)
    state = fmt.status(pod)
    owner = fmt.owner(pod)
    labels = metadata.get("labels") or {}
    pairs = [
        ("Status", fmt.pod_status(pod)),
        ("Ready", fmt.pod_ready(pod)),
        ("Restarts", fmt.pod_restarts(pod, ctx.now)),
        ("Node", str(fmt.spec(pod).get("nodeName") or "<none>")),
        ("Pod IP", str(state.get("podIP") or "<none>")),
        ("Age", fmt.age(metadata.get("creationTimestamp"), ctx.now)),
        ("Controlled by", f"{owner[0]}/{owner[1]}" if owner else "<none>"),
        ("QoS", str(state.get("qosClass") or "-")),
    ]
    if state.get("reason") or state.get("message"):
        pairs.append(("Reason", fmt.clip(f"{state.get('reason', '')} {state.get('message', '')}", 200)))
    images = {str(c.get("name")): str(c.get("image", "")) for c in fmt.spec(pod).get("containers") or []}
    rows = []
    for container in fmt.init_container_statuses(pod) + fmt.container_statuses(pod):
        cname = str(container.get("name", ""))
        rows.append(
            (
                cname,
                fmt.clip(images.get(cname, str(container.get("image", ""))), 50),
                _state_text(container.get("state") or {}, ctx.now),
                "yes" if container.get("ready") else "no",
                str(container.get("restartCount", 0)),
                _state_text(container.get("lastState") or {}, ctx.now),
            )
        )
    parts: list[Part] = [Fields(tuple(pairs))]
    if rows:
        parts.append(Text(Strong("Containers")))
        parts.append(Table(("NAME", "IMAGE", "STATE", "READY", "RESTARTS", "LAST STATE"), tuple(rows)))
    resources = _resources_text(pod)
    if resources:
        parts.append(Text(Strong("Resources:"), " ", resources))
    parts.append(Text(Strong("Conditions:"), " ", _conditions_text(pod)))
    if labels:
        parts.append(
            Text(
                Strong("Labels:"), " ", Text.join(", ", (Mono(f"{k}={v}") for k, v in sorted(labels.items())))
            )
        )
    parts.extend(_events_for(ctx, "Pod", name, namespace))
    healthy = fmt.pod_is_healthy(pod)
    return Reply(
        f"Pod {name}",
        tuple(parts),
        where=where(ctx.cluster, namespace),
        tone="info" if healthy else "warning",
    )


def _resources_text(pod: KubeObject) -> str:
    """Requests and limits per container (what an OOM kill is measured against)."""

    def amounts(values: object) -> str:
        found = values if isinstance(values, dict) else {}
        return ", ".join(f"{key} {found[key]}" for key in ("cpu", "memory") if key in found)

    lines = []
    for container in fmt.spec(pod).get("containers") or []:
        resources = container.get("resources") or {}
        requests, limits = amounts(resources.get("requests")), amounts(resources.get("limits"))
        said = "; ".join(
            part
            for part in (f"requests {requests}" if requests else "", f"limits {limits}" if limits else "")
            if part
        )
        lines.append(f"{container.get('name', '?')}: {said or 'no requests or limits'}")
    return " · ".join(lines)


def _describe_deployment(name: str, ctx: CommandContext) -> Reply:
    namespace = ctx.single_namespace
    deployment = ctx.kube.get_deployment(namespace, name)
    metadata = fmt.meta(deployment)
    state = fmt.status(deployment)
    desired = int(fmt.spec(deployment).get("replicas", 1))
    strategy = fmt.spec(deployment).get("strategy") or {}
    pairs = [
        (
            "Replicas",
            f"{desired} desired · {state.get('updatedReplicas') or 0} updated · "
            f"{state.get('readyReplicas') or 0} ready · {state.get('availableReplicas') or 0} available",
        ),
        ("Strategy", str(strategy.get("type", "RollingUpdate"))),
        ("Selector", fmt.selector_string(deployment) or "<none>"),
        ("Images", fmt.images(deployment) or "-"),
        ("Revision", str((metadata.get("annotations") or {}).get("deployment.kubernetes.io/revision", "-"))),
        ("Age", fmt.age(metadata.get("creationTimestamp"), ctx.now)),
    ]
    restarted = (
        ((fmt.spec(deployment).get("template") or {}).get("metadata") or {}).get("annotations") or {}
    ).get("kubectl.kubernetes.io/restartedAt")
    if restarted:
        pairs.append(("Last restart", f"{fmt.age(restarted, ctx.now)} ago"))
    parts: list[Part] = [Fields(tuple(pairs)), Text(Strong("Conditions:"), " ", _conditions_text(deployment))]
    uid = metadata.get("uid")
    try:
        replicasets = [
            rs
            for rs in ctx.kube.list_replicasets(namespace, selector=fmt.selector_string(deployment))
            if any(ref.get("uid") == uid for ref in fmt.meta(rs).get("ownerReferences") or [])
        ]
    except ForbiddenError:
        replicasets = []
    if replicasets:
        replicasets.sort(
            key=lambda rs: int(
                (fmt.meta(rs).get("annotations") or {}).get("deployment.kubernetes.io/revision", 0) or 0
            ),
            reverse=True,
        )
        rows = [
            (
                fmt.name_of(rs),
                str(fmt.spec(rs).get("replicas", 0)),
                str(fmt.status(rs).get("readyReplicas") or 0),
                fmt.age(fmt.meta(rs).get("creationTimestamp"), ctx.now),
            )
            for rs in replicasets[:5]
        ]
        parts.append(Text(Strong("ReplicaSets"), " (newest first)"))
        parts.append(Table(("NAME", "DESIRED", "READY", "AGE"), tuple(rows), total=len(replicasets)))
    parts.extend(_events_for(ctx, "Deployment", name, namespace))
    healthy = int(state.get("availableReplicas") or 0) >= desired
    return Reply(
        f"Deployment {name}",
        tuple(parts),
        where=where(ctx.cluster, namespace),
        tone="info" if healthy else "warning",
    )


def _describe_node(name: str, ctx: CommandContext) -> Reply:
    node = ctx.kube.get_node(name)
    metadata = fmt.meta(node)
    state = fmt.status(node)
    info = state.get("nodeInfo") or {}
    capacity = state.get("capacity") or {}
    allocatable = state.get("allocatable") or {}
    taints = fmt.spec(node).get("taints") or []
    addresses = ", ".join(f"{a.get('type')}={a.get('address')}" for a in state.get("addresses") or [])
    pairs = [
        ("Status", fmt.node_status(node)),
        ("Roles", fmt.node_roles(node)),
        ("Version", fmt.node_version(node)),
        ("Age", fmt.age(metadata.get("creationTimestamp"), ctx.now)),
        ("OS / arch", f"{info.get('osImage', '-')} / {info.get('architecture', '-')}"),
        ("Runtime", str(info.get("containerRuntimeVersion", "-"))),
        ("Addresses", addresses or "-"),
        (
            "Allocatable",
            f"cpu {allocatable.get('cpu', '?')}/{capacity.get('cpu', '?')}, "
            f"memory {allocatable.get('memory', '?')}/{capacity.get('memory', '?')}, "
            f"pods {allocatable.get('pods', '?')}",
        ),
    ]
    if taints:
        pairs.append(("Taints", ", ".join(f"{t.get('key')}:{t.get('effect')}" for t in taints)))
    parts: list[Part] = [Fields(tuple(pairs))]
    rows = []
    for item in state.get("conditions") or []:
        if isinstance(item, dict):
            rows.append(
                (
                    str(item.get("type", "")),
                    str(item.get("status", "")),
                    str(item.get("reason", "")),
                    fmt.clip(str(item.get("message", "")), 80),
                )
            )
    if rows:
        parts.append(Text(Strong("Conditions")))
        parts.append(Table(("TYPE", "STATUS", "REASON", "MESSAGE"), tuple(rows)))
    try:
        pods_on_node = ctx.kube.list_pods(None, field_selector=f"spec.nodeName={name}")
        parts.append(Text(Strong("Pods on this node:"), f" {len(pods_on_node)}"))
    except ForbiddenError:
        pass
    parts.extend(_events_for(ctx, "Node", name, None))
    ready = fmt.node_status(node).startswith("Ready")
    return Reply(
        f"Node {name}", tuple(parts), where=on_cluster(ctx.cluster), tone="info" if ready else "warning"
    )


COMMANDS = (
    CommandSpec(
        "describe",
        "A readable summary of a pod, deployment, node or app with recent events",
        "describe pod|deploy|node|app NAME [-n NS]; describe (your app)",
        describe,
        examples=(
            "describe pod api-7d9f-x2k4p",
            "describe deploy api -n web",
            "describe node node-1",
            "describe",
            "describe app/podinfo",
        ),
        help=(
            "Without a name: your app (`use APP`), its rollout, pods, Warning events, version and the "
            "last versions it ran; `app/NAME` (or `sts/NAME`, `ds/NAME`) names one."
        ),
        options=ONE_OBJECT,
        max_args=2,
        aliases=("desc",),
        kube=(
            KubeUse("get_pod"),
            KubeUse("list_events"),
            KubeUse("get_deployment"),
            KubeUse("list_replicasets"),
            KubeUse("get_node", everywhere=True),
            KubeUse("list_pods", everywhere=True),  # pods on the node
            KubeUse("list_events", everywhere=True),  # the node's events
            *target.KUBE,  # an app: finding it and its pods
        ),
    ),
)
