"""`history APP [--cluster C]`: the versions an app ran on each cluster, from opsbot's record."""

from __future__ import annotations

import time

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CLUSTER, CommandSpec, Invocation
from opsbot.core.durations import short_duration
from opsbot.core.reply import Emphasis, Mono, Reply, Strong, Table, Text
from opsbot.core.validation import object_name
from opsbot.errors import InvalidNameError, UserInputError
from opsbot.releases.ledger import history_lines, who


def _when(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


def history(invocation: Invocation, ctx: CommandContext) -> Reply:
    if ctx.releases is None:
        raise UserInputError("release history is not available here.")
    app = object_name(invocation.args[0], kind="app")
    cluster = invocation.value("cluster")
    clusters = ctx.fleet.clusters() if ctx.fleet is not None else [ctx.cluster]
    if cluster is not None and cluster not in clusters:
        raise InvalidNameError(
            f"unknown cluster {cluster[:40]!r}; configured clusters: {', '.join(clusters)}"
        )
    visible = [name for name in ([cluster] if cluster else clusters) if ctx.may(name, None)]
    records = [r for r in ctx.releases.versions(app=app, cluster=cluster, limit=200) if r.cluster in visible]
    place = Text(Text.join(", ", (Mono(name) for name in visible)))
    if not records:
        return Reply(
            f"History of {app}",
            (
                Text(
                    Emphasis(
                        f"No version of {app} recorded yet. opsbot records a version when its rollout "
                        "completes on a watched cluster (and who promoted it, when it did)."
                    )
                ),
            ),
            where=place,
        )
    now = ctx.now.timestamp()
    lines = history_lines(records, now)
    rows = tuple(
        (
            line.record.cluster,
            line.record.version + (" (running)" if line.current else ""),
            _when(line.record.available_at),
            short_duration(int(line.ran_for if line.ran_for is not None else now - line.record.available_at))
            + ("" if line.ran_for is not None else " so far"),
            who(line.record),
        )
        for line in sorted(lines, key=lambda item: (item.record.cluster, -item.record.available_at))
    )
    summary = Text(
        Strong(str(len({r.version for r in records}))),
        f" versions of {app} on ",
        Strong(str(len({r.cluster for r in records}))),
        " clusters, newest first. AVAILABLE is when its rollout completed.",
    )
    table = Table.first(("CLUSTER", "VERSION", "AVAILABLE", "RAN", "HOW"), rows, ctx.settings.max_rows)
    return Reply(f"History of {app}", (summary, table), where=place)


COMMANDS = (
    CommandSpec(
        "history",
        "Versions an app ran on each cluster: when, how long, who promoted",
        "history APP [--cluster NAME]",
        history,
        examples=("history podinfo", "history podinfo --cluster prod"),
        options=(CLUSTER,),
        min_args=1,
        max_args=1,
        help=(
            "Versions seen on each cluster: when each became fully available, how long it ran, and who "
            "promoted or rolled it back (and who approved) when that went through opsbot. Kept in "
            "opsbot's store, so it survives restarts."
        ),
    ),
)
