"""kubectl-like grammar: text → Invocation of a registered CommandSpec.

The parser raises (UsageError, UnknownCommandError) instead of printing; the router
turns those into a friendly reply carrying the command's own usage.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opsbot.commands.text import normalize, tokenize
from opsbot.errors import UnknownCommandError, UsageError

if TYPE_CHECKING:
    from opsbot.commands.context import CommandContext
    from opsbot.commands.results import ActionPlan, Reply

    Handler = Callable[["Invocation", CommandContext], Reply | ActionPlan]


@dataclass(frozen=True)
class Option:
    dest: str
    flags: tuple[str, ...]
    takes_value: bool = True
    metavar: str = ""
    help: str = ""


@dataclass(frozen=True)
class CommandSpec:
    """One command, as data: listable for `help`, visible to mypy."""

    name: str
    summary: str
    usage: str
    handler: Handler
    examples: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    min_args: int = 0
    max_args: int = 0
    aliases: tuple[str, ...] = ()
    mutating: bool = False
    uses_cluster: bool = True
    # Quick handlers over in-process state (no API calls) run on the event loop.
    on_loop: bool = False

    def option_for(self, flag: str) -> Option | None:
        for option in self.options:
            if flag in option.flags:
                return option
        return None


@dataclass(frozen=True)
class Invocation:
    spec: CommandSpec
    args: tuple[str, ...] = ()
    options: Mapping[str, str | bool] = field(default_factory=dict)
    text: str = ""

    def flag(self, dest: str) -> bool:
        return bool(self.options.get(dest, False))

    def value(self, dest: str) -> str | None:
        value = self.options.get(dest)
        return value if isinstance(value, str) else None


NAMESPACE = Option("namespace", ("-n", "--namespace"), metavar="NS", help="namespace")
ALL_NAMESPACES = Option(
    "all_namespaces", ("-A", "--all-namespaces"), takes_value=False, help="every namespace"
)
SELECTOR = Option("selector", ("-l", "--selector"), metavar="SEL", help="label selector")
CLUSTER = Option("cluster", ("--cluster",), metavar="NAME", help="cluster (default: channel's)")
HELP = Option("help", ("-h", "--help"), takes_value=False, help="show usage")


class Registry:
    def __init__(self, specs: Iterable[CommandSpec]) -> None:
        self._specs: dict[str, CommandSpec] = {}
        self._lookup: dict[str, CommandSpec] = {}
        for spec in specs:
            for word in (spec.name, *spec.aliases):
                if word in self._lookup:
                    raise ValueError(f"command word {word!r} registered twice")
                self._lookup[word] = spec
            self._specs[spec.name] = spec

    def specs(self) -> list[CommandSpec]:
        return list(self._specs.values())

    def find(self, word: str) -> CommandSpec | None:
        return self._lookup.get(word.lower())

    def suggestions(self, word: str) -> list[str]:
        matches = difflib.get_close_matches(word.lower(), self._lookup, n=3, cutoff=0.6)
        names: list[str] = []
        for match in matches:
            name = self._lookup[match].name
            if name not in names:
                names.append(name)
        return names

    def parse(self, text: str) -> Invocation:
        normalized = normalize(text)
        tokens = tokenize(normalized)
        if not tokens:
            help_spec = self.find("help")
            if help_spec is None:
                raise UsageError("empty command")
            return Invocation(help_spec, (), {}, normalized)
        word, rest = tokens[0], tokens[1:]
        spec = self.find(word)
        if spec is None:
            raise UnknownCommandError(word[:40], self.suggestions(word))
        return parse_arguments(spec, rest, normalized)


def parse_arguments(spec: CommandSpec, tokens: list[str], text: str = "") -> Invocation:
    options: dict[str, str | bool] = {}
    args: list[str] = []
    index = 0
    only_positionals = False
    while index < len(tokens):
        token = tokens[index]
        index += 1
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
        option = spec.option_for(flag)
        if option is None:
            raise UsageError(f"unknown option {flag[:40]!r} for `{spec.name}`", command=spec.name)
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
