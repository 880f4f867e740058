"""`events`: recent events, newest last; only warnings, or those of one object, or (without
``-n``, ``-A`` or ``--for``) those of your app (`use APP`): its workload, ReplicaSets and pods."""

from __future__ import annotations

from datetime import datetime

from opsbot.commands.appscoped import target
from opsbot.commands.context import CommandContext
from opsbot.commands.kinds import KIND_WORDS
from opsbot.commands.spec import (
    ALL_NAMESPACES,
    CLUSTER,
    NAMESPACE,
    CommandSpec,
    Invocation,
    KubeUse,
    Option,
    every_namespace,
)
from opsbot.core import kubeobjects as fmt
from opsbot.core import validation
from opsbot.core.durations import count, short_duration
from opsbot.core.reply import Reply, Strong, Table, Text, where
from opsbot.errors import UsageError
from opsbot.ports import KubeObject


def _involved_field_selector(target: str, namespace: str | None) -> str:
    kind_word, slash, name = target.partition("/")
    if not slash:
        raise UsageError("--for takes KIND/NAME, e.g. --for pod/api-7d9f", command="events")
    kind = KIND_WORDS.get(kind_word.lower())
    if kind is None:
        raise UsageError(
            f"unknown kind {kind_word[:30]!r} (pod, deploy, node, rs, sts, ds, job, svc)",
            command="events",
        )
    validation.object_name(name, kind=kind.lower())
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    if namespace and kind != "Node":
        selector += f",involvedObject.namespace={namespace}"
    return selector


def events(invocation: Invocation, ctx: CommandContext) -> Reply:
    selectors: list[str] = []
    about = invocation.value("for")
    if about:
        selectors.append(_involved_field_selector(about, ctx.namespace))
    if invocation.flag("warnings"):
        selectors.append("type=Warning")
    items = fmt.sort_events(ctx.kube.list_events(ctx.namespace, field_selector=",".join(selectors) or None))
    place: Text = where(ctx.cluster, ctx.namespace)
    title = "Warning events" if invocation.flag("warnings") else "Events"
    if about:
        title += f" for {about}"
    scope = target.list_app(invocation, ctx, "for")
    if scope is not None and scope.app is not None and scope.namespace is not None:
        app = target.find_app(ctx.kube, scope.cluster, scope.namespace, scope.app, kind=scope.app_kind)
        pods = {pod.name for pod in target.app_pods(ctx.kube, app)}
        items = [event for event in items if target.involves(event, app, pods)]
        title += f" of {app.name}"
        place = scope.header(app=True)
    if not items:
        return Reply(title, (Text("No events (Kubernetes keeps them for about an hour)."),), where=place)
    limit = ctx.settings.max_rows
    newest = items[-limit:]
    rows = [_event_row(event, ctx.now, with_namespace=ctx.namespace is None) for event in newest]
    columns: tuple[str, ...] = ("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
    if ctx.namespace is None:
        columns = ("NAMESPACE", *columns)
    table = Table(columns, tuple(rows), total=len(items), hint="Newest last; older events omitted.")
    warnings = sum(1 for event in items if event.get("type") == "Warning")
    return Reply(
        title,
        (Text(Strong(count(len(items), "event")), ", ", Strong(count(warnings, "warning"))), table),
        where=place,
        tone="warning" if warnings else "info",
    )


def _event_row(event: KubeObject, now: datetime, *, with_namespace: bool) -> tuple[str, ...]:
    involved = event.get("involvedObject") or {}
    moment = fmt.event_time(event)
    seen = short_duration(int((now - moment).total_seconds())) if moment else "<unknown>"
    count = int(event.get("count") or 1)
    if count > 1:
        seen += f" (x{count})"
    row = (
        seen,
        str(event.get("type", "")),
        str(event.get("reason", "")),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        fmt.clip(str(event.get("message", "")), 90),
    )
    return (fmt.namespace_of(event), *row) if with_namespace else row


COMMANDS = (
    CommandSpec(
        "events",
        "Recent events, optionally only warnings or for one object",
        "events [-n NS | -A] [--for KIND/NAME] [--warnings]",
        events,
        examples=("events", "events -n web", "events --warnings", "events --for pod/api-7d9f-x2k4p"),
        help="With an app in your context (`use APP`), `events` alone shows its events; -n, -A or --for others.",
        options=(
            NAMESPACE,
            ALL_NAMESPACES,
            Option("for", ("--for",), metavar="KIND/NAME", help="events of one object"),
            Option("warnings", ("--warnings", "-w"), takes_value=False, help="warnings only"),
            CLUSTER,
        ),
        aliases=("event", "ev"),
        kube=(KubeUse("list_events"), *target.KUBE),
        heavy=every_namespace,
    ),
)
