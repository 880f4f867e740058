"""`logs POD`: recent log lines of a container; long output as a file."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import ONE_OBJECT, CommandSpec, Invocation, KubeUse, Option
from opsbot.core import kubeobjects as fmt
from opsbot.core import validation
from opsbot.core.reply import Code, FileAttachment, Reply, Text, where


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
    text = ctx.kube.read_pod_log(
        namespace,
        pod,
        container=container,
        tail_lines=tail,
        previous=previous,
        since_seconds=since,
        limit_bytes=settings.max_bytes,
    )
    lines = text.splitlines()
    label = f"{pod}" + (f" -c {container}" if container else "") + (" (previous)" if previous else "")
    place = where(ctx.cluster, namespace)
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
        kube=(KubeUse("read_pod_log"),),
    ),
)
