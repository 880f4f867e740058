"""`logs POD`: recent log lines of a container; long output as a file."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import ONE_OBJECT, CommandSpec, Invocation, KubeUse, Option
from opsbot.core import kubeobjects as fmt
from opsbot.core import validation
from opsbot.core.kubeobjects import KubeObject
from opsbot.core.reply import Code, FileAttachment, Mono, Reply, Strong, Text, where
from opsbot.errors import InvalidRequestError


def logs(invocation: Invocation, ctx: CommandContext) -> Reply:
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
    if len(lines) <= settings.inline_max_lines and len(text) <= 2500:
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


COMMANDS = (
    CommandSpec(
        "logs",
        "Recent log lines of a pod's container (long output comes as a file)",
        "logs POD [-c CONTAINER] [--tail N] [--previous] [--since 10m] [-n NS]",
        logs,
        examples=(
            "logs api-7d9f-x2k4p",
            "logs api-7d9f-x2k4p -c app --tail 200 --previous",
            "logs api-7d9f-x2k4p --since 10m",
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
            *ONE_OBJECT,
        ),
        min_args=1,
        max_args=1,
        aliases=("log",),
        kube=(KubeUse("read_pod_log"), KubeUse("get_pod")),
    ),
)
