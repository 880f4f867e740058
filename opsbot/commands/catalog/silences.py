"""`silence`, `silences`, `unsilence`: Alertmanager's silences from Slack.

`silence` is a permission like any other verb (the write group; name it in a role to grant
it alone). Each alert gets its own silence over its full label set.
"""

from __future__ import annotations

from datetime import timedelta

from opsbot.commands.context import CommandContext, SilencesView
from opsbot.commands.spec import CommandSpec, Invocation
from opsbot.commands.text import tokenize
from opsbot.core.durations import parse_duration
from opsbot.core.reply import Icon, Mono, Reply, Table, Text
from opsbot.errors import AlertmanagerError, InvalidNameError, UsageError
from opsbot.policy.settings import Group

DEFAULT_DURATION = timedelta(hours=2)
MAX_TARGETS = 50


def _view(ctx: CommandContext) -> SilencesView:
    if ctx.silences is None:
        raise UsageError("Alertmanager is not enabled on this opsbot (alertmanager.enabled in the config)")
    return ctx.silences


def _unavailable(exc: AlertmanagerError) -> Reply:
    return Reply("Alertmanager did not do it", (Text(str(exc)),), tone="error")


def _stamp(moment: object) -> str:
    return (
        str(moment.isoformat(timespec="minutes")).replace("+00:00", "Z")
        if hasattr(moment, "isoformat")
        else ""
    )


def parse_silence(text: str) -> tuple[list[str], timedelta, str]:
    """``silence A B [for 2h] [-- comment]`` → (targets, duration, comment)."""
    head, separator, comment = text.partition(" -- ")
    if not separator and head.endswith(" --"):
        head = head[:-3]
    words = tokenize(head)[1:]
    duration = DEFAULT_DURATION
    if "for" in words:
        at = words.index("for")
        if at + 2 != len(words):
            raise UsageError("say the duration last, e.g. `silence HighLatency for 2h`", command="silence")
        try:
            duration = parse_duration(words[at + 1])
        except ValueError as exc:
            raise UsageError(str(exc), command="silence") from None
        words = words[:at]
    if not words:
        raise UsageError("name an alert (its alertname or fingerprint)", command="silence")
    if len(words) > MAX_TARGETS:
        raise UsageError(f"at most {MAX_TARGETS} alerts at once", command="silence")
    for word in words:
        if not word.replace("_", "").replace(":", "").replace("-", "").isalnum() or len(word) > 200:
            raise InvalidNameError(f"{word[:40]!r} is not an alert name or fingerprint")
    return words, duration, comment.strip()[:500]


def silence(invocation: Invocation, ctx: CommandContext) -> Reply:
    targets, duration, comment = parse_silence(invocation.text)
    try:
        outcome = _view(ctx).silence(targets, duration, comment, ctx.request)
    except AlertmanagerError as exc:
        return _unavailable(exc)
    parts: list[Text | Table] = []
    if outcome.created:
        rows = tuple((s.id[:8], s.summary, _stamp(s.ends_at)) for s in outcome.created)
        parts.append(Table(("ID", "MATCHERS", "UNTIL"), rows[: ctx.settings.max_rows], total=len(rows)))
        parts.append(Text(Mono("unsilence ID"), " ends one early; ", Mono("silences"), " lists them all."))
    if outcome.not_found:
        parts.append(
            Text(
                Icon.WARNING,
                " No firing alert is called or has the fingerprint ",
                Text.join(", ", (Mono(t) for t in outcome.not_found)),
                ".",
            )
        )
    if not outcome.created:
        return Reply("Nothing silenced", tuple(parts), tone="error")
    return Reply(
        f"Silenced {len(outcome.created)} alert(s) for {invocation_duration(duration)}",
        tuple(parts),
        tone="success",
    )


def invocation_duration(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    return f"{hours:g}h" if hours >= 1 else f"{duration.total_seconds() / 60:g}m"


def silences(invocation: Invocation, ctx: CommandContext) -> Reply:
    try:
        found = _view(ctx).silences()
    except AlertmanagerError as exc:
        return _unavailable(exc)
    if not found:
        return Reply("Silences", (Text("Alertmanager has no active or pending silence."),))
    rows = tuple((s.id[:8], s.state, s.summary, _stamp(s.ends_at), s.created_by, s.comment) for s in found)
    table = Table(
        ("ID", "STATE", "MATCHERS", "UNTIL", "BY", "COMMENT"), rows[: ctx.settings.max_rows], total=len(rows)
    )
    return Reply("Silences", (table, Text(Mono("unsilence ID"), " ends one.")))


def unsilence(invocation: Invocation, ctx: CommandContext) -> Reply:
    silence_id = invocation.args[0]
    try:
        ended = _view(ctx).unsilence(silence_id, ctx.request)
    except AlertmanagerError as exc:
        return _unavailable(exc)
    if ended is None:
        return Reply(
            "No such silence",
            (
                Text(
                    "No single active silence starts with ",
                    Mono(silence_id),
                    "; ",
                    Mono("silences"),
                    " lists them.",
                ),
            ),
            tone="error",
        )
    return Reply("Silence ended", (Text(f"Alerts matching {ended.summary} notify again."),), tone="success")


COMMANDS = (
    CommandSpec(
        "silence",
        "Silence alerts in Alertmanager (one silence per alert, over its full label set)",
        "silence ALERTNAME|FINGERPRINT... [for DURATION] [-- COMMENT]",
        silence,
        group=Group.WRITE,
        examples=("silence HighLatency for 2h -- deploy in progress", "silence 3da0b9eab41a5090 for 30m"),
        min_args=1,
        max_args=MAX_TARGETS + 100,
        uses_cluster=False,
        help="Duration: 30m, 2h, 1d (default 2h). Alertmanager's createdBy is your Slack name; the "
        "comment links the alert's thread.",
    ),
    CommandSpec(
        "silences",
        "Alertmanager's active and pending silences",
        "silences",
        silences,
        uses_cluster=False,
    ),
    CommandSpec(
        "unsilence",
        "End an Alertmanager silence now",
        "unsilence SILENCE_ID",
        unsilence,
        group=Group.WRITE,
        examples=("unsilence 522b3550",),
        min_args=1,
        max_args=1,
        uses_cluster=False,
    ),
)
