"""`incidents`, `mutes`, `unmute`: look at and steer the alert pipeline."""

from __future__ import annotations

from opsbot.alerts.incidents import Incident
from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CLUSTER, NAMESPACE, CommandSpec, Invocation
from opsbot.core.durations import short_duration
from opsbot.core.reply import Icon, Mono, Reply, Strong, Table, Text
from opsbot.errors import InvalidNameError
from opsbot.policy.settings import Group

ALERTS_OFF = Reply(
    "Alerts are off",
    (Text("This opsbot watches for no incidents: ", Mono("alerts.enabled"), " is false in its config."),),
)


def incidents(invocation: Invocation, ctx: CommandContext) -> Reply:
    namespace = invocation.value("namespace")
    cluster = invocation.value("cluster")
    view = ctx.alerts
    if view is None:
        return ALERTS_OFF
    items: list[Incident] = [
        incident
        for incident in view.open_incidents()
        if (namespace is None or incident.namespace == namespace)
        and (cluster is None or incident.cluster == cluster)
    ]
    if not items:
        return Reply("Open incidents", (Text(Icon.SUCCESS, " No open incidents."),))
    rows = tuple(
        (
            incident.ref,
            incident.kind.value,
            str(incident.workload),
            incident.namespace or "-",
            incident.cluster,
            str(len(incident.affected)),
            str(incident.restarts),
            ("≥" if not incident.since_exact else "")
            + short_duration(int((ctx.now - incident.started).total_seconds())),
        )
        for incident in items
    )
    limit = ctx.settings.max_rows
    table = Table(
        ("ID", "KIND", "WORKLOAD", "NAMESPACE", "CLUSTER", "PODS", "RESTARTS", "FAILING FOR"),
        rows[:limit],
        total=len(rows),
    )
    return Reply("Open incidents", (Text(Strong(str(len(items))), " open"), table), tone="warning")


def mutes(invocation: Invocation, ctx: CommandContext) -> Reply:
    view = ctx.alerts
    if view is None:
        return ALERTS_OFF
    active = view.active_mutes()
    if not active:
        return Reply("Mutes", (Text("Nothing is muted."),))
    rows = tuple(
        (
            mute.id,
            mute.label,
            mute.until.isoformat(timespec="minutes").replace("+00:00", "Z"),
            mute.by,
        )
        for mute in active
    )
    return Reply(
        "Mutes",
        (Table(("ID", "WHAT", "UNTIL", "BY"), rows), Text(Mono("unmute ID"), " removes one.")),
    )


def unmute(invocation: Invocation, ctx: CommandContext) -> Reply:
    mute_id = invocation.args[0]
    if not mute_id.isalnum() or len(mute_id) > 32:
        raise InvalidNameError(f"{mute_id[:40]!r} is not a mute id (see `mutes`)")
    view = ctx.alerts
    if view is None:
        return ALERTS_OFF
    removed = view.unmute(mute_id)
    if removed is None:
        return Reply(
            "No such mute",
            (
                Text(
                    "No active mute ",
                    Mono(mute_id),
                    " (nor one of that incident); ",
                    Mono("mutes"),
                    " lists them.",
                ),
            ),
            tone="error",
        )
    return Reply("Unmuted", (Text(f"Alerts for {removed.label} are no longer muted."),), tone="success")


COMMANDS = (
    CommandSpec(
        "incidents",
        "Open incidents (alerts) with their pods and restarts",
        "incidents [-n NS] [--cluster NAME]",
        incidents,
        examples=("incidents", "incidents -n web"),
        options=(NAMESPACE, CLUSTER),
        uses_cluster=False,
        aliases=("alerts",),
    ),
    CommandSpec("mutes", "Active alert mutes", "mutes", mutes, uses_cluster=False),
    CommandSpec(
        "unmute",
        "Remove an alert mute",
        "unmute MUTE_ID|INCIDENT_ID",
        unmute,
        group=Group.WRITE,
        examples=("unmute 3f9a1c2e", "unmute k7m2qx"),
        min_args=1,
        max_args=1,
        uses_cluster=False,
    ),
)
