"""What mutating commands share: naming the deployment, and planning with a server-side dry run.

With `commands.server_dry_run`, planning sends the very patch with `dryRun=All`: the
card then shows the cluster's own answer, and a refusal (RBAC, an admission webhook,
a quota) is reported right away instead of after Confirm. Nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable

from opsbot.commands.context import CommandContext
from opsbot.core import validation
from opsbot.errors import ConflictError, ForbiddenError, InvalidRequestError, KubeError, UsageError
from opsbot.ports import KubeObject

_DEPLOYMENT_WORDS = {"deploy", "deployment", "deployments", "deployment.apps", "deploy.apps"}
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


def app_deployment(ctx: CommandContext, command: str) -> tuple[str, str]:
    """The deployment a command without a name means: the scope's app (the person's
    context or the channel's) → (name, where it came from, for the card)."""
    scope = ctx.scope
    if scope is None or scope.app is None:
        raise UsageError(
            "say which deployment, e.g. deploy/api, or set your app once with `use APP`", command=command
        )
    if scope.app_kind not in (None, "Deployment"):
        raise UsageError(
            f"`{command}` works on deployments; {scope.app} is a {scope.app_kind}", command=command
        )
    return scope.app, scope.origin_line(app=True)


def dry_run(call: Callable[[], KubeObject], what: str) -> KubeObject:
    """Run a dry-run call; a refusal says it happened at planning time and changed nothing."""
    try:
        return call()
    except (ForbiddenError, InvalidRequestError, ConflictError) as exc:
        error: KubeError = type(exc)(
            f"the cluster refused {what} in a server-side dry run (nothing was changed): {exc}",
            cluster=exc.cluster,
        )
        raise error from None
