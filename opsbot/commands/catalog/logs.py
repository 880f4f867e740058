"""`logs POD`: recent log lines of a container; `logs` (your app) or `logs app/NAME`: the
app's pods merged by timestamp. Long output as a file."""

from __future__ import annotations

from opsbot.commands.appscoped import logs as applogs
from opsbot.commands.appscoped import target
from opsbot.commands.context import CommandContext
from opsbot.commands.scope import Scope
from opsbot.commands.spec import ONE_OBJECT, CommandSpec, Invocation, KubeUse, Option
from opsbot.core import kubeobjects as fmt
from opsbot.core import validation
from opsbot.core.durations import count
from opsbot.core.kubeobjects import KubeObject
from opsbot.core.reply import Code, Emphasis, FileAttachment, Mono, Part, Reply, Strong, Text, where
from opsbot.errors import InvalidRequestError

INLINE_CHARS = 2500


def logs(invocation: Invocation, ctx: CommandContext) -> Reply:
    named = target.named_app(invocation.args[0]) if invocation.args else None
    if not invocation.args or named is not None:
        kind, name = named if named is not None else (None, None)
        return app_logs(invocation, ctx, target.scope_with_app(ctx, name, "logs", "pod (or app/NAME)"), kind)
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
    label = f"{pod}" + (f" -c {container}" if container else "") + (" (previous)" if previous else "")
    place = where(ctx.cluster, namespace)
    try:
        text = ctx.kube.read_pod_log(
            namespace,
            pod,
            container=container,
            tail_lines=tail,
            previous=previous,
            since_seconds=since,
            limit_bytes=settings.max_bytes,
        )
    except InvalidRequestError:
        # The API server refuses logs of a container that never ran; say why from the pod itself.
        why = _not_started(ctx.kube.get_pod(namespace, pod), container)
        if why is None:
            raise
        return Reply(f"No logs yet for {label}", (why,), where=place, tone="warning")
    lines = text.splitlines()
    if not lines:
        window = f" in the last {since_text}" if since_text else ""
        return Reply(f"Logs of {label}", (Text(f"No log lines{window}."),), where=place)
    if len(lines) <= settings.inline_max_lines and len(text) <= INLINE_CHARS:
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


def _not_started(pod: KubeObject, container: str | None) -> Text | None:
    """Why a container has no logs, if it has not started: the pod's phase and the waiting reason."""
    statuses = [*fmt.init_container_statuses(pod), *fmt.container_statuses(pod)]
    chosen = [s for s in statuses if container is None or s.get("name") == container]
    for status in chosen:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting and not (status.get("lastState") or {}).get("terminated"):
            reason = str(waiting.get("reason") or "waiting")
            message = str(waiting.get("message") or "")
            phase = str(fmt.status(pod).get("phase") or "Pending")
            line = Text(
                "Container ",
                Mono(str(status.get("name", ""))),
                f" has not started yet (pod {phase}: ",
                Strong(reason),
                ").",
            )
            return (
                line
                + (Text("\n", message) if message else Text())
                + Text(
                    "\nTry ",
                    Mono(f"describe pod {fmt.name_of(pod)}"),
                    " or ",
                    Mono(f"events --for pod/{fmt.name_of(pod)}"),
                    ".",
                )
            )
    if not statuses and str(fmt.status(pod).get("phase")) == "Pending":
        return Text(
            "The pod is Pending and not scheduled yet: no container has started. Try ",
            Mono(f"describe pod {fmt.name_of(pod)}"),
            ".",
        )
    return None


