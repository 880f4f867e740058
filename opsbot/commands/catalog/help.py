"""`help [COMMAND]`: every command, or one command's usage and examples."""

from __future__ import annotations

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import CommandSpec, Invocation
from opsbot.commands.usage import usage_reply
from opsbot.core.reply import Mono, Reply, Table, Text
from opsbot.errors import UnknownCommandError


def help_command(invocation: Invocation, ctx: CommandContext) -> Reply:
    registry = ctx.registry
    if invocation.args:
        spec = registry.find(invocation.args[0])
        if spec is None:
            raise UnknownCommandError(invocation.args[0][:40], registry.suggestions(invocation.args[0]))
        return usage_reply(spec)
    rows = tuple(
        (spec.name, spec.summary + (" (asks to confirm)" if spec.mutating else "")) for spec in registry.specs()
    )
    return Reply(
        "opsbot commands",
        (
            Table(("COMMAND", "WHAT IT DOES"), rows),
            Text(
                "Mention me with a command (",
                Mono("@opsbot pods -n web"),
                "), DM me, or use ",
                Mono("/opsbot"),
                " for a private answer. ",
                Mono("help COMMAND"),
                " shows usage and examples.",
            ),
        ),
    )


COMMANDS = (
    CommandSpec(
        "help",
        "List commands, or show one command's usage",
        "help [COMMAND]",
        help_command,
        examples=("help", "help logs"),
        max_args=1,
        uses_cluster=False,
        on_loop=True,
    ),
)
