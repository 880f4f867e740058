"""kubectl-like grammar: the words after a command's name → its Invocation.

The parser raises (UsageError) instead of printing; the router turns that into a
friendly reply carrying the command's own usage.
"""

from __future__ import annotations

from opsbot.commands.spec import HELP, CommandSpec, Invocation
from opsbot.errors import UsageError


def parse_arguments(spec: CommandSpec, tokens: list[str], text: str = "") -> Invocation:
    options: dict[str, str | bool] = {}
    args: list[str] = []
    index = 0
    only_positionals = False
    while index < len(tokens):
        token = tokens[index]
        index += 1
        worded = None if only_positionals else spec.option_for_word(token)
        if worded is not None:
            flag, value, option = token, None, worded
        else:
            if only_positionals or token == "-" or not token.startswith("-") or _is_number(token):
                args.append(token)
                continue
            if token == "--":
                only_positionals = True
                continue
            flag, value = _split_flag(token)
            if flag in HELP.flags:
                options["help"] = True
                continue
            found = spec.option_for(flag)
            if found is None:
                raise UsageError(f"unknown option {flag[:40]!r} for `{spec.name}`", command=spec.name)
            option = found
        if not option.takes_value:
            if value is not None:
                raise UsageError(f"option {flag} takes no value", command=spec.name)
            options[option.dest] = True
            continue
        if value is None:
            if index >= len(tokens):
                raise UsageError(f"option {flag} needs a value", command=spec.name)
            value = tokens[index]
            index += 1
        if option.dest in options:
            raise UsageError(f"option {flag} given twice", command=spec.name)
        options[option.dest] = value
    if options.get("help"):
        return Invocation(spec, tuple(args), options, text)
    if len(args) < spec.min_args:
        raise UsageError(f"`{spec.name}` needs more arguments", command=spec.name)
    if len(args) > spec.max_args:
        extra = " ".join(args[spec.max_args :])[:60]
        raise UsageError(f"unexpected argument(s) for `{spec.name}`: {extra}", command=spec.name)
    if options.get("all_namespaces") and "namespace" in options:
        raise UsageError("use either -n NAMESPACE or -A, not both", command=spec.name)
    return Invocation(spec, tuple(args), options, text)


def _is_number(token: str) -> bool:
    return token[1:].isdigit()


def _split_flag(token: str) -> tuple[str, str | None]:
    if token.startswith("--"):
        flag, sep, value = token.partition("=")
        return flag, (value if sep else None)
    # short flags: -n web, -nweb, -n=web
    if len(token) > 2:
        value = token[2:]
        return token[:2], value[1:] if value.startswith("=") else value
    return token, None
