"""`status`: one look at a cluster: nodes, pods not fine, restarts, degraded deployments."""

from __future__ import annotations

from collections import Counter

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import ALL_NAMESPACES, CLUSTER, NAMESPACE, CommandSpec, Invocation, KubeUse, always
from opsbot.core.reply import Fields, Icon, Part, Reply, Strong, Table, Text, TextLike, where
from opsbot.errors import ForbiddenError


def status(invocation: Invocation, ctx: CommandContext) -> Reply:
    """One look at the cluster: nodes, pods that are not fine, recent restarts."""
    parts: list[Part] = []
    pairs: list[tuple[str, TextLike]] = []
    tone: str = "info"
    try:
        nodes = ctx.kube.node_rows()
        ready = sum(1 for node in nodes if node.ready)
        pairs.append(("Nodes ready", f"{ready}/{len(nodes)}"))
        if ready < len(nodes):
            tone = "warning"
    except ForbiddenError:
        pairs.append(("Nodes", "not visible (needs the cluster-wide overlay)"))
    pods = ctx.kube.pod_rows(ctx.namespace)
    phases = Counter(pod.phase for pod in pods)
    unhealthy = [pod for pod in pods if not pod.healthy]
    hour_ago = ctx.now.timestamp() - 3600
    restarted = sum(1 for pod in pods if pod.last_restart is not None and pod.last_restart >= hour_ago)
    pairs.append(("Pods", f"{len(pods)} ({', '.join(f'{n} {p}' for p, n in phases.most_common())})"))
    pairs.append(("Pods not ready", str(len(unhealthy))))
    pairs.append(("Restarted in the last hour", str(restarted)))
    deployments = ctx.kube.deployment_rows(ctx.namespace)
    degraded = [deployment for deployment in deployments if deployment.degraded]
    pairs.append(("Deployments below desired", f"{len(degraded)}/{len(deployments)}"))
    leader = ctx.leadership.leader(ctx.cluster) if ctx.leadership is not None else None
    if leader is not None:
        pairs.append(("Alert leader", leader))
    parts.append(Fields(tuple(pairs)))
    if unhealthy:
        tone = "warning"
        rows = [
            (pod.namespace, pod.name, pod.status, pod.restarts_text(ctx.now))
            for pod in sorted(unhealthy, key=lambda pod: -pod.restarts)
        ]
        parts.append(Text(Strong("Pods that are not ready")))
        parts.append(Table.first(("NAMESPACE", "POD", "STATUS", "RESTARTS"), rows, 15))
    if degraded:
        tone = "warning"
        degraded_rows = [(d.namespace, d.name, d.ready) for d in degraded]
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


COMMANDS = (
    CommandSpec(
        "status",
        "Cluster summary: nodes ready, pods not running, recent restarts",
        "status [-n NS | -A] [--cluster NAME]",
        status,
        examples=("status", "status -n web"),
        options=(NAMESPACE, ALL_NAMESPACES, CLUSTER),
        aliases=("health",),
        kube=(KubeUse("node_rows", everywhere=True), KubeUse("pod_rows"), KubeUse("deployment_rows")),
        heavy=always,
    ),
)
