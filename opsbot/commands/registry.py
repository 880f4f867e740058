"""The registry of every command: lookup, parsing, and the tables that derive from the specs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from opsbot.commands.grammar import parse_arguments
from opsbot.commands.smalltalk import after_greeting, small_talk
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
        for spec in self._specs.values():
            for verb in spec.policy_verbs:
                if verb.name in self._lookup:
                    raise ValueError(f"policy verb {verb.name!r} of {spec.name!r} is also a command word")

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
        try:
            tokens = tokenize(normalized)
        except UsageError:
            talk = self._small_talk(normalized)  # "what's up" has an unclosed quote
            if talk is not None:
                return talk
            raise
        if not tokens:
            found = self._small_talk(normalized) or self._help(normalized)
            if found is None:
                raise UsageError("empty command")
            return found
        greeted = self._after_greeting(normalized)
        if greeted is not None:
            return greeted
        word, rest = tokens[0], tokens[1:]
        spec = self.find(word)
        if spec is None:
            talk = self._small_talk(normalized)
            if talk is not None:
                return talk
            after = after_greeting(normalized)  # "hi, pdos": the unknown word is `pdos`
            word = after.split()[0] if after else word
            raise UnknownCommandError(word[:40], self.suggestions(word))
        return parse_arguments(spec, rest, normalized)

    def _after_greeting(self, normalized: str) -> Invocation | None:
        """A command after a greeting ("hi, pods -n web")."""
        rest = after_greeting(normalized)
        if rest is None:
            return None
        try:
            tokens = tokenize(rest)
        except UsageError:
            return None
        spec = self.find(tokens[0]) if tokens else None
        return parse_arguments(spec, tokens[1:], rest) if spec is not None else None

    def _small_talk(self, normalized: str) -> Invocation | None:
        """Greetings and small talk: the command that answers them (`hello`, `status`)."""
        greeted = self._after_greeting(normalized)
        if greeted is not None:
            return greeted
        talk = small_talk(normalized)
        answer = self.find(talk.command) if talk is not None else None
        return Invocation(answer, (), {}, normalized) if answer is not None else None

    def _help(self, normalized: str) -> Invocation | None:
        spec = self.find("help")
        return Invocation(spec, (), {}, normalized) if spec is not None else None

    # derived tables ------------------------------------------------------------

    def verb_groups(self) -> VerbGroups:
        """The policy's groups: each command in the group it declares."""

        def named(group: Group) -> frozenset[str]:
            commands = {spec.name for spec in self._specs.values() if spec.group is group}
            verbs = {v.name for spec in self._specs.values() for v in spec.policy_verbs if v.group is group}
            return frozenset(commands | verbs)

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
