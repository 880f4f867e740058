"""`audit [--user U] [--last N]`: the newest audit records, for admins (see policy)."""

from __future__ import annotations

import re

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CommandSpec, Invocation, Option
from opsbot.core import validation
from opsbot.core.reply import Mention, Reply, Table, Text
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
    rows = tuple(
        (
            str(record.get("at", ""))[:19].replace("T", " "),
            str(record.get("user_id", "")),
            str(record.get("kind", "")),
            str(record.get("command", ""))[:60],
            str(record.get("cluster") or "-"),
            str(record.get("namespace") or "-"),
            str(record.get("outcome", ""))[:50],
        )
        for record in records
    )
    table = Table(("WHEN (UTC)", "USER", "KIND", "COMMAND / ACTION", "CLUSTER", "NAMESPACE", "OUTCOME"), rows)
    return Reply(Text("Audit", who, f": last {len(records)}"), (table,))


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
        on_loop=True,
    ),
)
