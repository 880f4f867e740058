"""`audit [--user U] [--last N]`: the newest audit records, for admins (see policy)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CommandSpec, Invocation, Option
from opsbot.core import validation
from opsbot.core.reply import Emphasis, Mention, Mono, Reply, Strong, Text
from opsbot.errors import InvalidNameError, UsageError
from opsbot.policy.settings import Group

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def audit(invocation: Invocation, ctx: CommandContext) -> Reply:
    if ctx.audit is None:
        raise UsageError("the audit trail is not available on this opsbot")
    user = invocation.value("user")
    if user is not None:
        # A Slack mention arrives as the bare id (see commands.text); "@U…" is typed by hand.
        user = user.removeprefix("@").upper()
        if not _USER_ID.fullmatch(user):
            raise InvalidNameError(f"{user[:30]!r} is not a Slack user id (U… or W…, or mention the person)")
    last_text = invocation.value("last")
    last = validation.bounded_int(last_text, what="--last", low=1, high=200) if last_text else 20
    records = ctx.audit.recent(user_id=user, last=last)
    who = Text(" by ", Mention(user)) if user else Text()
    if not records:
        return Reply(Text("Audit", who), (Text("No audit records."),))
    lines = [_line(record) for record in records]
    return Reply(Text("Audit", who, f": last {len(records)}"), (Text.join("\n", lines), Text(Emphasis("Times in UTC."))))


def _line(record: Mapping[str, object]) -> Text:
    """One record as two short lines: when, who, what and where; then the outcome."""
    when = str(record.get("at", ""))[:16].replace("T", " ")
    name = str(record.get("user_name") or "")
    who = Text(name, " (", Mono(str(record.get("user_id", ""))), ")") if name else Text(Mono(str(record.get("user_id", ""))))
    place = "/".join(str(part) for part in (record.get("cluster"), record.get("namespace")) if part)
    where = f" on {place}" if place else ""
    outcome = shorten(str(record.get("outcome", "")), 160)
    return Text(
        "• ", Strong(when), " · ", who, " · ", str(record.get("kind", "")), " · ",
        Mono(shorten(str(record.get("command", "")), 80)), where, "\n    → ", outcome,
    )  # fmt: skip


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return (cut if len(cut) > limit // 2 else text[: limit - 1]) + "…"


COMMANDS = (
    CommandSpec(
        "audit",
        "Who asked for what, who approved, what ran (admins)",
        "audit [--user USER] [--last N]",
        audit,
        group=Group.ADMIN,
        examples=("audit", "audit --user @alice --last 50"),
        options=(
            Option("user", ("--user", "-u"), metavar="USER", help="one person (mention or user id)"),
            Option("last", ("--last",), metavar="N", help="how many records (default 20)"),
        ),
        uses_cluster=False,
    ),
)
