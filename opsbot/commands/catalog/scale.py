"""`scale deploy/NAME N`: plan `replicas a → b` (server-side dry run), then patch deployments/scale."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import ONE_OBJECT, ActionContext, CommandSpec, Invocation, KubeUse
from opsbot.commands.workloads import DRY_RUN_NOTE, app_deployment, deployment_target, dry_run
from opsbot.core import kubeobjects as fmt
from opsbot.core import validation
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Reply, Text, where
from opsbot.errors import ConflictError, UsageError
from opsbot.policy.settings import Group


def plan(invocation: Invocation, ctx: CommandContext) -> Reply | ActionPlan:
    origin = ""
    rest: tuple[str, ...] = invocation.args
    if len(rest) == 1 and rest[0].strip().isdigit():
        name, origin = app_deployment(ctx, "scale")
    else:
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
        scaled = dry_run(
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
        origin=origin,
    )


def execute(plan: ActionPlan, ctx: ActionContext) -> str:
    """Scale, unless someone changed the replicas since the plan was made."""
    wanted = int(plan.params["replicas"])
    expected = int(plan.params["from"])
    current = int(fmt.spec(ctx.kube.get_scale(plan.namespace, plan.name)).get("replicas") or 0)
    if current != expected:
        raise ConflictError(
            f"deployment/{plan.name} changed since the request: replicas are now {current}, "
            f"not {expected}. Nothing was changed; run the command again.",
            cluster=plan.cluster,
        )
    ctx.kube.scale_deployment(plan.namespace, plan.name, wanted)
    return f"Scaled deployment/{plan.name} from {expected} to {wanted} replicas."


COMMANDS = (
    CommandSpec(
        "scale",
        "Set a deployment's replica count",
        "scale deploy/NAME REPLICAS [-n NS]; scale REPLICAS (your app)",
        plan,
        group=Group.WRITE,
        execute=execute,
        dangerous=lambda plan: plan.params.get("replicas") == 0,
        kube=(KubeUse("get_scale"), KubeUse("scale_deployment")),
        examples=("scale deploy/api 3 -n web", "scale deploy/worker 0", "scale 3"),
        options=ONE_OBJECT,
        help="Without a name: your app (`use APP`), or the channel's.",
        min_args=1,
        max_args=3,
    ),
)
