"""Mutating commands. Handlers only *plan* (read the current state, say what will
change); nothing is written until the approval flow calls `execute`.

With `commands.server_dry_run`, planning sends the very patch with `dryRun=All`: the
card then shows the cluster's own answer, and a refusal (RBAC, an admission webhook,
a quota) is reported right away instead of after Confirm. Nothing is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime

from opsbot.commands import formatting as fmt
from opsbot.commands import validation
from opsbot.commands.context import CommandContext
from opsbot.commands.grammar import Invocation
from opsbot.commands.results import ActionPlan, Reply, Text, where
from opsbot.errors import ConflictError, ForbiddenError, InvalidRequestError, KubeError, UsageError
from opsbot.ports import Identity, KubeDirectory, KubeObject, KubePort

_DEPLOYMENT_WORDS = {"deploy", "deployment", "deployments", "deployment.apps", "deploy.apps"}
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
DRY_RUN_NOTE = "accepted by the cluster in a server-side dry run"


def deployment_target(args: tuple[str, ...], command: str) -> tuple[str, tuple[str, ...]]:
    """`deploy/NAME …` or `deploy NAME …` → (name, remaining args)."""
    if not args:
        raise UsageError("say which deployment, e.g. deploy/api", command=command)
    first = args[0]
    if "/" in first:
        kind, _, name = first.partition("/")
        rest = args[1:]
    elif first.lower() in _DEPLOYMENT_WORDS and len(args) > 1:
        kind, name, rest = first, args[1], args[2:]
    else:
        raise UsageError("say which deployment as deploy/NAME", command=command)
    if kind.lower() not in _DEPLOYMENT_WORDS:
        raise UsageError(f"`{command}` works on deployments (deploy/NAME)", command=command)
    return validation.object_name(name, kind="deployment"), rest


def scale(invocation: Invocation, ctx: CommandContext) -> Reply | ActionPlan:
    name, rest = deployment_target(invocation.args, "scale")
    if len(rest) != 1:
        raise UsageError("say how many replicas, e.g. `scale deploy/api 3`", command="scale")
    limit = ctx.settings.scale.max_replicas
    replicas = validation.bounded_int(rest[0], what="replicas", low=0, high=limit)
    namespace = ctx.single_namespace
    current = int(fmt.spec(ctx.kube.get_scale(namespace, name)).get("replicas") or 0)
    if current == replicas:
        return Reply(
            f"deployment/{name} already has {replicas} replicas",
            (Text("Nothing to change."),),
            where=where(ctx.cluster, namespace),
        )
    if ctx.settings.server_dry_run:
        scaled = _dry_run(
            lambda: ctx.kube.scale_deployment(namespace, name, replicas, dry_run=True),
            f"scaling deployment/{name} to {replicas}",
        )
        after = int(fmt.spec(scaled).get("replicas") or 0)
        adjusted = (
            "" if after == replicas else f" (asked for {replicas}; the cluster's admission set {after})"
        )
        changes = [f"replicas {current} → {after}{adjusted}"]
    else:
        after = replicas
        changes = [f"replicas {current} → {replicas}"]
    if after == 0:
        changes.append("every pod of this deployment will be stopped")
    if ctx.settings.server_dry_run:
        changes.append(DRY_RUN_NOTE)
    return ActionPlan(
        verb="scale",
        cluster=ctx.cluster,
        namespace=namespace,
        kind="deployment",
        name=name,
        changes=tuple(changes),
        params={"replicas": replicas, "from": current},
    )


def restart(invocation: Invocation, ctx: CommandContext) -> ActionPlan:
    name, rest = deployment_target(invocation.args, "restart")
    if rest:
        raise UsageError("`restart` takes only the deployment", command="restart")
    namespace = ctx.single_namespace
    if ctx.settings.server_dry_run:
        deployment = _dry_run(
            lambda: ctx.kube.restart_deployment(namespace, name, ctx.now, dry_run=True),
            f"restarting deployment/{name}",
        )
        template = (fmt.spec(deployment).get("template") or {}).get("metadata") or {}
        if not (template.get("annotations") or {}).get(RESTARTED_AT):
            raise InvalidRequestError(
                f"a server-side dry run of restarting deployment/{name} came back without the pod "
                f"template's `{RESTARTED_AT}` annotation (removed by an admission webhook?), so a "
                "restart would replace no pods. Nothing was changed.",
                cluster=ctx.cluster,
            )
    else:
        deployment = ctx.kube.get_deployment(namespace, name)
    selector = fmt.selector_string(deployment)
    pods = ctx.kube.list_pods(namespace, selector=selector) if selector else []
    names = sorted(fmt.name_of(pod) for pod in pods)
    strategy = (fmt.spec(deployment).get("strategy") or {}).get("type", "RollingUpdate")
    changes = [
        f"rollout restart ({strategy}): {len(names)} pod(s) will be replaced",
    ]
    if names:
        shown = ", ".join(f"`{pod}`" for pod in names[:8])
        more = f" and {len(names) - 8} more" if len(names) > 8 else ""
        changes.append(f"pods: {shown}{more}")
    if ctx.settings.server_dry_run:
        changes.append(f"pod template annotation `{RESTARTED_AT}` set: {DRY_RUN_NOTE}")
    return ActionPlan(
        verb="restart",
        cluster=ctx.cluster,
        namespace=namespace,
        kind="deployment",
        name=name,
        changes=tuple(changes),
        params={"pods": len(names)},
    )


def _dry_run(call: Callable[[], KubeObject], what: str) -> KubeObject:
    """Run a dry-run call; a refusal says it happened at planning time and changed nothing."""
    try:
        return call()
    except (ForbiddenError, InvalidRequestError, ConflictError) as exc:
        error: KubeError = type(exc)(
            f"the cluster refused {what} in a server-side dry run (nothing was changed): {exc}",
            cluster=exc.cluster,
        )
        raise error from None


def execute(plan: ActionPlan, kube: KubePort, now: datetime) -> str:
    """Run an approved plan; returns what happened, in one sentence."""
    if plan.verb == "scale":
        wanted = int(plan.params["replicas"])
        expected = int(plan.params["from"])
        current = int(fmt.spec(kube.get_scale(plan.namespace, plan.name)).get("replicas") or 0)
        if current != expected:
            raise ConflictError(
                f"deployment/{plan.name} changed since the request: replicas are now {current}, "
                f"not {expected}. Nothing was changed; run the command again.",
                cluster=plan.cluster,
            )
        kube.scale_deployment(plan.namespace, plan.name, wanted)
        return f"Scaled deployment/{plan.name} from {expected} to {wanted} replicas."
    if plan.verb == "restart":
        kube.restart_deployment(plan.namespace, plan.name, now)
        return f"Restarted deployment/{plan.name}: a new rollout has started."
    raise ValueError(f"unknown action {plan.verb!r}")


async def execute_in(pool: Executor, plan: ActionPlan, clusters: KubeDirectory, now: datetime) -> str:
    """Run an approved plan off the event loop, as the requester when it was planned under
    impersonation (see the router)."""
    identity = Identity(plan.identity[0], tuple(plan.identity[1])) if plan.identity else None
    kube = clusters.get(plan.cluster, identity=identity)
    return await asyncio.get_running_loop().run_in_executor(pool, execute, plan, kube, now)
