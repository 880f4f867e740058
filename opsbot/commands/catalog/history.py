"""`history APP [--cluster C]`: the versions an app ran on each cluster, from opsbot's record."""

from __future__ import annotations

import time

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CLUSTER, CommandSpec, Invocation
from opsbot.core.durations import short_duration
from opsbot.core.reply import Emphasis, Mono, Reply, Strong, Table, Text
from opsbot.core.validation import object_name
from opsbot.errors import InvalidNameError, UserInputError
from opsbot.releases.errors import ReleaseError
from opsbot.releases.ledger import history_lines, who
from opsbot.releases.records import VersionRecord


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
    committed, notes = _unavailable_commits(ctx, app, visible, records)
    rows = (
        tuple(
            (
                line.record.cluster,
                line.record.version + (" (running)" if line.current else ""),
                _when(line.record.available_at),
                short_duration(
                    int(line.ran_for if line.ran_for is not None else now - line.record.available_at)
                )
                + ("" if line.ran_for is not None else " so far"),
                who(line.record),
            )
            for line in sorted(lines, key=lambda item: (item.record.cluster, -item.record.available_at))
        )
        + committed
    )
    summary = Text(
        Strong(str(len({r.version for r in records}))),
        f" versions of {app} on ",
        Strong(str(len({r.cluster for r in records}))),
        " clusters, newest first. AVAILABLE is when its rollout completed.",
    )
    table = Table.first(("CLUSTER", "VERSION", "AVAILABLE", "RAN", "HOW"), rows, ctx.settings.max_rows)
    return Reply(f"History of {app}", (summary, table, *notes), where=place)


def _unavailable_commits(
    ctx: CommandContext, app: str, clusters: list[str], records: list[VersionRecord]
) -> tuple[tuple[tuple[str, ...], ...], list[Text]]:
    """opsbot's commits (GitOps clusters) whose version never became available there: a
    failed or abandoned promotion is history too."""
    assert ctx.releases is not None
    rows: list[tuple[str, ...]] = []
    notes: list[Text] = []
    for cluster in clusters:
        if ctx.releases.settings.delivery(cluster).mode != "gitops":
            continue
        try:
            commits = ctx.releases.commits(app, cluster)
        except ReleaseError as exc:
            notes.append(Text(Emphasis(f"{cluster}: the repository could not be read ({exc})")))
            continue
        seen = [r for r in records if r.cluster == cluster]
        for entry in commits:
            if any(r.version == entry.to_version and r.available_at >= entry.committed_at - 60 for r in seen):
                continue
            rows.append(
                (
                    cluster,
                    f"{entry.to_version} (never available)",
                    "-",
                    "-",
                    f"{entry.action.value} by {entry.requested_by}, committed {_when(entry.committed_at)} ({entry.commit[:7]})",
                )
            )
    return tuple(rows), notes


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
