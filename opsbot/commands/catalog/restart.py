"""`restart deploy/NAME` (or your app's): a rollout restart, like `kubectl rollout restart`."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import ONE_OBJECT, ActionContext, CommandSpec, Invocation, KubeUse
from opsbot.commands.workloads import DRY_RUN_NOTE, app_deployment, deployment_target, dry_run
from opsbot.core import kubeobjects as fmt
from opsbot.core.durations import count
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Mono, Text, TextLike
from opsbot.errors import InvalidRequestError, UsageError
from opsbot.policy.settings import Group

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def plan(invocation: Invocation, ctx: CommandContext) -> ActionPlan:
    origin = ""
    if invocation.args:
        name, rest = deployment_target(invocation.args, "restart")
        if rest:
            raise UsageError("`restart` takes only the deployment", command="restart")
    else:
        name, origin = app_deployment(ctx, "restart")
    namespace = ctx.single_namespace
    if ctx.settings.server_dry_run:
        deployment = dry_run(
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
    changes: list[TextLike] = [
        f"rollout restart ({strategy}): {count(len(names), 'pod')} will be replaced",
    ]
    if names:
        shown = Text.join(", ", (Mono(pod) for pod in names[:8]))
        more = f" and {len(names) - 8} more" if len(names) > 8 else ""
        changes.append(Text("pods: ", shown, more))
    if ctx.settings.server_dry_run:
        changes.append(Text("pod template annotation ", Mono(RESTARTED_AT), f" set: {DRY_RUN_NOTE}"))
    return ActionPlan(
        verb="restart",
        cluster=ctx.cluster,
        namespace=namespace,
        kind="deployment",
        name=name,
        changes=tuple(changes),
        params={"pods": len(names)},
        origin=origin,
    )


def execute(plan: ActionPlan, ctx: ActionContext) -> str:
    ctx.kube.restart_deployment(plan.namespace, plan.name, ctx.now)
    return f"Restarted deployment/{plan.name}: a new rollout has started."


COMMANDS = (
    CommandSpec(
        "restart",
        "Rollout restart of a deployment (like kubectl rollout restart)",
        "restart deploy/NAME [-n NS]; restart (your app)",
        plan,
        group=Group.WRITE,
        execute=execute,
        kube=(KubeUse("restart_deployment"), KubeUse("get_deployment"), KubeUse("list_pods")),
        examples=("restart deploy/api -n web", "restart"),
        options=ONE_OBJECT,
        help="Without a name: your app (`use APP`), or the channel's.",
        max_args=2,
        aliases=("rollout-restart",),
    ),
)
