"""`status`: one look at a cluster: nodes, pods not fine, restarts, degraded deployments."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import ALL_NAMESPACES, CLUSTER, NAMESPACE, CommandSpec, Invocation, KubeUse
from opsbot.core import kubeobjects as fmt
from opsbot.core.reply import Fields, Icon, Part, Reply, Strong, Table, Text, TextLike, where
from opsbot.errors import ForbiddenError
from opsbot.ports import KubeObject


def status(invocation: Invocation, ctx: CommandContext) -> Reply:
    """One look at the cluster: nodes, pods that are not fine, recent restarts."""
    parts: list[Part] = []
    pairs: list[tuple[str, TextLike]] = []
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
        parts.append(Text(Strong("Pods that are not ready")))
        parts.append(Table.first(("NAMESPACE", "POD", "STATUS", "RESTARTS"), rows, 15))
    if degraded:
        tone = "warning"
        degraded_rows = [(fmt.namespace_of(d), fmt.name_of(d), fmt.deployment_ready(d)) for d in degraded]
        parts.append(Text(Strong("Deployments below desired availability")))
        parts.append(Table.first(("NAMESPACE", "DEPLOYMENT", "READY"), degraded_rows, 15))
    if tone == "info":
        parts.append(Text(Icon.SUCCESS, " Everything looks healthy."))
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


COMMANDS = (
    CommandSpec(
        "status",
        "Cluster summary: nodes ready, pods not running, recent restarts",
        "status [-n NS | -A] [--cluster NAME]",
        status,
        examples=("status", "status -n web"),
        options=(NAMESPACE, ALL_NAMESPACES, CLUSTER),
        aliases=("health",),
        kube=(KubeUse("list_nodes", everywhere=True), KubeUse("list_pods"), KubeUse("list_deployments")),
    ),
)