def app_logs(invocation: Invocation, ctx: CommandContext, scope: Scope, kind: str | None) -> Reply:
    """The app's pods' logs merged by timestamp, most restarted pods first, bounded."""
    assert scope.app is not None and scope.namespace is not None
    settings = ctx.settings.logs
    tail_text = invocation.value("tail")
    tail = (
        validation.bounded_int(tail_text, what="--tail", low=1, high=settings.max_tail)
        if tail_text is not None
        else settings.default_tail
    )
    since_text = invocation.value("since")
    since = validation.duration_seconds(since_text) if since_text else None
    container_opt = invocation.value("container")
    container = validation.container_name(container_opt) if container_opt else None
    previous = invocation.flag("previous")
    app = target.find_app(ctx.kube, scope.cluster, scope.namespace, scope.app, kind=kind or scope.app_kind)
    pods, left_out = applogs.pick_pods(target.app_pods(ctx.kube, app), settings.max_pods, previous=previous)
    label = f"{app.name}" + (f" -c {container}" if container else "") + (" (previous)" if previous else "")
    header = scope.header(app=True)
    if not pods:
        none = "none of its pods has restarted" if previous else "it has no pods"
        return Reply(f"Logs of {label}", (Text(f"No logs: {none}."),), where=header)
    fetched = applogs.fetch(
        ctx.kube,
        app,
        applogs.streams(pods, app.containers, container),
        tail=tail,
        since=since,
        previous=previous,
        max_bytes=settings.max_bytes,
    )
    merged = applogs.merge(
        fetched, max_bytes=settings.max_bytes, keep_timestamps=invocation.flag("timestamps")
    )
    text = "\n".join(merged.lines) + ("\n" if merged.lines else "")
    shown = len({item.stream.pod for item in fetched if not item.error})
    summary: list[Part] = [
        Text(
            Strong(str(len(merged.lines))), f" lines from {shown} of {count(len(pods), 'pod')}, ",
            f"{tail} per container, oldest first" + (f", last {since_text}" if since_text else "") + ".",
        )
    ]  # fmt: skip
    if left_out:
        summary.append(
            Text(
                Emphasis(
                    f"{count(left_out, 'more pod')} not read (at most {settings.max_pods}, most restarted first)."
                )
            )
        )
    if merged.cut_lines:
        summary.append(
            Text(Emphasis(f"{count(merged.cut_lines, 'older line')} cut to stay within {settings.max_bytes} bytes."))
        )
    summary.extend(
        Text(Emphasis("No logs from "), Mono(item.stream.pod), Emphasis(f": {fmt.clip(item.error, 200)}"))
        for item in fetched
        if item.error
    )
    if not merged.lines:
        return Reply(f"Logs of {label}", (*summary, Text("No log lines.")), where=header)
    if len(merged.lines) <= settings.inline_max_lines and len(text) <= INLINE_CHARS:
        return Reply(f"Logs of {label}", (*summary, Code(text.rstrip("\n"))), where=header)
    newest = merged.lines[-5:]
    filename = f"{scope.cluster}_{scope.namespace}_{app.name}" + ("_previous.log" if previous else ".log")
    return Reply(
        f"Logs of {label}",
        (*summary, Text(f"They are in the attached file; the newest {len(newest)}:")),
        where=header,
        attachment=FileAttachment(
            filename=filename,
            content=text,
            title=f"{label} — {scope.cluster}/{scope.namespace}",
            preview="\n".join(fmt.clip(line, 200) for line in newest),
        ),
    )


COMMANDS = (
    CommandSpec(
        "logs",
        "Recent log lines of a pod's container (long output comes as a file)",
        "logs POD|app/NAME [-c CONTAINER] [--tail N] [--previous] [--since 10m] [-n NS]; logs (your app)",
        logs,
        examples=(
            "logs api-7d9f-x2k4p",
            "logs api-7d9f-x2k4p -c app --tail 200 --previous",
            "logs api-7d9f-x2k4p --since 10m",
            "logs",
            "logs app/podinfo --previous",
        ),
        help=(
            "Without a pod: your app's pods (`use APP`, or `app/NAME`, `deploy/NAME`, `sts/NAME`), "
            "merged by time with a [pod/NAME] prefix; --tail counts per container, and --previous "
            "reads only the pods that restarted."
        ),
        options=(
            Option("container", ("-c", "--container"), metavar="NAME", help="container"),
            Option("tail", ("--tail",), metavar="N", help="last N lines"),
            Option(
                "previous",
                ("-p", "--previous"),
                takes_value=False,
                help="the previous (crashed) container",
            ),
            Option("since", ("--since",), metavar="DURATION", help="only lines newer than e.g. 10m"),
            Option("timestamps", ("--timestamps",), takes_value=False, help="keep timestamps (app logs)"),
            *ONE_OBJECT,
        ),
        max_args=1,
        aliases=("log",),
        kube=(KubeUse("read_pod_log"), KubeUse("get_pod"), *target.KUBE),
    ),
)
