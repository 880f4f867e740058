"""`hello`: greetings and small talk, answered like a colleague would.

"hi", "good morning", a bare mention: greet the person by name, say in one line how their
cluster and app are doing (from the watch caches when they cover it), and offer the next
steps as buttons that run the command in the same thread. "what's up?" is answered by
`status` (see `opsbot.commands.smalltalk`); "thanks" and "bye" get a short word back.
"""

from __future__ import annotations

from opsbot.commands.appscoped import target
from opsbot.commands.context import CommandContext
from opsbot.commands.scope import Scope
from opsbot.commands.smalltalk import Talk, small_talk
from opsbot.commands.spec import CommandSpec, Invocation, KubeUse
from opsbot.core.durations import short_duration
from opsbot.core.reply import Icon, Mention, Mono, Reply, Strong, Text, TextLike, run_buttons
from opsbot.errors import ForbiddenError, NotFoundError


def hello(invocation: Invocation, ctx: CommandContext) -> Reply:
    talk = small_talk(invocation.text) or Talk.GREETING
    name: TextLike = ctx.request.user_name or Text(Mention(ctx.request.user_id))
    scope = ctx.scope or Scope(ctx.cluster, ctx.namespace)
    if talk is Talk.THANKS:
        return Reply(Text("Any time, ", name, "."), where=scope.header(app=True))
    if talk is Talk.BYE:
        kept = ""
        if ctx.contexts is not None and scope.app_from is not None:
            kept = f" I keep your context here for {short_duration(int(ctx.contexts.idle_seconds))} of quiet."
        return Reply(
            Text("See you, ", name, "."), (Text(kept),) if kept else (), where=scope.header(app=True)
        )
    state, healthy = state_line(ctx, scope)
    parts = [state]
    if scope.app is None:
        parts.append(
            Text(
                "Tell me your app once with ", Mono("use APP"), " and ", Mono("logs"), ", ",
                Mono("describe"), ", ", Mono("pods"), ", ", Mono("events"), " and ", Mono("restart"),
                " work on it without names.",
            )
        )  # fmt: skip
    choices = [("Status", "status"), ("Pods of my app" if scope.app else "Pods", "pods")]
    if ctx.alerts is not None:
        choices.append(("Incidents", "incidents"))
    choices.append(("Help", "help"))
    return Reply(
        Text(_salute(invocation.text), ", ", name, "!"),
        tuple(parts),
        where=scope.header(app=True),
        tone="info" if healthy else "warning",
        buttons=run_buttons(*choices),
    )


def state_line(ctx: CommandContext, scope: Scope) -> tuple[Text, bool]:
    """``prod · web: 42 pods, 1 not ready, 1 incident open · podinfo 3/3 ready``."""
    pods = ctx.kube.pod_rows(scope.namespace)
    not_ready = sum(1 for pod in pods if not pod.healthy)
    line = Text(Strong(scope.cluster), " · ", Mono(scope.namespace or "all namespaces"), ": ")
    if not pods:
        line += Text("no pods")
    else:
        line += Text(
            f"{len(pods)} pods",
            Text(", ", Strong(str(not_ready)), " not ready") if not_ready else ", all ready",
        )
    healthy = not not_ready
    if ctx.alerts is not None:
        open_here = sum(1 for incident in ctx.alerts.open_incidents() if incident.cluster == scope.cluster)
        healthy = healthy and not open_here
        line += Text(", ", Strong(str(open_here)), f" incident{'' if open_here == 1 else 's'} open")
    if scope.app is not None and scope.namespace is not None:
        ready = _app_ready(ctx, scope, scope.app, scope.namespace)
        if ready is None:
            line += Text(" · ", Icon.WARNING, " ", Mono(scope.app), " not found here")
            return line, False
        fine = ready.partition("/")[0] == ready.partition("/")[2]
        healthy = healthy and fine
        line += Text(" · ", Icon.SUCCESS if fine else Icon.WARNING, " ", Mono(scope.app), f" {ready} ready")
    return line, healthy


def _app_ready(ctx: CommandContext, scope: Scope, app: str, namespace: str) -> str | None:
    """``ready/desired`` of the app: a Deployment's from its row (the cache), else found live."""
    if scope.app_kind in (None, "Deployment"):
        row = next((row for row in ctx.kube.deployment_rows(namespace) if row.name == app), None)
        if row is not None:
            return row.ready
    try:
        return target.find_app(ctx.kube, scope.cluster, namespace, app, kind=scope.app_kind).ready
    except (NotFoundError, ForbiddenError):
        return None


def _salute(text: str) -> str:
    lowered = text.lower()
    for part in ("morning", "afternoon", "evening"):
        if part in lowered:
            return f"Good {part}"
    return "Hi"


COMMANDS = (
    CommandSpec(
        "hello",
        "Say hi: how your cluster and app are doing, and what to do next",
        "hello",
        hello,
        examples=("hello", "hi", "good morning", "what's up?"),
        help="Greetings and small talk need no command word: mention me with “hi” or “what's up?”.",
        max_args=20,
        kube=(KubeUse("pod_rows"), *target.KUBE),
    ),
)
