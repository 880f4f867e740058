"""The registry of every command: lookup, parsing, and the tables that derive from the specs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from opsbot.commands.grammar import parse_arguments
from opsbot.commands.spec import CommandSpec, Execute, Invocation
from opsbot.commands.text import normalize, tokenize
from opsbot.errors import UnknownCommandError, UsageError
from opsbot.policy.decision import VerbGroups
from opsbot.policy.settings import Group

_GROUP_ORDER = {Group.READ: 0, Group.WRITE: 1, Group.ADMIN: 2}


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
        """Every command: `help` first, then reads, writes and admin commands, by name."""
        return sorted(
            self._specs.values(), key=lambda s: (s.name != "help", _GROUP_ORDER[s.group], s.name)
        )

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

    # derived tables ------------------------------------------------------------

    def verb_groups(self) -> VerbGroups:
        """The policy's groups: each command in the group it declares."""

        def named(group: Group) -> frozenset[str]:
            return frozenset(spec.name for spec in self._specs.values() if spec.group is group)

        return VerbGroups(
            read=named(Group.READ),
            write=named(Group.WRITE),
            admin=named(Group.ADMIN),
            unscoped=frozenset(spec.name for spec in self._specs.values() if not spec.uses_cluster),
        )

    def executor(self, verb: str) -> Execute:
        """How to run an approved plan of `verb` (a mutating command's name)."""
        spec = self._specs.get(verb)
        if spec is None or spec.execute is None:
            raise ValueError(f"unknown action {verb!r}")
        return spec.execute
