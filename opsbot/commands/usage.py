"""A command's usage, examples and help text, as a reply (for `help NAME` and usage errors)."""

from __future__ import annotations

from opsbot.commands.spec import CommandSpec
from opsbot.core.reply import Reply, Text


def usage_reply(spec: CommandSpec, problem: str | None = None) -> Reply:
    lines = [f"*Usage:* `{spec.usage}`", spec.summary]
    if spec.help:
        lines.append(spec.help)
    if spec.options:
        lines.append(
            "*Options:* "
            + ", ".join(
                f"`{'/'.join(o.flags)}{' ' + o.metavar if o.metavar else ''}` {o.help}" for o in spec.options
            )
        )
    if spec.examples:
        lines.append("*Examples:* " + "  ".join(f"`{example}`" for example in spec.examples))
    if spec.mutating:
        lines.append("_Changes the cluster: opsbot shows what will change and asks you to confirm._")
    title = f"`{spec.name}`: {problem}" if problem else f"Help: {spec.name}"
    return Reply(title, (Text("\n".join(lines)),), tone="warning" if problem else "info")
