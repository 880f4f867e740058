"""A command's usage, examples and help text, as a reply (for `help NAME` and usage errors)."""

from __future__ import annotations

from opsbot.commands.spec import CommandSpec
from opsbot.core.reply import Emphasis, Mono, Reply, Strong, Text, lines


def usage_reply(spec: CommandSpec, problem: str | None = None) -> Reply:
    """`problem`: what was wrong with the command as typed (plain text), for usage errors."""
    paragraph = [Text(Strong("Usage:"), " ", Mono(spec.usage)), Text(spec.summary)]
    if spec.help:
        paragraph.append(Text(spec.help))
    if spec.options:
        options = Text.join(
            ", ",
            (
                Text(Mono("/".join((*o.flags, *o.words)) + (" " + o.metavar if o.metavar else "")), " ", o.help)
                for o in spec.options
            ),
        )
        paragraph.append(Text(Strong("Options:"), " ", options))
    if spec.examples:
        paragraph.append(Text(Strong("Examples:"), " ", Text.join("  ", (Mono(e) for e in spec.examples))))
    for verb in spec.policy_verbs:
        paragraph.append(
            Text(Emphasis(verb.summary or verb.name, ": the policy grants it apart, as the "), Mono(verb.name),
                 Emphasis(f" verb ({verb.group.value} group)."))
        )
    if spec.mutating:
        paragraph.append(
            Text(Emphasis("Changes the cluster: opsbot shows what will change and asks you to confirm."))
        )
    title = Text(Mono(spec.name), ": ", problem) if problem else Text(f"Help: {spec.name}")
    return Reply(title, (lines(*paragraph),), tone="warning" if problem else "info")
